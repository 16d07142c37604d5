from django import template

register = template.Library()


@register.filter
def rate(value: float | None) -> str:
    """A fraction as a percentage with one decimal, or a dash when there is none."""
    if value is None:
        return "—"
    return f"{100 * value:.1f}%"


@register.filter
def interval(bounds: tuple[float, float] | list[float] | None) -> str:
    """A confidence interval as "12.0–18.5%", or a dash."""
    if not bounds:
        return "—"
    return f"{100 * bounds[0]:.1f}–{100 * bounds[1]:.1f}%"
