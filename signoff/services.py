"""Sign-off of versioned agreements (scoring rule sets, the SLA): one draft at a time, edited
by both teams, approved by a marketing and a sales role, then published read-only.

A versioned model here is a SignedVersionBase with `approvals` (ApprovalBase rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ApprovalBase, Side, SignedVersionBase

# Any agreement's version model; approve() and publish() hand the caller's own type back.
V = TypeVar("V", bound=SignedVersionBase)


def approval_sides(user: Any) -> list[str]:
    """The sides a user signs for (a marketing manager, a sales manager, or both)."""
    return [side for side in Side.values if user.has_perm(f"signoff.approve_as_{side}")]


def missing_sides(version: SignedVersionBase) -> list[str]:
    have = set(version.approvals.values_list("side", flat=True))
    return [side for side in settings.SCORING_REQUIRED_APPROVALS if side not in have]


def withdraw_on_edit(version: SignedVersionBase) -> int:
    """Any edit after an approval withdraws it. Returns how many approvals were withdrawn."""
    if not version.is_draft:
        raise ValidationError(_("Only a draft can be edited; published versions are read-only."))
    withdrawn, _rows = version.approvals.all().delete()
    return withdrawn


@transaction.atomic
def approve(
    *,
    version: V,
    user: Any,
    problems: Callable[[V], Any],
    unchanged: Callable[[V], bool] | None = None,
) -> list[ApprovalBase]:
    """Record the user's approval for each side they sign for, if the draft is valid.

    `problems(version)` returns what keeps the draft from being approved (empty if nothing).
    `unchanged(version)` says the draft is the same as the version in force: its author
    cannot approve that as a change.
    """
    version = type(version)._default_manager.select_for_update().get(pk=version.pk)
    if not version.is_draft:
        raise ValidationError(_("Only a draft can be approved."))
    sides = approval_sides(user)
    if not sides:
        raise PermissionDenied(_("You cannot approve this."))
    if unchanged is not None and version.created_by_id == user.pk and unchanged(version):
        raise ValidationError(
            _(
                "Draft v%(n)d is yours and has no changes from the version in force, so there "
                "is nothing for you to approve. Change something first."
            )
            % {"n": version.number}
        )
    found = problems(version)
    if found:
        raise ValidationError(found)
    approvals = version.approvals
    return [approvals.get_or_create(user=user, side=side)[0] for side in sides]


@transaction.atomic
def publish(*, version: V, user: Any) -> V:
    """Make the draft the version in force; the one before it retires. Needs every side."""
    model = type(version)
    version = model._default_manager.select_for_update().get(pk=version.pk)
    if not version.is_draft:
        raise ValidationError(_("This version is already published."))
    if not user.has_perm("signoff.publish_version"):
        raise PermissionDenied(_("You cannot publish this."))
    missing = missing_sides(version)
    if missing:
        labels = ", ".join(str(Side(side).label) for side in missing)
        raise ValidationError(_("Approval still needed from: %(sides)s.") % {"sides": labels})
    model._default_manager.filter(status="published").update(status="retired")
    version.status = "published"
    version.published_at, version.published_by = timezone.now(), user
    version.save(update_fields=["status", "published_at", "published_by"])
    return version
