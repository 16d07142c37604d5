from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


class Stage(models.TextChoices):
    LEAD = "lead", _("Lead")
    MQL = "mql", _("MQL")
    SAL = "sal", _("SAL")
    SQL = "sql", _("SQL")
    REJECTED = "rejected", _("Rejected")
    RECYCLED = "recycled", _("Recycled")
    DISQUALIFIED = "disqualified", _("Disqualified")


# The lifecycle agreed by marketing and sales. Every stage change is checked against it.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Stage.LEAD: frozenset({Stage.MQL}),
    Stage.MQL: frozenset({Stage.SAL, Stage.REJECTED}),
    Stage.SAL: frozenset({Stage.SQL, Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.SQL: frozenset(),
    Stage.REJECTED: frozenset({Stage.RECYCLED}),
    Stage.RECYCLED: frozenset({Stage.MQL}),
    Stage.DISQUALIFIED: frozenset(),
}

# Stages a history may pass through without recording them: another tool's export often
# holds only some dates (an MQL date and a won date), and the lead did pass through the
# rest. A rejection is never implied: it has a reason, and nobody can know it.
IMPLIED_STAGES = frozenset({Stage.MQL, Stage.SAL})


def _history_transitions() -> dict[str, frozenset[str]]:
    """Forward paths of the lifecycle that skip implied stages (MQL → SQL with no SAL,
    Lead → SQL): what an imported history may record, besides every strict step."""
    paths: dict[str, frozenset[str]] = {}
    for start in ALLOWED_TRANSITIONS:
        reached: set[str] = set()
        frontier = [start]
        while frontier:
            for nxt in ALLOWED_TRANSITIONS[frontier.pop()]:
                if nxt not in reached and nxt != start:
                    reached.add(nxt)
                    if nxt in IMPLIED_STAGES:
                        frontier.append(nxt)
        paths[start] = frozenset(reached)
    return paths


# Imported history only; live actions keep ALLOWED_TRANSITIONS.
HISTORY_TRANSITIONS: dict[str, frozenset[str]] = _history_transitions()


class RejectionReason(models.TextChoices):
    NOT_A_FIT = "not_a_fit", _("Not a fit")
    STUDENT = "student", _("Student")
    COMPETITOR = "competitor", _("Competitor")
    NO_BUDGET = "no_budget", _("No budget")
    BAD_DATA = "bad_data", _("Bad data")
    DUPLICATE = "duplicate", _("Duplicate")
    EXISTING_CUSTOMER = "existing_customer", _("Existing customer")
    OTHER = "other", _("Other")


class RecycleReason(models.TextChoices):
    NOT_READY = "not_ready", _("Not ready to buy yet")
    NO_RESPONSE = "no_response", _("No response")
    TIMING = "timing", _("Wrong timing")
    NURTURE = "nurture", _("Needs more nurturing")
    OTHER = "other", _("Other")


class DisqualifyReason(models.TextChoices):
    NO_BUDGET = "no_budget", _("No budget")
    NO_AUTHORITY = "no_authority", _("No decision authority")
    NO_NEED = "no_need", _("No need")
    NO_TIMELINE = "no_timeline", _("No timeline")
    COMPETITOR = "competitor", _("Chose a competitor")
    OTHER = "other", _("Other")


class MqlReason(models.TextChoices):
    """Why scoring made a lead an MQL."""

    THRESHOLD = "threshold", _("Score reached the threshold")
    FAST_TRACK = "fast_track", _("Fast-track")


def rejection_reasons() -> list[tuple[str, str]]:
    """The rejection reasons sales may give (settings.HANDOFF_REJECTION_REASONS narrows them)."""
    codes = getattr(settings, "HANDOFF_REJECTION_REASONS", None) or RejectionReason.values
    labels = dict(RejectionReason.choices)
    return [(code, str(labels.get(code, code))) for code in codes]


def reason_label(code: str) -> str:
    """A stage event's reason code in words, whichever action recorded it."""
    if not code:
        return ""
    for choices in (RejectionReason, RecycleReason, DisqualifyReason, MqlReason):
        if code in choices.values:
            return str(choices(code).label)
    return code


# The usual lead sources, in words. A source is free text (whatever the CRM, the form or the
# import says); one we do not know is shown as recorded, underscores as spaces.
SOURCE_LABELS = {
    "webinar": _("Webinar"),
    "organic_search": _("Organic search"),
    "paid_search": _("Paid search"),
    "referral": _("Referral"),
    "events": _("Events"),
    "event": _("Event"),
    "content_syndication": _("Content syndication"),
    "partner": _("Partner"),
    "email": _("Email"),
    "social": _("Social media"),
    "direct": _("Direct"),
    "website": _("Website"),
}


def source_label(code: str | None) -> str:
    """A lead source in words, in the active language."""
    if not code:
        return str(_("(no source)"))
    label = SOURCE_LABELS.get(code)
    if label is not None:
        return str(label)
    words = code.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if code == code.lower() else words


class Seniority(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    IC = "individual", _("Individual contributor")
    MANAGER = "manager", _("Manager")
    DIRECTOR = "director", _("Director")
    VP = "vp", _("VP")
    C_LEVEL = "c_level", _("C-level")
    OWNER = "owner", _("Owner / founder")


class ActivityKind(models.TextChoices):
    PAGE_VIEW = "page_view", _("Page view")
    CONTENT_DOWNLOAD = "content_download", _("Content download")
    NEWSLETTER_SIGNUP = "newsletter_signup", _("Newsletter signup")
    WEBINAR_REGISTRATION = "webinar_registration", _("Webinar registration")
    WEBINAR_ATTENDANCE = "webinar_attendance", _("Webinar attendance")
    INQUIRY = "inquiry", _("Inquiry form")
    FORM_SUBMIT = "form_submit", _("Form submission")
    DEMO_REQUEST = "demo_request", _("Demo request")
    CONTACT_SALES = "contact_sales", _("Contact sales")
    FREE_TRIAL = "free_trial", _("Free trial")
    EMAIL_OPEN = "email_open", _("E-mail open")
    EMAIL_CLICK = "email_click", _("E-mail click")
    OTHER = "other", _("Other")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    # Optional Slack-compatible incoming webhook that hears about this team's hand-offs.
    slack_webhook_url = models.URLField(_("Slack webhook URL"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    """What a person prefers and where they sit; one row per user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES)
    # Routing: reps marked away get no new leads; weight 2 gets twice the share of weight 1.
    is_away = models.BooleanField(_("away"), default=False)
    routing_weight = models.PositiveSmallIntegerField(_("routing weight"), default=1)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return str(self.user)


class Company(models.Model):
    # The lists every way in, the scoring engine and the pages share.
    TEXT_FIELDS: ClassVar[tuple[str, ...]] = ("name", "domain", "industry", "country")
    NUMBER_FIELDS: ClassVar[tuple[str, ...]] = ("employees", "annual_revenue")
    BOOL_FIELDS: ClassVar[tuple[str, ...]] = ("listed",)
    # What a lead's input (API, CSV, webhook) may set on its company besides name and domain.
    PROFILE_FIELDS: ClassVar[tuple[str, ...]] = (
        "industry",
        "employees",
        "annual_revenue",
        "listed",
    )

    name = models.CharField(_("name"), max_length=255)
    domain = models.CharField(_("domain"), max_length=255, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    annual_revenue = models.DecimalField(
        _("annual revenue"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    listed = models.BooleanField(_("listed"), null=True, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.UniqueConstraint(
                Lower("domain"),
                condition=~models.Q(domain=""),
                name="company_domain_unique_ci",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Lead(models.Model):
    # Who the lead is, as every way in sets it and scoring reads it (all text).
    PROFILE_FIELDS: ClassVar[tuple[str, ...]] = (
        "first_name",
        "last_name",
        "title",
        "seniority",
        "department",
        "phone",
        "country",
        "source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    )

    email = models.EmailField(_("e-mail"), max_length=254)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    title = models.CharField(_("job title"), max_length=200, blank=True)
    seniority = models.CharField(
        _("seniority"), max_length=20, blank=True, choices=Seniority.choices
    )
    department = models.CharField(_("department"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=200, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=200, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=200, blank=True)
    utm_term = models.CharField(_("UTM term"), max_length=200, blank=True)
    utm_content = models.CharField(_("UTM content"), max_length=200, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    custom = models.JSONField(_("custom attributes"), default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
    )
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.LEAD)
    stage_changed_at = models.DateTimeField(_("stage changed"), null=True, blank=True)
    # Filled by scoring; kept on the row so queues and lists sort without a join.
    fit_score = models.IntegerField(_("fit score"), default=0)
    engagement_score = models.FloatField(_("engagement score"), default=0.0)
    total_score = models.FloatField(_("total score"), default=0.0)
    scored_at = models.DateTimeField(_("scored"), null=True, blank=True)
    # Why the lead can never become MQL (an exclusion rule's name), or "" if it can.
    excluded_reason = models.CharField(_("excluded because"), max_length=200, blank=True)
    # A fast-track activity (demo request, contact sales) qualifies the lead on its own.
    fast_tracked = models.BooleanField(_("fast-tracked"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # Set when the source system deleted the contact; the history stays.
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True)
    # Durable intent: since when the score is out of date (attributes or activities changed,
    # or a bulk pass found it crossing), set in the same transaction as the change. Cleared
    # once the lead is rescored (and made an MQL if it qualifies); a sweep re-enqueues leads
    # still stale after a short delay, so a broker outage or a dead worker loses nothing.
    score_stale_since = models.DateTimeField(_("score out of date since"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="lead_email_unique_ci"),
        ]
        indexes = [
            models.Index(fields=["stage", "-total_score"], name="lead_stage_score_idx"),
            models.Index(fields=["owner", "stage"], name="lead_owner_stage_idx"),
            models.Index(fields=["source"], name="lead_source_idx"),
            models.Index(
                fields=["score_stale_since"],
                condition=Q(score_stale_since__isnull=False),
                name="lead_score_stale_idx",
            ),
        ]
        permissions = [
            ("view_all_leads", _("Can see every lead")),
            ("view_team_leads", _("Can see the leads of their team")),
            ("import_leads", _("Can import leads from CSV")),
            ("accept_lead", _("Can accept or reject MQLs")),
            ("qualify_lead", _("Can log contacts and qualify or recycle leads")),
            ("reassign_lead", _("Can reassign leads")),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email

    def can_transition_to(self, to_stage: str, *, history: bool = False) -> bool:
        """The lifecycle allows the step; `history` (an import of past events) also allows
        forward paths that skip the implied stages (see HISTORY_TRANSITIONS)."""
        allowed = HISTORY_TRANSITIONS if history else ALLOWED_TRANSITIONS
        return to_stage in allowed.get(self.stage, frozenset())


class LeadIdentity(models.Model):
    """A lead's id in another system (a Mautic contact id, a CRM id)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="identities")
    source_system = models.CharField(max_length=50)
    external_id = models.CharField(max_length=200)
    # When the latest event of this contact that was applied happened (in the other system's
    # clock): an older event, replayed or retried out of order, never overwrites newer data.
    last_event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_system", "external_id"], name="lead_identity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_system}:{self.external_id}"


class Activity(models.Model):
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="activities"
    )
    kind = models.CharField(_("kind"), max_length=40, choices=ActivityKind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    source_system = models.CharField(_("source system"), max_length=50, default="api")
    # Unique per source system, so a resend of the same event creates nothing.
    external_id = models.CharField(_("external id"), max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.UniqueConstraint(
                fields=["source_system", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="activity_external_id_unique",
            )
        ]
        indexes = [
            # Covering index: bulk rescoring reads a chunk's activities from the index alone.
            models.Index(
                fields=["lead", "occurred_at"],
                include=["kind"],
                name="activity_lead_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.occurred_at:%Y-%m-%d %H:%M}"


# The four questions a rep answers when qualifying a lead to SQL, in the order people say them.
BANT_LABELS = (
    ("budget", _("Budget")),
    ("authority", _("Authority")),
    ("need", _("Need")),
    ("timeline", _("Timeline")),
)


class StageEvent(models.Model):
    """Append-only lifecycle history. Every report derives from these rows."""

    class Origin(models.TextChoices):
        APP = "app", _("Handoff")
        API = "api", _("API")
        IMPORT = "import", _("CSV import")
        WEBHOOK = "webhook", _("Webhook")
        SYSTEM = "system", _("System")

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="stage_events"
    )
    from_stage = models.CharField(_("from"), max_length=20, choices=Stage.choices)
    to_stage = models.CharField(_("to"), max_length=20, choices=Stage.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    # Null actor means the system (scoring, import, a sweep); origin says which.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    origin = models.CharField(
        _("origin"), max_length=20, choices=Origin.choices, default=Origin.APP
    )
    reason = models.CharField(_("reason"), max_length=40, blank=True)
    note = models.TextField(_("note"), blank=True)
    # Imported history that went here from from_stage without recording the stages between
    # (an SQL straight from MQL: the acceptance happened but was never recorded).
    skipped = models.BooleanField(_("skipped steps"), default=False)
    # The rule-set version that made the lead an MQL, and why (frozen explanation).
    ruleset_version = models.PositiveIntegerField(_("rule-set version"), null=True, blank=True)
    context = models.JSONField(_("context"), default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("stage event")
        verbose_name_plural = _("stage events")
        indexes = [
            models.Index(fields=["to_stage", "at"], name="stageevent_stage_at_idx"),
            models.Index(fields=["lead", "at"], name="stageevent_lead_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage} → {self.to_stage}"

    @property
    def bant(self) -> list[tuple[str, str, str]]:
        """The BANT answers given when qualifying to SQL, as (key, label, answer), in order."""
        answers = (self.context or {}).get("bant") if self.to_stage == Stage.SQL else None
        if not isinstance(answers, dict):
            return []
        return [
            (key, str(label), str(answers[key])) for key, label in BANT_LABELS if key in answers
        ]

    @property
    def actor_label(self) -> str:
        if self.actor is not None:
            return self.actor.get_full_name() or self.actor.get_username()
        return str(self.get_origin_display())


class ImportJob(models.Model):
    class Status(models.TextChoices):
        # Uploaded; the wizard's mapping step has not queued it yet.
        DRAFT = "draft", _("Waiting for its mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    mapping = models.JSONField(_("mapping"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    total_rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    processed_rows = models.PositiveIntegerField(_("processed"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)
    # The first rejections with line numbers; the count above is the full total, and every
    # rejected row is an ImportProblem.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    # The file's text encoding (a key of importing.encoding.ENCODINGS), detected on upload.
    encoding = models.CharField(_("encoding"), max_length=20, default="utf-8")
    # The file's header line, so the rejected rows download with their own column names.
    header = models.JSONField(_("header"), default=list, blank=True)
    failure = models.TextField(_("failure"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched after every chunk; a running job whose heartbeat stops was on a dead worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return self.original_name

    @property
    def status_text(self) -> str:
        """The status in words, with the rejections when there were any: a job whose every
        row was rejected must not read as a plain "Done"."""
        if self.status == self.Status.DONE and self.rejected_count:
            if not (self.created_count or self.updated_count):
                return _("Done, nothing imported: all %(count)s rows rejected") % {
                    "count": number_format(self.rejected_count, force_grouping=True)
                }
            return ngettext(
                "Done, %(count)s rejected", "Done, %(count)s rejected", self.rejected_count
            ) % {"count": number_format(self.rejected_count, force_grouping=True)}
        return str(self.get_status_display())


class SavedMapping(models.Model):
    """A column mapping kept for the next file of the same shape (a monthly export)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    mapping = models.JSONField(_("mapping"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved mapping")
        verbose_name_plural = _("saved mappings")

    def __str__(self) -> str:
        return self.name


class ImportProblem(models.Model):
    """One rejected row of an import, kept whole: every one, not only the first shown."""

    job = models.ForeignKey(
        ImportJob, verbose_name=_("import"), on_delete=models.CASCADE, related_name="problems"
    )
    line = models.PositiveIntegerField(_("line"))
    # The file's column names to blame, comma-separated ("" when no one column is).
    column = models.CharField(_("column"), max_length=1000, blank=True)
    reason = models.TextField(_("reason"))
    # {mapping target: [reasons]}: what the rejected-rows file and tools read.
    errors = models.JSONField(_("errors"), default=dict, blank=True)
    # The row's lead was imported; only the history steps named in `errors` were left out.
    row_imported = models.BooleanField(_("lead imported"), default=False)
    # The row's cells as the file has them, in the order of the job's header.
    cells = models.JSONField(_("row"), default=list, blank=True)

    class Meta:
        ordering = ["job", "line", "id"]
        verbose_name = _("import problem")
        verbose_name_plural = _("import problems")
        indexes = [models.Index(fields=["job", "line"], name="importproblem_job_line_idx")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line}"
