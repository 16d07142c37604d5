"""Writing and delivering notifications.

Callers compose the words (in the recipient's language: `user_language`, `user_time`) and call
`notification_create` or `team_post` inside the transaction of the cause. Delivery (e-mail,
chat webhook) runs after commit on a worker; `notifications_redeliver` (beat) retries what a
broker outage or a dead worker left undelivered, and each delivery is claimed first, so a
retry never sends twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.request
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from core.tasks import delay_safely, enqueue_after_commit
from leads.models import Lead, Team

from .models import Notification

logger = logging.getLogger(__name__)

# A delivery claimed this long ago and not finished lost its worker: claim it again.
CLAIM_EXPIRES = dt.timedelta(minutes=2)
# The sweep leaves fresh rows to the task enqueued at commit.
SWEEP_GRACE = dt.timedelta(seconds=15)
MAX_ATTEMPTS = 5


def user_language(user: Any) -> str:
    return getattr(getattr(user, "profile", None), "language", "") or settings.LANGUAGE_CODE


def user_zone(user: Any, fallback: str = "") -> zoneinfo.ZoneInfo:
    """The user's own time zone, else `fallback` (where the team works), else the default."""
    name = getattr(getattr(user, "profile", None), "time_zone", "") or fallback
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def user_time(user: Any, at: dt.datetime, fallback_zone: str = "") -> str:
    """A moment as the user reads it: their zone, with the zone's name."""
    return at.astimezone(user_zone(user, fallback_zone)).strftime("%Y-%m-%d %H:%M %Z")


def site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _enqueue(notification: Notification) -> None:
    from .tasks import notification_deliver_task

    enqueue_after_commit(notification_deliver_task, notification.pk)


def notification_create(
    *,
    kind: str,
    user: Any,
    subject: str,
    body: str = "",
    lead: Lead | None = None,
    url: str = "",
    about: str = "",
) -> Notification:
    """Tell one person: in the app at once, by e-mail after commit."""
    notification = Notification.objects.create(
        kind=kind,
        channel=Notification.Channel.PERSON,
        user=user,
        lead=lead,
        about=about,
        url=url,
        subject=subject[:300],
        body=body,
    )
    _enqueue(notification)
    return notification


def team_post(
    *,
    kind: str,
    team: Team | None,
    text: str,
    lead: Lead | None = None,
    url: str = "",
    about: str = "",
) -> Notification | None:
    """Post to a team's chat channel, if the team has one."""
    if team is None or not team.slack_webhook_url:
        return None
    notification = Notification.objects.create(
        kind=kind,
        channel=Notification.Channel.SLACK,
        team=team,
        lead=lead,
        about=about,
        url=url,
        subject=text.splitlines()[0][:300] if text else "",
        body=text,
    )
    _enqueue(notification)
    return notification


def _claim(notification_id: int, now: dt.datetime) -> bool:
    return bool(
        Notification.objects.filter(
            Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_EXPIRES),
            pk=notification_id,
            delivered_at__isnull=True,
            attempts__lt=MAX_ATTEMPTS,
        ).update(claimed_at=now)
    )


def notification_deliver(*, notification_id: int) -> bool:
    """Deliver once: the row is claimed before anything leaves. A failure is recorded and
    the row released for a later attempt (up to MAX_ATTEMPTS)."""
    now = timezone.now()
    if not _claim(notification_id, now):
        return False
    note = Notification.objects.select_related("user", "team").get(pk=notification_id)
    try:
        if note.channel == Notification.Channel.SLACK:
            if note.team is None:
                raise ValueError("a chat notification without a team")
            request = urllib.request.Request(
                note.team.slack_webhook_url,
                data=json.dumps({"text": note.body}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                response.read()
        elif note.user is not None and note.user.email:
            body = note.body
            if note.url:
                body = f"{body}\n\n{site_url(note.url)}" if body else site_url(note.url)
            send_mail(note.subject, body, None, [note.user.email])
    except Exception as exc:  # noqa: BLE001 - a failed delivery is recorded and retried
        logger.warning("notification %s failed: %s", note.pk, exc)
        Notification.objects.filter(pk=note.pk).update(
            claimed_at=None, attempts=note.attempts + 1, error=str(exc)[:1000]
        )
        return False
    Notification.objects.filter(pk=note.pk).update(
        delivered_at=timezone.now(), attempts=note.attempts + 1, error=""
    )
    return True


def notifications_redeliver(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Enqueue every delivery still pending after a short grace (the broker was away, a
    worker died, a delivery failed). Safe to run twice: deliveries are claimed."""
    from .tasks import notification_deliver_task

    now = now or timezone.now()
    pending = Notification.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_EXPIRES),
        delivered_at__isnull=True,
        attempts__lt=MAX_ATTEMPTS,
        created_at__lt=now - SWEEP_GRACE,
    ).values_list("pk", flat=True)[:limit]
    count = 0
    for notification_id in pending:
        if not delay_safely(notification_deliver_task, notification_id):
            break  # the broker is still away; the next sweep tries again
        count += 1
    return count


def notifications_mark_read(*, user: Any, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notices read (these ids, or all). Returns how many changed."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())
