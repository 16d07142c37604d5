from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from leads.models import Lead, StageEvent, Team
from signoff.models import ApprovalBase, SignedVersionBase

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


def _weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


def _default_time_zone() -> str:
    return settings.TIME_ZONE


class SlaVersion(SignedVersionBase):
    """The agreement. Edited as a draft, signed by both sides, then read-only."""

    # The agreement's terms, grouped as the pages show them. Forms, the admin, copies, diffs
    # and history all derive their lists from these.
    CALENDAR_TERMS: ClassVar[tuple[str, ...]] = (
        "time_zone",
        "working_days",
        "day_start",
        "day_end",
        "holiday_country",
        "holiday_subdivision",
    )
    SALES_TERMS: ClassVar[tuple[str, ...]] = (
        "accept_within_hours",
        "first_contact_hot_minutes",
        "first_contact_hours",
        "qualify_within_days",
        "hot_score",
        "escalation_grace_minutes",
    )
    MARKETING_TERMS: ClassVar[tuple[str, ...]] = ("min_mqls_per_month", "min_acceptance_rate")
    TERMS: ClassVar[tuple[str, ...]] = CALENDAR_TERMS + SALES_TERMS + MARKETING_TERMS

    # When this version takes effect (an MQL is judged by the version in force at its time);
    # empty until publication, which fills it with the moment of publication.
    effective_from = models.DateTimeField(
        _("takes effect"),
        null=True,
        blank=True,
        help_text=_("Empty: when it is published."),
    )
    # Business calendar.
    time_zone = models.CharField(_("time zone"), max_length=64, default=_default_time_zone)
    working_days = models.JSONField(
        _("working days"), default=_weekdays, help_text=_("0 = Monday … 6 = Sunday")
    )
    day_start = models.TimeField(_("opens"), default=dt.time(9, 0))
    day_end = models.TimeField(_("closes"), default=dt.time(18, 0))
    holiday_country = models.CharField(
        _("public holidays of"),
        max_length=2,
        blank=True,
        help_text=_("Two-letter country code, e.g. JP, US, DE. Empty: none."),
    )
    holiday_subdivision = models.CharField(_("region"), max_length=10, blank=True)
    # Sales' side.
    accept_within_hours = models.FloatField(
        _("accept or reject within (business hours)"), default=4
    )
    first_contact_hot_minutes = models.PositiveIntegerField(
        _("first contact for hot and fast-tracked leads within (business minutes)"), default=30
    )
    first_contact_hours = models.FloatField(
        _("first contact for other leads within (business hours)"), default=8
    )
    qualify_within_days = models.PositiveIntegerField(
        _("qualify or recycle an accepted lead within (business days)"), default=10
    )
    hot_score = models.FloatField(
        _("hot from total score"),
        null=True,
        blank=True,
        help_text=_("Leads at or above this score get the hot first-contact deadline."),
    )
    escalation_grace_minutes = models.PositiveIntegerField(
        _("escalate to the sales manager after (minutes past a breach)"), default=60
    )
    # Marketing's side.
    min_mqls_per_month = models.PositiveIntegerField(_("MQLs per month, at least"), default=100)
    min_acceptance_rate = models.FloatField(_("acceptance rate, at least (%)"), default=70)
    history = HistoricalRecords()

    class Meta(SignedVersionBase.Meta):
        verbose_name = _("SLA")
        verbose_name_plural = _("SLAs")
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="draft"), name="one_sla_draft"
            )
        ]

    def __str__(self) -> str:
        return f"SLA v{self.number} ({self.get_status_display()})"


class ClosedDay(models.Model):
    """A company closing day on top of public holidays."""

    version = models.ForeignKey(SlaVersion, on_delete=models.CASCADE, related_name="closed_days")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["version", "date"], name="closed_day_once")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SlaApproval(ApprovalBase):
    version = models.ForeignKey(SlaVersion, on_delete=models.CASCADE, related_name="approvals")

    class Meta(ApprovalBase.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "user", "side"], name="sla_approval_once")
        ]


class RoutingRule(models.Model):
    """Picks the team for a new MQL; the first matching rule (by order) wins."""

    class Field(models.TextChoices):
        COUNTRY = "country", _("Country")
        INDUSTRY = "industry", _("Industry")
        EMPLOYEES = "employees", _("Company size (employees)")

    position = models.PositiveIntegerField(_("order"), default=0)
    name = models.CharField(_("name"), max_length=100)
    field = models.CharField(_("field"), max_length=20, choices=Field.choices)
    values = models.JSONField(
        _("values"),
        default=list,
        blank=True,
        help_text=_('Country or industry: a list such as ["Japan", "Korea"].'),
    )
    min_employees = models.PositiveIntegerField(_("from employees"), null=True, blank=True)
    max_employees = models.PositiveIntegerField(_("to employees"), null=True, blank=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="routing_rules")
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return self.name


class RoutingCounter(models.Model):
    """How many leads each rep of a team got, for fair (weighted) round-robin."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assigned = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="routing_counter_once")
        ]

    def __str__(self) -> str:
        return f"{self.team_id}/{self.user_id}: {self.assigned}"


class Handoff(models.Model):
    """One MQL handed to sales, with its deadlines computed in business time and stored."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for acceptance")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        CLOSED = "closed", _("Closed")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="handoffs")
    mql_event = models.OneToOneField(StageEvent, on_delete=models.CASCADE, related_name="handoff")
    sla_version = models.ForeignKey(SlaVersion, on_delete=models.PROTECT, related_name="handoffs")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="handoffs",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    hot = models.BooleanField(_("hot"), default=False)
    mql_at = models.DateTimeField(_("MQL at"))
    # Opened by imported history: judged by its SLA, but never notifies or escalates.
    imported = models.BooleanField(_("imported"), default=False)
    accept_due_at = models.DateTimeField(_("accept by"))
    first_contact_due_at = models.DateTimeField(_("first contact by"))
    qualify_due_at = models.DateTimeField(_("qualify by"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected"), null=True, blank=True)
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, blank=True)

    # Not stored: set by sla.selectors on the rows it shows (the queue, the lead page).
    deadline_kind: str
    deadline_label: StrOrPromise
    due: dt.datetime | None
    top_reasons: list[dict[str, Any]]
    breached: bool
    escalated: bool
    outcome_label: StrOrPromise

    class Meta:
        ordering = ["accept_due_at"]
        indexes = [
            models.Index(fields=["rep", "status"], name="handoff_rep_status_idx"),
            models.Index(fields=["status", "accept_due_at"], name="handoff_status_due_idx"),
            models.Index(fields=["mql_at"], name="handoff_mql_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} → {self.rep}"

    def next_deadline(self) -> tuple[str, dt.datetime | None] | None:
        """The deadline the rep works against now; its time is None while no qualify
        deadline is set (qualify_due_at is nullable)."""
        if self.status == self.Status.OPEN:
            return "accept", self.accept_due_at
        if self.status == self.Status.ACCEPTED:
            if self.first_contact_at is None:
                return "first_contact", self.first_contact_due_at
            return "qualify", self.qualify_due_at
        return None

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        deadline = self.next_deadline()
        return bool(deadline and deadline[1] and deadline[1] < (now or timezone.now()))


class Breach(models.Model):
    class Kind(models.TextChoices):
        ACCEPT = "accept", _("Accept or reject")
        FIRST_CONTACT = "first_contact", _("First contact")
        QUALIFY = "qualify", _("Qualify or recycle")

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="breaches")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    due_at = models.DateTimeField()
    detected_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at"]
        constraints = [
            # The sweep can run twice or in parallel: each deadline breaches once.
            models.UniqueConstraint(fields=["handoff", "kind"], name="breach_once")
        ]

    def __str__(self) -> str:
        return f"{self.handoff_id}: {self.kind}"


class Assignment(models.Model):
    """Every assignment and reassignment of a lead, with who and when."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    handoff = models.ForeignKey(
        Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.lead_id} → {self.user_id}"


class ContactLog(models.Model):
    class Channel(models.TextChoices):
        CALL = "call", _("Call")
        EMAIL = "email", _("E-mail")
        MEETING = "meeting", _("Meeting")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="contacts")
    handoff = models.ForeignKey(
        Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    at = models.DateTimeField(_("when"))
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.at:%Y-%m-%d %H:%M}"


class RejectionFix(models.Model):
    """Marketing's answer to a rejection for bad data: the lead's data is corrected. One per
    rejection (a second click finds it done); recycling is a stage change of its own."""

    event = models.OneToOneField(
        StageEvent, on_delete=models.CASCADE, related_name="fix", verbose_name=_("rejection")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("rejection fix")
        verbose_name_plural = _("rejection fixes")

    def __str__(self) -> str:
        return f"fix of {self.event_id}"
