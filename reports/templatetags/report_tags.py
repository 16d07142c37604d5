from typing import Any

from django import template
from django.utils.translation import gettext as _

from .. import charts

register = template.Library()


@register.filter
def stage_label(stage: str) -> str:
    """A funnel step in words (reports.charts.stage_label)."""
    return charts.stage_label(stage)


@register.filter
def pct(rate: float | None) -> str:
    """A fraction as a percentage with one decimal, or a dash when there is none."""
    if rate is None:
        return "—"
    return f"{100 * rate:.1f}%"


@register.filter
def hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} h"


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
    return "—" if value is None else str(value)


@register.filter
def change(value: Any, unit: str) -> str:
    """The change against the previous month, signed (percentage points for rates)."""
    if value is None:
        return "—"
    if unit == "rate":
        return f"{100 * value:+.1f} pt"
    if unit == "hours":
        return f"{value:+.1f} h"
    return f"{value:+d}"


STATUS_LABELS = {
    "met": "✓ met",
    "missed": "✗ missed",
    "open": "… in progress",
    "no data": "no data",
}


@register.filter
def status_label(status: str | None) -> str:
    labels = {
        "met": _("✓ met"),
        "missed": _("✗ missed"),
        "open": _("… in progress"),
        "no data": _("no data"),
    }
    return labels.get(status or "", "")


@register.filter
def status_class(status: str | None) -> str:
    return (status or "").replace(" ", "-")
