"""Sign-off that people notice: when a draft is ready for approval, approved, withdrawn or
published, the other side's managers are told in the app and by e-mail, in their language,
with a link to the draft.

Written in the transaction of the cause (notifications.services delivers after commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from notifications.models import Notification
from notifications.services import notification_create, user_language

from .models import Side, SignedVersionBase
from .services import approval_sides

User = get_user_model()


@dataclass(frozen=True)
class Subject:
    """How an agreement names a draft in a notice, and where the notice links to."""

    # A lazy text with %(n)d, such as "the scoring draft v%(n)d": translated per recipient.
    draft_name: str | Promise
    url: str
    about: str


def side_managers(sides: list[str]) -> list[Any]:
    """Active people who sign for any of these sides."""
    if not sides:
        return []
    perms = Q()
    for side in sides:
        codename = f"approve_as_{side}"
        perms |= Q(
            groups__permissions__codename=codename,
            groups__permissions__content_type__app_label="signoff",
        ) | Q(
            user_permissions__codename=codename,
            user_permissions__content_type__app_label="signoff",
        )
    return list(User.objects.filter(perms, is_active=True).select_related("profile").distinct())


def other_side_managers(actor: Any) -> list[Any]:
    """The managers of the side(s) the actor does not sign for; everyone who signs, but the
    actor, when the actor signs for both or neither (an admin)."""
    mine = approval_sides(actor) if actor is not None else []
    others = [side for side in Side.values if side not in mine] or list(Side.values)
    return [u for u in side_managers(others) if actor is None or u.pk != actor.pk]


def _name(user: Any) -> str:
    if user is None:
        return _("Someone")
    return user.get_full_name() or user.get_username()


def _send(
    *,
    kind: str,
    version: SignedVersionBase,
    subject: Subject,
    actor: Any,
    recipients: list[Any],
    words: Any,
) -> list[Notification]:
    """`words(draft, who)` gives (subject, body) in the active language."""
    out = []
    for user in recipients:
        with translation.override(user_language(user)):
            draft = str(subject.draft_name) % {"n": version.number}
            title, body = words(draft, _name(actor))
        out.append(
            notification_create(
                kind=kind,
                user=user,
                subject=title,
                body=body,
                url=subject.url,
                about=subject.about,
            )
        )
    return out


def approval_requested(
    *, version: SignedVersionBase, subject: Subject, actor: Any
) -> list[Notification]:
    return _send(
        kind=Notification.Kind.APPROVAL_REQUESTED,
        version=version,
        subject=subject,
        actor=actor,
        recipients=other_side_managers(actor),
        words=lambda draft, who: (
            _("%(who)s asks you to approve %(draft)s") % {"who": who, "draft": draft},
            _("%(who)s says %(draft)s is ready. Read the changes and approve it for your side.")
            % {"who": who, "draft": draft},
        ),
    )


def approved(
    *, version: SignedVersionBase, subject: Subject, actor: Any, missing: list[str]
) -> list[Notification]:
    def words(draft: str, who: str) -> tuple[str, str]:
        title = _("%(who)s approved %(draft)s") % {"who": who, "draft": draft}
        if missing:
            labels = ", ".join(str(Side(s).label) for s in missing)
            body = _("Still waiting for: %(sides)s.") % {"sides": labels}
        else:
            body = _("Both sides have approved: it can be published.")
        return title, body

    return _send(
        kind=Notification.Kind.APPROVED,
        version=version,
        subject=subject,
        actor=actor,
        recipients=other_side_managers(actor),
        words=words,
    )


def withdrawn(
    *, version: SignedVersionBase, subject: Subject, actor: Any, approvers: list[Any]
) -> list[Notification]:
    """Approvals were withdrawn by an edit: those who had approved, and the other side."""
    recipients = {u.pk: u for u in other_side_managers(actor)}
    recipients.update({u.pk: u for u in approvers if actor is None or u.pk != actor.pk})
    return _send(
        kind=Notification.Kind.WITHDRAWN,
        version=version,
        subject=subject,
        actor=actor,
        recipients=list(recipients.values()),
        words=lambda draft, who: (
            _("%(draft)s changed: approvals withdrawn") % {"draft": draft},
            _("%(who)s changed %(draft)s after it was approved, so it needs approving again.")
            % {"who": who, "draft": draft},
        ),
    )


def published(*, version: SignedVersionBase, subject: Subject, actor: Any) -> list[Notification]:
    return _send(
        kind=Notification.Kind.PUBLISHED,
        version=version,
        subject=subject,
        actor=actor,
        recipients=other_side_managers(actor),
        words=lambda draft, who: (
            _("%(who)s published %(draft)s") % {"who": who, "draft": draft},
            _("It is in force from now on.") % {},
        ),
    )
