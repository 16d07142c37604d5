from .roles import ROLE_LABELS


def roles(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_role_labels": []}
    names = [g.name for g in user.groups.all()]
    return {"user_role_labels": [ROLE_LABELS.get(n, n) for n in names]}
