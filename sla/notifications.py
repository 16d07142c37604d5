"""What reps and managers are told, in their language and time zone.

Each message is a Notification row written in the caller's transaction; the send happens
after commit in a Celery task that claims the row first, so a retry never sends twice.
"""

from __future__ import annotations

import json
import logging
import urllib.request
import zoneinfo
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from leads import roles

from .models import Breach, Handoff, Notification

logger = logging.getLogger(__name__)
User = get_user_model()


def _user_zone(user: Any, fallback: str) -> zoneinfo.ZoneInfo:
    """The user's own time zone, else the SLA calendar's (where the team works)."""
    name = getattr(getattr(user, "profile", None), "time_zone", "") or fallback
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _user_language(user: Any) -> str:
    return getattr(getattr(user, "profile", None), "language", "") or settings.LANGUAGE_CODE


def _when(user: Any, at, handoff: Handoff) -> str:
    zone = _user_zone(user, handoff.sla_version.time_zone)
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _lead_url(handoff: Handoff) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("leads:detail", args=[handoff.lead_id])


def _reasons(handoff: Handoff) -> list[str]:
    context = handoff.mql_event.context or {}
    lines = []
    for item in context.get("explanation", [])[:5]:
        points = item.get("points", 0)
        if item.get("kind") == "fast_track":
            lines.append(_("fast-track: %(rule)s") % {"rule": item["rule"]})
        elif points:
            lines.append(f"{item['rule']} ({points:+g})")
    return lines


def _queue(user: Any, kind: str, handoff: Handoff, subject: str, body: str) -> Notification:
    note = Notification.objects.create(
        kind=kind, user=user, handoff=handoff, channel="email", subject=subject, body=body
    )
    transaction.on_commit(lambda: _enqueue(note.pk))
    return note


def _enqueue(notification_id: int) -> None:
    from .tasks import send_notification_task

    send_notification_task.delay(notification_id)


def _slack(handoff: Handoff, text: str, kind: str) -> None:
    url = handoff.team.slack_webhook_url if handoff.team_id else ""
    if url:
        note = Notification.objects.create(
            kind=kind, user=None, handoff=handoff, channel="slack", subject=text[:300], body=text
        )
        transaction.on_commit(lambda: _enqueue(note.pk))


def handoff_assigned(*, handoff: Handoff, reassigned_by: Any = None) -> Notification | None:
    rep = handoff.rep
    if rep is None:
        return None
    lead = handoff.lead
    with translation.override(_user_language(rep)):
        subject = (
            _("Hot MQL for you: %(lead)s (%(company)s)")
            if handoff.hot
            else _("New MQL for you: %(lead)s (%(company)s)")
        ) % {"lead": lead.display_name, "company": lead.company.name if lead.company else "—"}
        lines = [
            _("Accept or reject by %(at)s.") % {"at": _when(rep, handoff.accept_due_at, handoff)},
            _("First contact by %(at)s.")
            % {"at": _when(rep, handoff.first_contact_due_at, handoff)},
            _("Score: %(total)s (fit %(fit)s, engagement %(engagement)s).")
            % {
                "total": f"{lead.total_score:g}",
                "fit": lead.fit_score,
                "engagement": f"{lead.engagement_score:g}",
            },
        ]
        reasons = _reasons(handoff)
        if reasons:
            lines.append(_("Why: %(reasons)s") % {"reasons": "; ".join(reasons)})
        if reassigned_by is not None:
            lines.append(
                _("Reassigned to you by %(user)s.")
                % {"user": reassigned_by.get_full_name() or reassigned_by.get_username()}
            )
        lines.append(_url_line(handoff))
        body = "\n".join(lines)
    note = _queue(rep, Notification.Kind.ASSIGNED, handoff, subject, body)
    _slack(handoff, f"{subject} → {rep.get_full_name() or rep.get_username()}\n{body}", note.kind)
    return note


def _url_line(handoff: Handoff) -> str:
    return _("Open the lead: %(url)s") % {"url": _lead_url(handoff)}


def breach(*, breach: Breach) -> Notification:
    handoff = breach.handoff
    rep = handoff.rep
    with translation.override(_user_language(rep)):
        subject = _("Deadline missed: %(step)s for %(lead)s") % {
            "step": breach.get_kind_display(),
            "lead": handoff.lead.display_name,
        }
        body = "\n".join(
            [
                _("It was due %(at)s.") % {"at": _when(rep, breach.due_at, handoff)},
                _url_line(handoff),
            ]
        )
    return _queue(rep, Notification.Kind.BREACH, handoff, subject, body)


def escalation(*, breach: Breach) -> list[Notification]:
    handoff = breach.handoff
    managers = User.objects.filter(is_active=True, groups__name=roles.SALES_MANAGER)
    if handoff.team_id:
        managers = managers.filter(profile__team_id=handoff.team_id)
    sent = []
    for manager in managers:
        with translation.override(_user_language(manager)):
            subject = _("Escalation: %(rep)s missed %(step)s for %(lead)s") % {
                "rep": handoff.rep.get_full_name() or handoff.rep.get_username()
                if handoff.rep
                else _("nobody"),
                "step": breach.get_kind_display(),
                "lead": handoff.lead.display_name,
            }
            body = "\n".join(
                [
                    _("It was due %(at)s and is still open.")
                    % {"at": _when(manager, breach.due_at, handoff)},
                    _url_line(handoff),
                ]
            )
        sent.append(_queue(manager, Notification.Kind.ESCALATION, handoff, subject, body))
    _slack(handoff, sent[0].subject if sent else str(breach), Notification.Kind.ESCALATION)
    return sent


def notification_send(*, notification_id: int) -> bool:
    """Send once: the row is claimed before anything leaves."""
    claimed = Notification.objects.filter(pk=notification_id, sent_at__isnull=True).update(
        sent_at=timezone.now()
    )
    if not claimed:
        return False
    note = Notification.objects.select_related("user", "handoff__team").get(pk=notification_id)
    try:
        if note.channel == "slack":
            url = note.handoff.team.slack_webhook_url
            request = urllib.request.Request(
                url,
                data=json.dumps({"text": note.body}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                response.read()
        elif note.user and note.user.email:
            send_mail(note.subject, note.body, None, [note.user.email])
    except Exception as exc:  # noqa: BLE001 - a failed delivery is recorded, not raised
        logger.warning("notification %s failed: %s", note.pk, exc)
        Notification.objects.filter(pk=note.pk).update(error=str(exc)[:1000])
        return False
    return True
