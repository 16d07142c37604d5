from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from leads.models import ActivityKind
from signoff.models import ApprovalBase, SignedVersionBase


class RuleSetVersion(SignedVersionBase):
    """One version of the scoring model. Edits happen on the draft; published ones are frozen."""

    # The settings that change scores; forms, the API, copies, diffs and history use this list.
    SETTINGS_FIELDS: ClassVar[tuple[str, ...]] = (
        "mql_threshold",
        "min_fit_score",
        "decay_half_life_days",
    )

    name = models.CharField(_("name"), max_length=200, blank=True)
    mql_threshold = models.FloatField(_("MQL threshold"), default=50)
    min_fit_score = models.IntegerField(
        _("minimum fit score"),
        null=True,
        blank=True,
        help_text=_("Leave empty to let engagement alone reach the threshold."),
    )
    decay_half_life_days = models.FloatField(
        _("engagement half-life (days)"),
        null=True,
        blank=True,
        help_text=_("Behaviour points halve every this many days. Empty: no decay."),
    )
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords()

    class Meta(SignedVersionBase.Meta):
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        constraints = [
            # At most one draft at a time: both teams edit the same one.
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="draft"), name="one_draft"
            )
        ]
        permissions = [("edit_draft", _("Can edit the scoring draft"))]

    def __str__(self) -> str:
        return f"v{self.number} ({self.get_status_display()})"


class Rule(models.Model):
    class Kind(models.TextChoices):
        FIT = "fit", _("Fit")
        BEHAVIOUR = "behaviour", _("Behaviour")
        EXCLUSION = "exclusion", _("Exclusion")
        FAST_TRACK = "fast_track", _("Fast-track")

    class Operator(models.TextChoices):
        EQUALS = "equals", _("equals")
        NOT_EQUALS = "not_equals", _("does not equal")
        IN = "in", _("is one of")
        CONTAINS = "contains", _("contains")
        STARTS_WITH = "starts_with", _("starts with")
        ENDS_WITH = "ends_with", _("ends with")
        GT = "gt", _(">")
        GTE = "gte", _("≥")
        LT = "lt", _("<")
        LTE = "lte", _("≤")
        BETWEEN = "between", _("between (inclusive)")
        IS_EMPTY = "is_empty", _("is empty")
        NOT_EMPTY = "not_empty", _("is not empty")
        EMAIL_DOMAIN_IN = "email_domain_in", _("e-mail domain is one of")
        FREE_MAIL = "free_mail", _("e-mail is a free-mail address")

    # What a rule is made of. SCORING_FIELDS change scores; EDITABLE_FIELDS are what people edit.
    # The editor, the admin, the API, copies, diffs and history all use these lists.
    SCORING_FIELDS: ClassVar[tuple[str, ...]] = (
        "kind",
        "field",
        "operator",
        "value",
        "activity_kind",
        "property_conditions",
        "points",
        "cap",
        "window_days",
        "min_count",
    )
    EDITABLE_FIELDS: ClassVar[tuple[str, ...]] = ("position", "name", *SCORING_FIELDS)
    # The history's change reason for a draft's rules copied from the live version: the
    # "before" of their first edit, not shown as added.
    COPIED: ClassVar[str] = "copied from the live version"

    version = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    # Attribute conditions (fit and exclusion rules).
    field = models.CharField(
        _("field"),
        max_length=120,
        blank=True,
        help_text=_("A lead field (title), company.<field>, or custom.<key>."),
    )
    operator = models.CharField(_("operator"), max_length=20, choices=Operator.choices, blank=True)
    value = models.JSONField(_("value"), null=True, blank=True)
    # Activity conditions (behaviour and fast-track rules).
    activity_kind = models.CharField(
        _("activity"), max_length=40, choices=ActivityKind.choices, blank=True
    )
    property_conditions = models.JSONField(
        _("activity conditions"),
        default=list,
        blank=True,
        help_text=_(
            'For example [{"property": "url", "operator": "contains", "value": "/pricing"}]'
        ),
    )
    points = models.IntegerField(_("points"), default=0)
    cap = models.PositiveIntegerField(_("cap per lead"), null=True, blank=True)
    window_days = models.PositiveIntegerField(_("only the last N days"), null=True, blank=True)
    min_count = models.PositiveIntegerField(_("at least K times"), null=True, blank=True)
    position = models.PositiveIntegerField(_("order"), default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "kind", "position", "id"]
        verbose_name = _("rule")
        verbose_name_plural = _("rules")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .engine import validate_rule

        errors = validate_rule(self)
        if errors:
            raise ValidationError(errors)


class Approval(ApprovalBase):
    version = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="approvals")

    class Meta(ApprovalBase.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "user", "side"], name="approval_once")
        ]


class DraftComment(models.Model):
    version = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(_("comment"))
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.text[:60]


class RescoreRun(models.Model):
    """A full rescore in chunks. `cursor` is the last lead id done, so a rerun resumes."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    version = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="runs")
    reason = models.CharField(max_length=20, default="publish")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    new_mqls = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    max_id = models.BigIntegerField(default=0)
    # The scoring clock: every chunk of one run decays to the same instant.
    as_of = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"rescore v{self.version.number}: {self.done}/{self.total}"

    @property
    def percent(self) -> float:
        return 100.0 if not self.total else min(100.0, 100.0 * self.done / self.total)

    @property
    def seconds_left(self) -> float | None:
        if self.status != self.Status.RUNNING or not self.started_at or not self.done:
            return None
        elapsed = (timezone.now() - self.started_at).total_seconds()
        return max(0.0, elapsed / self.done * (self.total - self.done))


class EvidenceSnapshot(models.Model):
    """The tuning cohort of one period as hit patterns (scoring.tuning.cohort_patterns), kept
    so that the evidence page and the API answer from it while the history has not moved.

    `key` names the version and the period; `fingerprint` the state of the history it was
    computed from. Any process may recompute and replace it; the newest write wins."""

    key = models.CharField(max_length=120, unique=True)
    version = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=200)
    patterns = models.JSONField(default=list)
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key
