"""Reporting tables: facts derived from the lifecycle history, and the monthly review's notes.

`MqlFact` and `LeadDay` hold nothing of their own: every row is recomputed from StageEvents,
hand-offs and leads (`reports.services`), so they can be dropped and rebuilt at any time
(`manage.py reports_rebuild`). They exist because a chart over a million leads must not scan
three million events: the facts are one narrow row per MQL with its outcome, its deadlines
and its latencies already worked out, dated in the reporting time zone.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from leads.models import Lead, StageEvent, Team

# Company size bands (employees, inclusive bounds); the URL's `size` takes these codes.
SIZE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("1-49", 1, 49),
    ("50-249", 50, 249),
    ("250-999", 250, 999),
    ("1000-4999", 1000, 4999),
    ("5000+", 5000, None),
)
SIZE_UNKNOWN = "unknown"
SIZE_BAND_CODES = tuple(code for code, _lo, _hi in SIZE_BANDS) + (SIZE_UNKNOWN,)


def size_band(employees: int | None) -> str:
    """The band code of a head count; a missing or zero count is "unknown"."""
    if not employees:
        return SIZE_UNKNOWN
    for code, low, high in SIZE_BANDS:
        if employees >= low and (high is None or employees <= high):
            return code
    return SIZE_UNKNOWN


# The segment filters' columns of MqlFact (reports.selectors.Filters).
FILTER_COLUMNS = ("source", "industry", "size_band", "team", "rep")


class MqlFact(models.Model):
    """One MQL (a lead's entry into the MQL stage) and what became of it.

    A lead rejected, recycled and qualified again has two rows: two MQLs in two cohorts.
    Outcomes come from the lead's StageEvents between this MQL and its next one; the
    deadlines, rep, team and first contact from the hand-off the SLA opened for it. The row
    is kept narrow (flags, whole seconds, only the deadlines still open): every chart scans
    a year of these, and the details stay in StageEvent and Handoff (mql_event is both keys).
    """

    mql_event = models.OneToOneField(
        StageEvent, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    mql_at = models.DateTimeField()
    # The MQL's date in the reporting time zone (reports.selectors.report_time_zone), and the
    # month and the week (its Monday) that contain it.
    mql_date = models.DateField()
    mql_month = models.DateField()
    mql_week = models.DateField()
    # The lead's attributes when its facts were last computed (at each stage change).
    source = models.CharField(max_length=100, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    size_band = models.CharField(max_length=12, default=SIZE_UNKNOWN)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Total score frozen on the MQL event by scoring (context["total"]); null if absent.
    score = models.FloatField(null=True, blank=True)
    # An SLA was in force at the MQL (it has a hand-off): false for history from before the
    # first SLA took effect, which has no deadlines and no place in marketing's targets.
    has_sla = models.BooleanField(default=True)
    accepted = models.BooleanField(default=False)
    # Imported history reached SQL (or recycle, disqualification) with no SAL recorded: sales
    # accepted at an unknown time. Neither accepted nor undecided; out of acceptance
    # rate and latency, in the conversion.
    accept_unrecorded = models.BooleanField(default=False)
    rejected = models.BooleanField(default=False)
    rejection_reason = models.CharField(max_length=40, blank=True)
    # The lead reached SQL in this hand-off (before any later MQL of the lead).
    reached_sql = models.BooleanField(default=False)
    # Whether each of sales' steps was done by its deadline; null while it is not done, or
    # when it does not apply (no first contact after a rejection, no qualifying without
    # acceptance, no deadlines without a hand-off).
    accept_on_time = models.BooleanField(null=True, blank=True)
    contact_on_time = models.BooleanField(null=True, blank=True)
    qualify_on_time = models.BooleanField(null=True, blank=True)
    # A step's deadline while it is still to do, so the selectors can tell whether it is
    # due by now; null once it is done or when it does not apply.
    accept_open_due_at = models.DateTimeField(null=True, blank=True)
    contact_open_due_at = models.DateTimeField(null=True, blank=True)
    qualify_open_due_at = models.DateTimeField(null=True, blank=True)
    # Whole seconds from MQL to acceptance and to first contact, in clock time and in the
    # business time of the hand-off's SLA calendar.
    accept_clock_s = models.IntegerField(null=True, blank=True)
    accept_business_s = models.IntegerField(null=True, blank=True)
    contact_clock_s = models.IntegerField(null=True, blank=True)
    contact_business_s = models.IntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("MQL fact")
        verbose_name_plural = _("MQL facts")
        indexes = [
            # Every chart reads a date range grouped by month: the index hands the rows over
            # in month order (no sort before the per-month percentiles), and rows arrive in
            # MQL order, so a range is a contiguous stretch of the table.
            models.Index(fields=["mql_month", "mql_date"], name="mqlfact_month_date_idx"),
            models.Index(fields=["lead"], name="mqlfact_lead_idx"),
            # The latency percentiles sort every value of the period; these let PostgreSQL
            # read the values (and the filters' columns) from a small index instead of the
            # table. Partial: only the hand-offs that have the latency.
            *(
                models.Index(
                    fields=["mql_month"],
                    include=["mql_date", business, clock, *FILTER_COLUMNS],
                    condition=models.Q(**{f"{business}__isnull": False}),
                    name=f"mqlfact_{step}_latency_idx",
                )
                for step, business, clock in (
                    ("accept", "accept_business_s", "accept_clock_s"),
                    ("contact", "contact_business_s", "contact_clock_s"),
                )
            ),
        ]

    def __str__(self) -> str:
        return f"MQL {self.mql_event_id} of lead {self.lead_id} on {self.mql_date}"


class LeadDay(models.Model):
    """New leads per day (reporting time zone) and segment: the top of the funnel.

    Leads are counted once, when `reports.services.lead_days_settle` passes their id; the
    leads above the settled id are counted live by the selector, so the figure is exact.
    """

    date = models.DateField()
    source = models.CharField(max_length=100, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    size_band = models.CharField(max_length=12, default=SIZE_UNKNOWN)
    leads = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["date", "source", "industry", "size_band"], name="leadday_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.source}/{self.industry}/{self.size_band}: {self.leads}"


class ReportState(models.Model):
    """Bookkeeping of the lead counts: the last settled lead id, and recent high-water marks.

    A lead id can commit after a higher one (two transactions), so only ids seen at least
    `LEAD_SETTLE_LAG` ago are settled; anything above is counted live.
    """

    lead_settled_id = models.BigIntegerField(default=0)
    # [[max lead id, ISO time it was seen], ...], oldest first.
    lead_marks = models.JSONField(default=list, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"leads settled to {self.lead_settled_id}"


class ReviewNote(models.Model):
    """A decision (or a note) recorded at a month's review, kept with that month."""

    class Kind(models.TextChoices):
        DECISION = "decision", _("Decision")
        NOTE = "note", _("Note")

    month = models.DateField(_("month"), help_text=_("The first day of the reviewed month."))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DECISION)
    text = models.TextField(_("text"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["month", "created_at", "id"]
        verbose_name = _("review note")
        verbose_name_plural = _("review notes")
        indexes = [models.Index(fields=["month"], name="reviewnote_month_idx")]
        permissions = [
            ("view_dashboard", _("Can see the dashboard and the monthly review")),
            ("edit_review", _("Can record decisions and action items of the monthly review")),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.text[:50]}"


class ActionItem(models.Model):
    """What someone agreed to do at a month's review, and by when."""

    month = models.DateField(_("month"), help_text=_("The first day of the reviewed month."))
    what = models.CharField(_("what"), max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="review_actions",
        verbose_name=_("who"),
    )
    due_on = models.DateField(_("by when"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["month", "id"]
        verbose_name = _("action item")
        verbose_name_plural = _("action items")
        indexes = [models.Index(fields=["month"], name="actionitem_month_idx")]

    def __str__(self) -> str:
        return self.what

    @property
    def is_done(self) -> bool:
        return self.done_at is not None
