"""State-changing actions of scoring: drafts, approvals, publishing, rescoring."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_create_with_history

from core.tasks import delay_safely, enqueue_after_commit, heartbeat
from leads.models import Activity, Lead, MqlReason, Stage, StageEvent
from leads.services import TransitionError, lead_fast_tracked, lead_scores_stale, lead_transition
from signoff import notices
from signoff import services as signoff
from signoff.models import ApprovalBase

from . import engine
from .models import DraftComment, RescoreRun, Rule, RuleSetVersion

logger = logging.getLogger(__name__)

# Leads per chunk of a full rescore. Each chunk reads the activities of its id range; with
# activities stored in time order that touches most of the table's pages, so fewer, larger
# chunks read it fewer times. Memory on the worker does not grow with it (the database
# does the work); the database's work_mem does.
CHUNK_SIZE = settings.RESCORE_CHUNK_SIZE
# A running rescore whose heartbeat is older than this is taken over by the next runner.
STALE_AFTER = dt.timedelta(seconds=60)
# A running pass renews its claim this often (seconds), even in the middle of a slow chunk.
HEARTBEAT_EVERY = STALE_AFTER.total_seconds() / 4
# How long a stale score waits for its after-commit task before the sweep enqueues it again.
STALE_SCORE_GRACE = dt.timedelta(seconds=30)


def rescore_leads_enqueue(lead_ids: list[int]) -> None:
    """After commit, leads whose attributes or activities changed (LIFECYCLE_FOLLOWERS).
    Never raises: if the broker is away the leads stay stale and `stale_scores_sweep`
    enqueues them again."""
    from .tasks import rescore_leads_task

    for start in range(0, len(lead_ids), MQL_BATCH):
        if not delay_safely(rescore_leads_task, lead_ids[start : start + MQL_BATCH]):
            return


def stale_scores_sweep(*, now: dt.datetime | None = None, limit: int = 20_000) -> int:
    """Enqueue the rescoring of leads still stale after STALE_SCORE_GRACE (the broker was
    away, a worker died holding them). Idempotent: rescoring twice changes nothing and an MQL
    is made once; a lead enqueued here is not enqueued again for another grace period."""
    from .tasks import rescore_leads_task

    now = now or timezone.now()
    cutoff = now - STALE_SCORE_GRACE
    ids = list(
        Lead.objects.filter(score_stale_since__lt=cutoff)
        .order_by("score_stale_since")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for start in range(0, len(ids), MQL_BATCH):
        batch = ids[start : start + MQL_BATCH]
        if not delay_safely(rescore_leads_task, batch):
            break  # the broker is still away; the next sweep tries again
        Lead.objects.filter(pk__in=batch, score_stale_since__lt=cutoff).update(
            score_stale_since=now
        )
        sent += len(batch)
    return sent


def ruleset_live() -> RuleSetVersion | None:
    return (
        RuleSetVersion.objects.filter(status=RuleSetVersion.Status.PUBLISHED)
        .order_by("-number")
        .first()
    )


def compiled_live() -> engine.CompiledRuleSet | None:
    live = ruleset_live()
    return engine.compile_ruleset(live) if live else None


# --------------------------------------------------------------------------------------------
# Drafts, approvals, publishing


@transaction.atomic
def draft_get_or_create(*, user: Any) -> RuleSetVersion:
    """The one open draft; a new one starts as a copy of the live version."""
    draft = RuleSetVersion.objects.select_for_update().filter(status="draft").first()
    if draft:
        return draft
    live = ruleset_live()
    number = (RuleSetVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    draft = RuleSetVersion.objects.create(
        number=number,
        name=live.name if live else _("Scoring model"),
        **(
            {f: getattr(live, f) for f in RuleSetVersion.SETTINGS_FIELDS}
            if live
            else {"mql_threshold": 50, "min_fit_score": None, "decay_half_life_days": 30}
        ),
        based_on=live,
        created_by=user if user and user.is_authenticated else None,
    )
    if live:
        # With history rows (marked as the copy), so the first edit of a copied rule has a
        # "before" to show.
        bulk_create_with_history(
            [
                Rule(version=draft, **{f: getattr(r, f) for f in Rule.EDITABLE_FIELDS})
                for r in live.rules.all()
            ],
            Rule,
            default_user=user if user and user.is_authenticated else None,
            default_change_reason=Rule.COPIED,
        )
    return draft


def notice_subject(version: RuleSetVersion) -> notices.Subject:
    return notices.Subject(
        draft_name=gettext_lazy("the scoring draft v%(n)d"),
        url=reverse("scoring:overview") + "#draft",
        about=f"ruleset:{version.pk}",
    )


def draft_edited(*, version: RuleSetVersion, user: Any) -> int:
    """Any edit after an approval withdraws it (noted on the draft, and the approvers and the
    other side are told). Returns how many."""
    approvers = [a.user for a in version.approvals.select_related("user")]
    withdrawn = signoff.withdraw_on_edit(version)
    if withdrawn:
        notices.withdrawn(
            version=version, subject=notice_subject(version), actor=user, approvers=approvers
        )
        DraftComment.objects.create(
            version=version,
            author=None,
            text=_("The draft changed after approval (by %(user)s): approvals withdrawn.")
            % {"user": user.get_username() if user else _("system")},
        )
    return withdrawn


# Rules and settings of the draft: every editor (pages, API, admin) writes through these, so an
# edit always withdraws approvals and is recorded with who made it.

RULE_DEFAULTS: dict[str, Any] = {
    "field": "",
    "operator": "",
    "value": None,
    "activity_kind": "",
    "property_conditions": [],
    "points": 0,
    "cap": None,
    "window_days": None,
    "min_count": None,
}


def _rule_check(rule: Rule) -> None:
    errors = engine.validate_rule(rule)
    if errors:
        raise ValidationError(errors)


def _draft_only(version: RuleSetVersion) -> None:
    if not version.is_draft:
        raise ValidationError(_("Only a draft can be edited; published versions are read-only."))


@transaction.atomic
def rule_create(
    *, version: RuleSetVersion, data: dict[str, Any], user: Any, reason: str = ""
) -> Rule:
    """`reason` goes into the rule's history (why the change was made, e.g. a suggestion)."""
    _draft_only(version)
    rule = Rule(version=version, **{**RULE_DEFAULTS, **data})
    _rule_check(rule)
    rule._history_user = user  # type: ignore[attr-defined]
    rule._change_reason = reason[:100] or None  # type: ignore[attr-defined]
    rule.save()
    draft_edited(version=version, user=user)
    return rule


@transaction.atomic
def rule_update(*, rule: Rule, data: dict[str, Any], user: Any, reason: str = "") -> Rule:
    _draft_only(rule.version)
    for name, value in data.items():
        setattr(rule, name, value)
    _rule_check(rule)
    rule._history_user = user  # type: ignore[attr-defined]
    rule._change_reason = reason[:100] or None  # type: ignore[attr-defined]
    rule.save()
    draft_edited(version=rule.version, user=user)
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule, user: Any) -> None:
    _draft_only(rule.version)
    rule._history_user = user  # type: ignore[attr-defined]
    rule.delete()
    draft_edited(version=rule.version, user=user)


@transaction.atomic
def draft_settings_update(
    *, version: RuleSetVersion, data: dict[str, Any], user: Any, reason: str = ""
) -> RuleSetVersion:
    _draft_only(version)
    for name, value in data.items():
        setattr(version, name, value)
    version._history_user = user  # type: ignore[attr-defined]
    version._change_reason = reason[:100] or None  # type: ignore[attr-defined]
    version.save()
    draft_edited(version=version, user=user)
    return version


approval_sides = signoff.approval_sides
missing_approvals = signoff.missing_sides


def _no_rules_message() -> str:
    return _("A rule set with no rules cannot be approved or published: add at least one rule.")


def _rule_problems(version: RuleSetVersion) -> list[str]:
    rules = list(version.rules.all())
    if not rules:
        return [_no_rules_message()]
    return [f"{rule.name}: {msg}" for rule in rules for msg in engine.validate_rule(rule).values()]


def _unchanged(version: RuleSetVersion) -> bool:
    from .selectors import version_diff

    live = ruleset_live()
    return live is not None and bool(version_diff(old=live, new=version)["empty"])


@transaction.atomic
def ruleset_approve(*, version: RuleSetVersion, user: Any) -> list[ApprovalBase]:
    approvals = signoff.approve(
        version=version, user=user, problems=_rule_problems, unchanged=_unchanged
    )
    notices.approved(
        version=version,
        subject=notice_subject(version),
        actor=user,
        missing=missing_approvals(version),
    )
    return approvals


@transaction.atomic
def ruleset_request_approval(*, version: RuleSetVersion, user: Any) -> int:
    """Tell the other side the draft is ready for their approval. Returns how many were told."""
    _draft_only(version)
    return len(
        notices.approval_requested(version=version, subject=notice_subject(version), actor=user)
    )


@transaction.atomic
def ruleset_publish(*, version: RuleSetVersion, user: Any) -> RescoreRun:
    if not version.rules.exists():
        # Every lead would score zero and no one would become an MQL again.
        raise ValidationError(_no_rules_message())
    version = signoff.publish(version=version, user=user)
    notices.published(version=version, subject=notice_subject(version), actor=user)
    return rescore_run_start(version=version, reason="publish")


def rescore_run_start(
    *, version: RuleSetVersion, reason: str, as_of: dt.datetime | None = None
) -> RescoreRun:
    """Queue a full rescore. `as_of` is its decay clock (default: now)."""
    from .tasks import rescore_run_task

    bounds = Lead.objects.aggregate(max_id=Max("id"))
    run = RescoreRun.objects.create(
        version=version,
        reason=reason,
        total=Lead.objects.count(),
        max_id=bounds["max_id"] or 0,
        as_of=as_of or timezone.now(),
    )
    # A run the broker never got is QUEUED; stale_runs_resume starts it after STALE_AFTER.
    enqueue_after_commit(rescore_run_task, run.pk)
    return run


# --------------------------------------------------------------------------------------------
# Rescoring


def _activities_of(lead_id: int) -> list[Activity]:
    return list(
        Activity.objects.filter(lead_id=lead_id).only(
            "id", "kind", "occurred_at", "properties", "lead_id"
        )
    )


def lead_explain(
    *, lead: Lead, ruleset: engine.CompiledRuleSet | None = None, now: dt.datetime | None = None
) -> engine.ScoreResult | None:
    ruleset = ruleset or compiled_live()
    if ruleset is None:
        return None
    return engine.evaluate(lead, _activities_of(lead.pk), ruleset, now or timezone.now())


def lead_rescore(
    *, lead_id: int, ruleset: engine.CompiledRuleSet | None = None, now: dt.datetime | None = None
) -> StageEvent | None:
    """Rescore one lead (single-lead path); make it an MQL if it crossed. Returns that event."""
    started = timezone.now()
    event = _lead_rescore(lead_id=lead_id, ruleset=ruleset, now=now)
    # Done (or nothing to do): no longer stale, unless it changed again meanwhile. Not
    # reached if the worker dies or this fails, so the sweep hands the lead to another.
    Lead.objects.filter(pk=lead_id, score_stale_since__lte=started).update(score_stale_since=None)
    return event


def _lead_rescore(
    *, lead_id: int, ruleset: engine.CompiledRuleSet | None, now: dt.datetime | None
) -> StageEvent | None:
    ruleset = ruleset or compiled_live()
    if ruleset is None:
        return None
    now = now or timezone.now()
    lead = Lead.objects.select_related("company").filter(pk=lead_id).first()
    if lead is None:
        return None
    result = engine.evaluate(lead, _activities_of(lead_id), ruleset, now)
    if result.fast_tracked and not lead.fast_tracked and lead.stage == Stage.MQL:
        # Already an MQL: the fast-track cannot make it one again, but its rep must hurry.
        with transaction.atomic():
            if Lead.objects.filter(pk=lead_id, fast_tracked=False).update(fast_tracked=True):
                lead_fast_tracked(lead_id, now)
    Lead.objects.filter(pk=lead_id).exclude(
        fit_score=result.fit,
        engagement_score=result.engagement,
        total_score=result.total,
        excluded_reason=result.excluded_reason,
        fast_tracked=result.fast_tracked,
    ).update(
        fit_score=result.fit,
        engagement_score=result.engagement,
        total_score=result.total,
        excluded_reason=result.excluded_reason,
        fast_tracked=result.fast_tracked,
        scored_at=now,
    )
    if result.qualifies:
        return _become_mql(lead=lead, result=result, ruleset=ruleset)
    return None


def _become_mql(
    *,
    lead: Lead,
    result: engine.ScoreResult,
    ruleset: engine.CompiledRuleSet,
    at: dt.datetime | None = None,
) -> StageEvent | None:
    """Exactly one MQL event per crossing: lead_transition locks the row and re-checks the
    stage, so a second worker arriving at the same moment finds the lead already an MQL."""
    try:
        return lead_transition(
            lead=lead,
            to_stage=Stage.MQL,
            origin=StageEvent.Origin.SYSTEM,
            expected_stage=lead.stage,
            at=at,
            ruleset_version=ruleset.version,
            context=result.as_context(ruleset),
            reason=MqlReason.FAST_TRACK if result.fast_tracked else MqlReason.THRESHOLD,
        )
    except TransitionError:
        return None


def chunk_session_tune(cursor: Any) -> None:
    """Settings for the chunk statement, for the rest of the chunk's transaction."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        # JIT would compile the wide scoring expressions anew for every chunk (about half a
        # second each, more than it saves), and the chunk's aggregate spills to disk in the
        # default 4MB of work_mem.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")


# Leads that cross the threshold in a bulk pass are handed to workers in batches of this size.
MQL_BATCH = 500


def rescore_chunk(
    *,
    ruleset: engine.CompiledRuleSet,
    lo: int,
    hi: int,
    now: dt.datetime,
    mql_at: dt.datetime | None = None,
    inline_mqls: bool = False,
) -> tuple[int, int]:
    """Bulk path for ids lo..hi: the database scores the chunk and writes changed rows.

    Leads that now qualify are handed, once the chunk commits, to the single-lead path on the
    workers (rescore_leads_task): each MQL needs its explanation frozen, a StageEvent and a
    hand-off (routing, deadlines, notice), which cost milliseconds per lead and scale with
    workers, not with this pass. `inline_mqls` does it here instead (the demo seed, dated
    `mql_at`). Returns (changed, crossing leads)."""
    sql, params = engine.chunk_sql(ruleset, connection, lo, hi, now)
    with connection.cursor() as cursor:
        chunk_session_tune(cursor)
        cursor.execute(sql, params)
        changed = cursor.rowcount
        if connection.vendor == "sqlite":
            # sqlite3 reports no rowcount for a statement that starts with WITH.
            cursor.execute("SELECT changes()")
            changed = cursor.fetchone()[0]
        q_sql, q_params = engine.qualifying_sql(ruleset, lo, hi)
        cursor.execute(q_sql, q_params)
        candidates = [row[0] for row in cursor.fetchall()]
    if not candidates:
        return max(changed, 0), 0
    if not inline_mqls:
        _hand_to_workers(candidates)
        return max(changed, 0), len(candidates)
    new_mqls = 0
    for lead in Lead.objects.select_related("company").filter(pk__in=candidates):
        result = engine.evaluate(lead, _activities_of(lead.pk), ruleset, now)
        if result.qualifies and _become_mql(lead=lead, result=result, ruleset=ruleset, at=mql_at):
            new_mqls += 1
    return max(changed, 0), new_mqls


def _hand_to_workers(lead_ids: list[int]) -> None:
    # In the chunk's transaction, the durable intent: these leads are stale until a worker
    # has made them MQLs; the sweep hands them over again if the broker or the worker fails.
    lead_scores_stale(lead_ids)
    # After the chunk commits: the workers must see its scores. Exactly one MQL per crossing
    # holds however the batches and live rescoring interleave (lead_transition locks the row).
    transaction.on_commit(lambda: rescore_leads_enqueue(lead_ids), robust=True)


def _claim_run(run_id: int) -> bool:
    now = timezone.now()
    claimable = RescoreRun.objects.filter(pk=run_id).filter(
        status=RescoreRun.Status.QUEUED
    ) | RescoreRun.objects.filter(
        pk=run_id, status=RescoreRun.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    claimed = RescoreRun.objects.filter(pk__in=claimable.values("pk")).update(
        status=RescoreRun.Status.RUNNING, heartbeat_at=now
    )
    if claimed:
        RescoreRun.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now)
    return bool(claimed)


class _RunTakenOver(Exception):
    """Another worker moved the run's cursor: this chunk rolls back and this worker stops."""


def rescore_run_execute(
    *,
    run_id: int,
    chunk_size: int = CHUNK_SIZE,
    mql_at: dt.datetime | None = None,
    inline_mqls: bool = False,
) -> RescoreRun | None:
    """Run (or resume) a full rescore. Safe to call twice or after a worker died: the run is
    claimed with a conditional update, and each chunk commits its scores, its MQL events and
    the cursor together, so a resumed run starts after the last chunk that committed."""
    if not _claim_run(run_id):
        return None
    run = RescoreRun.objects.select_related("version").get(pk=run_id)
    ruleset = engine.compile_ruleset(run.version)

    def beat() -> None:
        RescoreRun.objects.filter(pk=run_id, status=RescoreRun.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    try:
        lo = run.cursor + 1
        while lo <= run.max_id:
            hi = min(lo + chunk_size - 1, run.max_id)
            # The claim is renewed while the chunk runs, however slow: no sweep hands the run
            # to a second worker meanwhile.
            with heartbeat(beat, every=HEARTBEAT_EVERY), transaction.atomic():
                changed, new_mqls = rescore_chunk(
                    ruleset=ruleset,
                    lo=lo,
                    hi=hi,
                    now=run.as_of,
                    mql_at=mql_at,
                    inline_mqls=inline_mqls,
                )
                in_chunk = Lead.objects.filter(pk__range=(lo, hi)).count()
                done = min(run.total, run.done + in_chunk)
                # Only if the cursor is still where this worker found it: a chunk commits
                # once, whatever else runs.
                moved = RescoreRun.objects.filter(
                    pk=run.pk, cursor=run.cursor, status=RescoreRun.Status.RUNNING
                ).update(
                    cursor=hi,
                    done=done,
                    changed=run.changed + changed,
                    new_mqls=run.new_mqls + new_mqls,
                    heartbeat_at=timezone.now(),
                )
                if not moved:
                    raise _RunTakenOver
                run.cursor, run.done = hi, done
                run.changed += changed
                run.new_mqls += new_mqls
            lo = hi + 1
    except _RunTakenOver:
        logger.warning("rescore run %s: another worker took it over; this one stops", run_id)
        return None
    except Exception as exc:
        RescoreRun.objects.filter(pk=run.pk).update(
            status=RescoreRun.Status.FAILED, error=str(exc)[:2000]
        )
        raise
    RescoreRun.objects.filter(pk=run.pk).update(
        status=RescoreRun.Status.DONE, done=run.total, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


def stale_runs_resume() -> list[int]:
    """Runs whose worker died (no heartbeat for a while) are handed to a new task."""
    from .tasks import rescore_run_task

    cutoff = timezone.now() - STALE_AFTER
    ids = list(
        RescoreRun.objects.filter(
            status=RescoreRun.Status.RUNNING, heartbeat_at__lt=cutoff
        ).values_list("pk", flat=True)
    ) + list(
        RescoreRun.objects.filter(
            status=RescoreRun.Status.QUEUED, created_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    return [run_id for run_id in ids if delay_safely(rescore_run_task, run_id)]


def nightly_rescore() -> RescoreRun | None:
    live = ruleset_live()
    if live is None:
        return None
    with transaction.atomic():
        return rescore_run_start(version=live, reason="nightly")


# --------------------------------------------------------------------------------------------
# Tuning: suggestions into the draft


@transaction.atomic
def suggestions_apply(
    *, items: list[dict[str, Any]], period_label: str, user: Any
) -> RuleSetVersion:
    """Write the chosen tuning suggestions (scoring.tuning.suggestions items) into the draft
    through the same edits a person makes, so approvals are withdrawn as for any edit and the
    draft still needs both sign-offs. Each change's history names the suggestion, and a comment
    on the draft keeps its evidence and backtest."""
    if not items:
        raise ValidationError({"key": _("Choose at least one suggestion.")})
    draft = draft_get_or_create(user=user)
    rules = {(r.kind, r.name): r for r in draft.rules.all()}
    lines = []
    for item in items:
        reason = _("Tuning suggestion %(n)d (%(period)s)") % {
            "n": item["number"],
            "period": period_label,
        }
        if item["kind"] == "points":
            rule = rules.get((item["rule_kind"], item["rule"]))
            if rule is None:
                raise ValidationError(
                    {
                        "key": _("The draft has no rule “%(rule)s” any more.")
                        % {"rule": item["rule"]}
                    }
                )
            rule_update(rule=rule, data={"points": item["suggested"]}, user=user, reason=reason)
            change = _("points of “%(rule)s” %(old)s → %(new)s") % {
                "rule": item["rule"],
                "old": item["current"],
                "new": item["suggested"],
            }
            ev = item["evidence"]
            evidence = _(
                "fired for %(fired)d MQLs, %(sqls)d reached SQL; %(other_sqls)d of %(other)d "
                "where it did not"
            ) % {
                "fired": ev["fired"],
                "sqls": ev["fired_sqls"],
                "other_sqls": ev["not_fired_sqls"],
                "other": ev["not_fired"],
            }
        elif item["kind"] == "threshold":
            draft_settings_update(
                version=draft, data={"mql_threshold": item["suggested"]}, user=user, reason=reason
            )
            change = _("MQL threshold %(old)s → %(new)s") % {
                "old": item["current"],
                "new": item["suggested"],
            }
            evidence = _("keeps %(c)d MQLs a month") % {"c": item["commitment"]}
        else:
            rule = rule_create(version=draft, data=item["rule_data"], user=user, reason=reason)
            rules[(rule.kind, rule.name)] = rule
            change = _("new rule “%(rule)s”") % {"rule": rule.name}
            evidence = item["explanation"]
        t = item["backtest"]["totals"]
        backtest = _(
            "backtest: %(mqls)d MQLs, %(sqls)d SQLs (live model %(base_mqls)d, %(base_sqls)d); "
            "%(avoided)d rejected MQLs avoided, %(lost)d SQLs lost"
        ) % {
            "mqls": t["mqls"],
            "sqls": t["sqls"],
            "base_mqls": t["base_mqls"],
            "base_sqls": t["base_sqls"],
            "avoided": t["rejected_avoided"],
            "lost": t["sqls_lost"],
        }
        lines.append(f"{reason}: {change}. {evidence}; {backtest}.")
    DraftComment.objects.create(version=draft, author=user, text="\n".join(lines))
    return draft
