from typing import Any

from django import template
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .. import charts

register = template.Library()


@register.filter
def band_label(band: str) -> str:
    """A score band in words (reports.charts.band_label)."""
    return charts.band_label(band)


@register.filter
def stage_label(stage: str) -> str:
    """A funnel step in words (reports.charts.stage_label)."""
    return charts.stage_label(stage)


def number(value: float | int, decimals: int | None = None) -> str:
    """A number as the active language writes it, grouped by thousands (12,345.6)."""
    if decimals is not None:
        value = round(value, decimals)  # number_format cuts off; a rate rounds
    return formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)


def _hour_unit() -> str:
    return pgettext("hours, short", "h")


@register.filter
def num(value: Any) -> str:
    """A count, grouped by thousands in the active language; a dash when there is none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return number(value)


@register.filter
def pct(rate: float | None) -> str:
    """A fraction as a percentage with one decimal, or a dash when there is none."""
    if rate is None:
        return "—"
    return f"{number(100 * rate, 1)}%"


@register.filter
def hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{number(value, 1)} {_hour_unit()}"


@register.filter
def get(mapping: dict | None, key: Any) -> Any:
    return (mapping or {}).get(key)


@register.filter
def figure(value: Any, unit: str) -> str:
    """A review figure in its unit."""
    if unit == "rate":
        return pct(value)
    if unit == "hours":
        return hours(value)
    return num(value)


@register.filter
def change(value: Any, unit: str) -> str:
    """The change against the previous month, signed (percentage points for rates)."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else "+"
    if unit == "rate":
        points = pgettext("percentage points", "pt")
        return f"{sign}{number(abs(100 * value), 1)} {points}"
    if unit == "hours":
        return f"{sign}{number(abs(value), 1)} {_hour_unit()}"
    return f"{sign}{number(abs(value))}"


STATUS_LABELS = {
    "met": "✓ met",
    "missed": "✗ missed",
    "open": "… in progress",
    "no data": "no data",
    "no sla": "no SLA in force",
}


@register.filter
def status_label(status: str | None) -> str:
    labels = {
        "met": _("✓ met"),
        "missed": _("✗ missed"),
        "open": _("… in progress"),
        "no data": _("no data"),
        "no sla": _("no SLA in force"),
    }
    return labels.get(status or "", "")


@register.filter
def status_class(status: str | None) -> str:
    return (status or "").replace(" ", "-")
