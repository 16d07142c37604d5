from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.models import Lead, Team


class Notification(models.Model):
    """One thing Handoff told one person (shown in the app and sent by e-mail), or a team's
    chat channel (Slack-compatible webhook).

    The row is written in the transaction of whatever caused it, so a notice exists exactly
    when its cause committed. Delivery follows after commit; a sweep retries what is still
    undelivered, so a broker outage or a dead worker delays a notice but never loses it.
    """

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("New MQL assigned")
        REASSIGNED_AWAY = "reassigned_away", _("Lead reassigned to someone else")
        HOT = "hot", _("Lead became hot")
        DEADLINE_NEAR = "deadline_near", _("Deadline near")
        BREACH = "breach", _("Deadline missed")
        ESCALATION = "escalation", _("Escalation")
        APPROVAL_REQUESTED = "approval_requested", _("Approval requested")
        APPROVED = "approved", _("Draft approved")
        WITHDRAWN = "withdrawn", _("Approvals withdrawn")
        PUBLISHED = "published", _("New version in force")

    class Channel(models.TextChoices):
        PERSON = "person", _("In the app and by e-mail")
        SLACK = "slack", _("Team chat")

    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.PERSON
    )
    # The person told (channel "person"), or the team whose chat hears it (channel "slack").
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    # What it is about, for the app that wrote it ("handoff:12", "ruleset:4"): lookups and
    # de-duplication without this app knowing the models above it.
    about = models.CharField(_("about"), max_length=100, blank=True, db_index=True)
    # Where to go from the notice (a path inside Handoff).
    url = models.CharField(_("link"), max_length=500, blank=True)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    # Delivery by e-mail or to the chat: claimed, then delivered; retried while attempts last.
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_unread_idx"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(delivered_at__isnull=True),
                name="notification_undelivered_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.subject
