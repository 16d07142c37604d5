from django import template

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
