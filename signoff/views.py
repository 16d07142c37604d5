"""One set of start / approve / publish views for every agreement.

Each agreement (scoring's rule sets, the SLA) describes itself with an `Agreement` and mounts
these views in its own urls.py with `{"agreement": ...}`, so both behave alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from .models import SignedVersionBase


@dataclass(frozen=True)
class Agreement:
    """What the shared views need to know about one agreement."""

    model: type[SignedVersionBase]
    overview_url: str
    view_perm: str
    edit_perm: str
    # Services: start(user=) -> draft; approve(version=, user=); publish(version=, user=) -> Any.
    start: Callable[..., Any]
    approve: Callable[..., Any]
    publish: Callable[..., Any]
    # Messages, each with %(n)d for the version number.
    started: str | Promise
    approved: str | Promise
    published: str | Promise
    no_draft_to_approve: str | Promise
    no_draft_to_publish: str | Promise
    # Where to go after publishing (given what publish returned); default the overview.
    after_publish: Callable[[Any], HttpResponse] | None = None
    # Tell the other side the draft is ready: request(version=, user=) -> how many were told.
    request: Callable[..., int] | None = None

    def draft(self) -> SignedVersionBase | None:
        return self.model._default_manager.filter(status="draft").first()


def _report(request: HttpRequest, exc: ValidationError | PermissionDenied) -> None:
    if isinstance(exc, PermissionDenied):
        messages.error(request, str(exc) or _("You are not allowed to do that."))
        return
    for message in exc.messages:
        messages.error(request, message)


@login_required
@require_POST
def draft_start(request: HttpRequest, agreement: Agreement) -> HttpResponse:
    if not request.user.has_perm(agreement.edit_perm):
        raise PermissionDenied
    draft = agreement.start(user=request.user)
    messages.success(request, str(agreement.started) % {"n": draft.number})
    return redirect(agreement.overview_url)


@login_required
@require_POST
def draft_approve(request: HttpRequest, agreement: Agreement) -> HttpResponse:
    if not request.user.has_perm(agreement.view_perm):
        raise PermissionDenied
    draft = agreement.draft()
    if draft is None:
        messages.error(request, str(agreement.no_draft_to_approve))
        return redirect(agreement.overview_url)
    try:
        agreement.approve(version=draft, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        _report(request, exc)
    else:
        messages.success(request, str(agreement.approved) % {"n": draft.number})
    return redirect(agreement.overview_url)


@login_required
@require_POST
def draft_publish(request: HttpRequest, agreement: Agreement) -> HttpResponse:
    if not request.user.has_perm(agreement.view_perm):
        raise PermissionDenied
    draft = agreement.draft()
    if draft is None:
        messages.error(request, str(agreement.no_draft_to_publish))
        return redirect(agreement.overview_url)
    try:
        result = agreement.publish(version=draft, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        _report(request, exc)
        return redirect(agreement.overview_url)
    messages.success(request, str(agreement.published) % {"n": draft.number})
    if agreement.after_publish is not None:
        return agreement.after_publish(result)
    return redirect(agreement.overview_url)


@login_required
@require_POST
def draft_request(request: HttpRequest, agreement: Agreement) -> HttpResponse:
    """The draft is ready: the other side's managers are told (in the app and by e-mail)."""
    if not request.user.has_perm(agreement.edit_perm) or agreement.request is None:
        raise PermissionDenied
    draft = agreement.draft()
    if draft is None:
        messages.error(request, str(agreement.no_draft_to_approve))
        return redirect(agreement.overview_url)
    told = agreement.request(version=draft, user=request.user)
    messages.success(
        request,
        ngettext(
            "%(count)d manager of the other side was asked to approve it.",
            "%(count)d managers of the other side were asked to approve it.",
            told,
        )
        % {"count": told},
    )
    return redirect(agreement.overview_url)
