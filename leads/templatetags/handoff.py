from django import template

register = template.Library()


@register.filter
def person(user) -> str:
    """A user's full name, else their username, else a dash."""
    if not user:
        return "—"
    return user.get_full_name() or user.get_username()
