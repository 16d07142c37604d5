"""Writes of the reports app: facts kept in step with the history, and the review's records.

Facts (`MqlFact`) are recomputed per lead from its StageEvents and hand-offs by one function,
`_compute_facts`, whether a stage change just happened (`facts_follow_stage`), a hand-off
changed (`facts_follow_handoff`) — both declared in settings.LIFECYCLE_FOLLOWERS — or the
whole history is rebuilt (`reports_rebuild`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Case, Max, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Lead, Stage, StageEvent
from sla.models import Handoff, SlaVersion

from .models import (
    SIZE_UNKNOWN,
    ActionItem,
    LeadDay,
    MqlFact,
    ReportState,
    ReviewNote,
    size_band,
)
from .selectors import lead_day_counts, report_time_zone

logger = logging.getLogger(__name__)

# A lead id is settled into LeadDay once it has been the highest id for this long: by then
# every transaction that took a lower id has committed or rolled back.
LEAD_SETTLE_LAG = dt.timedelta(minutes=30)
REBUILD_CHUNK = 20_000
CLOSING_STAGES = (Stage.SQL, Stage.RECYCLED, Stage.DISQUALIFIED)


# --------------------------------------------------------------------------------------------
# Facts


@dataclasses.dataclass
class _Cycle:
    """One MQL and the events up to the lead's next MQL."""

    event_id: int
    lead_id: int
    at: dt.datetime
    score: float | None
    accepted_at: dt.datetime | None = None
    rejected_at: dt.datetime | None = None
    rejection_reason: str = ""
    closed_at: dt.datetime | None = None
    outcome: str = ""
    sql_at: dt.datetime | None = None
    # Imported history went past SAL without recording it (MQL → SQL): sales did accept,
    # but when is unknown.
    accept_unrecorded: bool = False


def _score(value: Any) -> float | None:
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    return score if score == score else None  # NaN is no score


def _cycles(events: Iterable[tuple]) -> list[_Cycle]:
    """Split each lead's events (ordered by lead, time, id) at its MQLs."""
    cycles: list[_Cycle] = []
    current: _Cycle | None = None
    for event_id, lead_id, to_stage, at, reason, score in events:
        if current is not None and current.lead_id != lead_id:
            current = None
        if to_stage == Stage.MQL:
            current = _Cycle(event_id, lead_id, at, _score(score))
            cycles.append(current)
        elif current is None:
            continue
        elif to_stage == Stage.SAL:
            current.accepted_at = current.accepted_at or at
        elif to_stage == Stage.REJECTED:
            if current.rejected_at is None:
                current.rejected_at, current.rejection_reason = at, reason or ""
        elif to_stage in CLOSING_STAGES:
            if current.accepted_at is None and current.rejected_at is None:
                # Only imported history skips the SAL (the live lifecycle cannot).
                current.accept_unrecorded = True
            # As the SLA sees it: a hand-off closes once, when sales qualifies, recycles or
            # disqualifies it after accepting; a recycle after a rejection closes nothing.
            if current.closed_at is None and current.accepted_at is not None:
                current.closed_at, current.outcome = at, to_stage
            if to_stage == Stage.SQL and current.sql_at is None:
                current.sql_at = at
    return cycles


def _seconds(a: dt.datetime, b: dt.datetime | None) -> int | None:
    if b is None:
        return None
    return max(0, round((b - a).total_seconds()))


def _step(
    done: dt.datetime | None, due: dt.datetime | None, applies: bool = True
) -> tuple[bool | None, dt.datetime | None]:
    """(on time, open deadline) of one of sales' steps: whether it was done by its deadline
    (null while not done), and its deadline while it is still to do."""
    if not applies or due is None:
        return None, None
    if done is None:
        return None, due
    return done <= due, None


def _compute_facts(lead_filter: dict[str, Any]) -> list[MqlFact]:
    """The facts of the leads matched by `lead_filter` (keyword filters on lead_id)."""
    from sla.services import calendar_for

    zone = report_time_zone()
    events = (
        StageEvent.objects.filter(**lead_filter)
        .annotate(
            score=Case(
                When(to_stage=Stage.MQL, then=KeyTextTransform("total", "context")),
                default=Value(None),
            )
        )
        .order_by("lead_id", "at", "id")
        .values_list("id", "lead_id", "to_stage", "at", "reason", "score")
    )
    cycles = _cycles(events.iterator(chunk_size=5000))
    if not cycles:
        return []
    handoffs = {
        h["mql_event_id"]: h
        for h in Handoff.objects.filter(**lead_filter).values(
            "mql_event_id",
            "sla_version_id",
            "team_id",
            "rep_id",
            "accept_due_at",
            "first_contact_due_at",
            "qualify_due_at",
            "first_contact_at",
        )
    }
    lead_key = {k.replace("lead_id", "id", 1): v for k, v in lead_filter.items()}
    leads = {
        pk: (source, industry or "", size_band(employees))
        for pk, source, industry, employees in Lead.objects.filter(**lead_key).values_list(
            "id", "source", "company__industry", "company__employees"
        )
    }
    versions = {
        v.pk: v
        for v in SlaVersion.objects.filter(pk__in={h["sla_version_id"] for h in handoffs.values()})
    }
    calendars: dict[int, Any] = {}
    facts = []
    for c in cycles:
        h: Mapping[str, Any] = handoffs.get(c.event_id, {})
        source, industry, band = leads.get(c.lead_id, ("", "", SIZE_UNKNOWN))
        first_contact_at = h.get("first_contact_at")
        calendar = None
        if h:
            version_id = h["sla_version_id"]
            if version_id not in calendars:
                calendars[version_id] = calendar_for(versions[version_id])
            calendar = calendars[version_id]

        def business(b: dt.datetime | None, calendar=calendar, start=c.at) -> int | None:
            if calendar is None or b is None:
                return None
            return round(calendar.between(start, b).total_seconds())

        decided = c.accepted_at or c.rejected_at
        accept = _step(decided, h.get("accept_due_at"), applies=not c.accept_unrecorded)
        # As the breach sweep sees it: a rejected MQL needs no first contact.
        contact = _step(
            first_contact_at, h.get("first_contact_due_at"), applies=c.rejected_at is None
        )
        qualify = _step(c.closed_at, h.get("qualify_due_at"), applies=c.accepted_at is not None)
        mql_date = c.at.astimezone(zone).date()
        facts.append(
            MqlFact(
                mql_event_id=c.event_id,
                lead_id=c.lead_id,
                mql_at=c.at,
                mql_date=mql_date,
                mql_month=mql_date.replace(day=1),
                mql_week=mql_date - dt.timedelta(days=mql_date.weekday()),
                source=source,
                industry=industry,
                size_band=band,
                team_id=h.get("team_id"),
                rep_id=h.get("rep_id"),
                score=c.score,
                has_sla=bool(h),
                accepted=c.accepted_at is not None,
                accept_unrecorded=c.accept_unrecorded,
                rejected=c.rejected_at is not None,
                rejection_reason=c.rejection_reason,
                reached_sql=c.sql_at is not None,
                accept_on_time=accept[0],
                accept_open_due_at=accept[1],
                contact_on_time=contact[0],
                contact_open_due_at=contact[1],
                qualify_on_time=qualify[0],
                qualify_open_due_at=qualify[1],
                accept_clock_s=_seconds(c.at, c.accepted_at),
                accept_business_s=business(c.accepted_at),
                contact_clock_s=_seconds(c.at, first_contact_at),
                contact_business_s=business(first_contact_at),
            )
        )
    return facts


FACT_UPDATE_FIELDS = [
    f.name for f in MqlFact._meta.concrete_fields if not f.primary_key and f.name not in ("lead",)
]


def facts_refresh(*, lead_ids: Sequence[int]) -> int:
    """Recompute the facts of these leads, inside the caller's transaction.

    Callers hold the locks that order concurrent changes: a stage change holds the lead and
    (through the SLA's hook) its hand-off, a logged contact or a reassignment its hand-off,
    so the second of two changes waits, then reads what the first committed. Locking the
    lead here as well would take the two locks in opposite orders and invite deadlocks.
    """
    lead_ids = sorted(set(lead_ids))
    if not lead_ids:
        return 0
    with transaction.atomic():
        facts = _compute_facts({"lead_id__in": lead_ids})
        MqlFact.objects.filter(lead_id__in=lead_ids).exclude(
            mql_event_id__in=[f.mql_event_id for f in facts]
        ).delete()
        MqlFact.objects.bulk_create(
            facts,
            update_conflicts=True,
            unique_fields=["mql_event"],
            update_fields=FACT_UPDATE_FIELDS,
        )
    return len(facts)


def facts_follow_stage(event: StageEvent) -> None:
    """After a stage change, once the SLA has kept the hand-off in step (LIFECYCLE_FOLLOWERS)."""
    facts_refresh(lead_ids=[event.lead_id])


def facts_follow_handoff(handoff_id: int) -> None:
    """A contact was logged or the lead reassigned (LIFECYCLE_FOLLOWERS)."""
    lead_id = Handoff.objects.filter(pk=handoff_id).values_list("lead_id", flat=True).first()
    if lead_id is not None:
        facts_refresh(lead_ids=[lead_id])


# --------------------------------------------------------------------------------------------
# New leads per day


def _state_for_update() -> ReportState:
    state = ReportState.objects.select_for_update().order_by("pk").first()
    if state is None:
        ReportState.objects.create()
        state = ReportState.objects.select_for_update().earliest("pk")
    return state


def _lead_days_add(rows: Iterable[dict]) -> None:
    table = LeadDay._meta.db_table
    adapt = connection.ops.adapt_datefield_value
    params = [(adapt(r["day"]), r["source"], r["industry_"], r["band"], r["n"]) for r in rows]
    if not params:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (date, source, industry, size_band, leads) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (date, source, industry, size_band) "
            f"DO UPDATE SET leads = {table}.leads + excluded.leads",
            params,
        )


def lead_days_settle(*, lag: dt.timedelta = LEAD_SETTLE_LAG, now: dt.datetime | None = None) -> int:
    """Count the leads whose ids have been settled for `lag` into LeadDay; returns how many.

    Safe to run twice or in parallel: the state row is locked, and a lead id range is
    counted once because the settled id only moves forward.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state = _state_for_update()
        highest = Lead.objects.aggregate(m=Max("id"))["m"] or 0
        marks = [m for m in state.lead_marks if m[0] > state.lead_settled_id]
        if not marks or marks[-1][0] < highest:
            marks.append([highest, now.isoformat()])
        ripe = [m[0] for m in marks if dt.datetime.fromisoformat(m[1]) <= now - lag]
        boundary = max([state.lead_settled_id, *ripe])
        counted = 0
        if boundary > state.lead_settled_id:
            rows = list(
                lead_day_counts(Lead.objects.filter(id__gt=state.lead_settled_id, id__lte=boundary))
            )
            _lead_days_add(rows)
            counted = sum(r["n"] for r in rows)
            state.lead_settled_id = boundary
        state.lead_marks = [m for m in marks if m[0] > state.lead_settled_id]
        state.save(update_fields=["lead_settled_id", "lead_marks"])
    return counted


# --------------------------------------------------------------------------------------------
# Rebuild


def _say(out: TextIO | None, text: str) -> None:
    if out is not None:
        out.write(text)
        out.flush()


def reports_rebuild(*, out: TextIO | None = None, chunk: int = REBUILD_CHUNK) -> dict[str, int]:
    """Recompute every fact and lead count from the history (after changing the reporting
    time zone, or to check the incremental path). Runs in one transaction: readers see the
    old figures until it commits."""
    zone = report_time_zone()
    facts_written = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Deferred foreign-key checks of rows written earlier in this transaction
                # would forbid the TRUNCATE: run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                # Blocks hooks until the rebuild commits; they then refresh their lead again.
                cursor.execute(f"TRUNCATE {MqlFact._meta.db_table}, {LeadDay._meta.db_table}")
                cursor.execute("SET LOCAL work_mem = '256MB'")
        else:
            MqlFact.objects.all().delete()
            LeadDay.objects.all().delete()
        highest = StageEvent.objects.aggregate(hi=Max("lead_id"))["hi"] or 0
        start = 0
        while start < highest:
            stop = start + chunk
            facts = _compute_facts({"lead_id__gt": start, "lead_id__lte": stop})
            facts.sort(key=lambda f: (f.mql_month, f.mql_date, f.mql_event_id))
            MqlFact.objects.bulk_create(facts, batch_size=2000)
            facts_written += len(facts)
            start = stop
            _say(out, f"  facts: {facts_written:,} (leads up to id {min(stop, highest):,})\n")
        state = _state_for_update()
        state.lead_settled_id, state.lead_marks = 0, []
        state.time_zone, state.rebuilt_at = zone.key, timezone.now()
        state.save()
        leads = lead_days_settle(lag=dt.timedelta(0))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Facts were written lead by lead; put them in date order for range scans.
            cursor.execute(f"CLUSTER {MqlFact._meta.db_table} USING mqlfact_month_date_idx")
            # VACUUM also marks the pages all-visible, so the latency indexes can answer
            # alone; it cannot run inside a transaction (a migration), where ANALYZE does.
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            cursor.execute(f"{command} {MqlFact._meta.db_table}")
            cursor.execute(f"{command} {LeadDay._meta.db_table}")
    return {"facts": facts_written, "leads": leads}


# --------------------------------------------------------------------------------------------
# The monthly review's decisions and action items


def _require_edit(user: Any) -> None:
    if not user.has_perm("reports.edit_review"):
        raise PermissionDenied(_("You cannot record decisions or action items."))


def review_note_add(*, month: dt.date, user: Any, text: str, kind: str) -> ReviewNote:
    _require_edit(user)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("Write what was decided.")]})
    if kind not in ReviewNote.Kind.values:
        raise ValidationError({"kind": [_("Choose decision or note.")]})
    now = timezone.now()
    return ReviewNote.objects.create(
        month=month.replace(day=1),
        kind=kind,
        text=text,
        author=user,
        created_at=now,
        updated_at=now,
    )


def review_note_edit(*, note: ReviewNote, user: Any, text: str, kind: str) -> ReviewNote:
    _require_edit(user)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("Write what was decided.")]})
    if kind not in ReviewNote.Kind.values:
        raise ValidationError({"kind": [_("Choose decision or note.")]})
    note.text, note.kind, note.updated_at = text, kind, timezone.now()
    note.save(update_fields=["text", "kind", "updated_at"])
    return note


def action_item_add(
    *, month: dt.date, user: Any, what: str, owner: Any, due_on: dt.date | None
) -> ActionItem:
    _require_edit(user)
    what = (what or "").strip()
    if not what:
        raise ValidationError({"what": [_("Say what is to be done.")]})
    now = timezone.now()
    return ActionItem.objects.create(
        month=month.replace(day=1),
        what=what,
        owner=owner,
        due_on=due_on,
        author=user,
        created_at=now,
        updated_at=now,
    )


def action_item_edit(
    *, item: ActionItem, user: Any, what: str, owner: Any, due_on: dt.date | None
) -> ActionItem:
    _require_edit(user)
    what = (what or "").strip()
    if not what:
        raise ValidationError({"what": [_("Say what is to be done.")]})
    item.what, item.owner, item.due_on, item.updated_at = what, owner, due_on, timezone.now()
    item.save(update_fields=["what", "owner", "due_on", "updated_at"])
    return item


def action_item_set_done(*, item: ActionItem, user: Any, done: bool) -> ActionItem:
    """Mark an action item done (or not done again). Marking twice keeps the first time."""
    _require_edit(user)
    with transaction.atomic():
        item = ActionItem.objects.select_for_update().get(pk=item.pk)
        if done == item.is_done:
            return item
        now = timezone.now()
        item.done_at, item.done_by = (now, user) if done else (None, None)
        item.updated_at = now
        item.save(update_fields=["done_at", "done_by", "updated_at"])
    return item
