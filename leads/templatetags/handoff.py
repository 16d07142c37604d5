from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import formats, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.charts import plotly_config
from core.vendor import plotly_js_name
from leads import models

register = template.Library()


@register.filter
def person(user) -> str:
    """A user's full name, else their username, else a dash."""
    if not user:
        return "—"
    return user.get_full_name() or user.get_username()


@register.filter
def reason_label(code: str) -> str:
    """A stage event's reason code in words (rejection, recycle, scoring reasons)."""
    return models.reason_label(code)


@register.filter
def source_label(code: str | None) -> str:
    """A lead source in words (leads.models.source_label)."""
    return models.source_label(code)


@register.inclusion_tag("_plotly.html")
def plotly_scripts() -> dict:
    """plotly.js (versioned, gzipped), the user's locale for it, and the shared config
    (core.charts.plotly_config) as JSON for the page's chart script."""
    config = plotly_config(get_language())
    return {
        "plotly_js": plotly_js_name(),
        "locale_js": None
        if config["locale"] == "en"
        else f"js/plotly-locale-{config['locale']}.js",
        "config": config,
    }


def _grouped(value: Any, decimals: int = 0) -> str:
    return formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)


@register.filter
def number(value: Any) -> str:
    """A number as the user's language writes it: grouped, whole numbers without decimals,
    others with at most two; empty as a dash."""
    if value is None or value == "" or isinstance(value, bool):
        return "—" if value in (None, "") else yes_no(value)
    try:
        decimal = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not decimal.is_finite():
        return str(value)
    if decimal == decimal.to_integral_value():
        return _grouped(int(decimal))
    return _grouped(decimal.quantize(Decimal("0.01")).normalize(), 2).rstrip("0").rstrip(".,")


@register.filter
def money(value: Any) -> str:
    """An amount (no currency is recorded): grouped, and its size in words the user's
    language uses (2.85 billion; 28.5億)."""
    if value is None or value == "":
        return "—"
    text = number(value)
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return text
    compact = _compact(amount)
    return f"{text} ({compact})" if compact else text


def _compact(amount: float) -> str:
    size = abs(amount)
    if translation.get_language() == "ja":
        units = [(10**12, "兆"), (10**8, "億"), (10**4, "万")]
        for unit, word in units:
            if size >= unit and unit >= 10**8:
                return f"{_grouped(round(amount / unit, 1), 1).rstrip('0').rstrip('.')}{word}"
        return ""
    steps = [
        (10**12, _("%(n)s trillion")),
        (10**9, _("%(n)s billion")),
        (10**6, _("%(n)s million")),
    ]
    for unit, words in steps:
        if size >= unit:
            return words % {"n": _grouped(round(amount / unit, 2), 2).rstrip("0").rstrip(".")}
    return ""


@register.filter
def yes_no(value: Any) -> str:
    """True/False as Yes/No in the user's language (はい/いいえ); unknown as a dash."""
    if value is None or value == "":
        return "—"
    return str(_("Yes") if value else _("No"))


@register.filter
def attr_value(value: Any) -> str:
    """A custom attribute's value in words: yes/no, grouped numbers, lists joined."""
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, int | float | Decimal):
        return number(value)
    if isinstance(value, list):
        return ", ".join(attr_value(v) for v in value) if value else "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {attr_value(v)}" for k, v in value.items()) if value else "—"
    if value is None or value == "":
        return "—"
    return str(value)
