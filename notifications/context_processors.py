from typing import Any

from .selectors import unread_count


def unread(request: Any) -> dict[str, int]:
    """The bell's count in every page's header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notifications": 0}
    return {"unread_notifications": unread_count(user=user)}
