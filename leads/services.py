"""State-changing actions on leads. Every stage change goes through `lead_transition`."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from core.validation import MAX_ID, db_lower, email_key

from .models import Activity, Company, Lead, LeadIdentity, Stage, StageEvent
from .selectors import lead_visible_q

User = get_user_model()
logger = logging.getLogger(__name__)


@functools.cache
def _followers(change: str) -> tuple[Callable[..., None], ...]:
    """What follows a change, in order, as declared in settings.LIFECYCLE_FOLLOWERS: the one
    place that says what happens after a stage change (hand-off, then report facts)."""
    return tuple(import_string(path) for path in settings.LIFECYCLE_FOLLOWERS[change])


def _follow(change: str, *args: Any) -> None:
    for follower in _followers(change):
        follower(*args)


class TransitionError(ValidationError):
    """A stage change that the lifecycle or the lead's current state does not allow."""


def transition_problem(
    *, lead: Lead, to_stage: str, at: dt.datetime, history: bool = False
) -> TransitionError | None:
    """Why `lead` cannot move to `to_stage` at `at`, or None: the lifecycle's rules, in one
    place for the service, the import's history planner and the views. `history`: the
    lifecycle for imported past events (forward paths may skip implied stages)."""
    if not lead.can_transition_to(to_stage, history=history):
        return TransitionError(
            _("A lead cannot go from %(from)s to %(to)s.")
            % {
                "from": lead.get_stage_display(),
                "to": Stage(to_stage).label if to_stage in Stage.values else to_stage,
            },
            code="not_allowed",
        )
    if lead.stage_changed_at and at < lead.stage_changed_at:
        return TransitionError(
            _("The change cannot be dated before the lead's previous stage change (%(at)s).")
            % {"at": lead.stage_changed_at.isoformat()},
            code="out_of_order",
        )
    return None


def lead_scores_stale(lead_ids: Iterable[int], *, since: dt.datetime | None = None) -> None:
    """Record, in the caller's transaction, that these leads need rescoring (durable intent:
    `Lead.score_stale_since`, cleared by the rescore, swept if it stays)."""
    ids = sorted(set(lead_ids))
    since = since or timezone.now()
    for start in range(0, len(ids), 1000):
        Lead.objects.filter(pk__in=ids[start : start + 1000]).update(score_stale_since=since)


_batch = threading.local()


@contextlib.contextmanager
def lead_changes_batched() -> Iterator[None]:
    """Within the block, the lead_changed followers run once at the end for every lead whose
    change committed, instead of once per change: a batch of 1,000 upserts (each its own
    transaction) publishes a handful of tasks, not 1,000. The stale marks are still written
    in each change's own transaction, so nothing is lost if the block never ends."""
    ids: set[int] = set()
    _batch.ids = ids

    def follow() -> None:
        if ids:
            _follow("lead_changed", sorted(ids))

    try:
        yield
    finally:
        _batch.ids = None
        # At once outside a transaction; inside one, after the changes' own callbacks.
        transaction.on_commit(follow, robust=True)


def notify_lead_changed(lead_ids: Iterable[int]) -> None:
    """Leads whose attributes or activities changed: recorded as stale in the caller's
    transaction, and their followers run after commit. A follower that fails (the broker is
    away) never turns the committed write into an error: the stale mark stays and the sweep
    finishes the work."""
    ids = sorted(set(lead_ids))
    if ids:
        lead_scores_stale(ids)
        pending = getattr(_batch, "ids", None)
        if pending is not None:
            transaction.on_commit(lambda: pending.update(ids), robust=True)
        else:
            transaction.on_commit(lambda: _follow("lead_changed", ids), robust=True)


def lead_fast_tracked(lead_id: int, at: dt.datetime) -> None:
    """A lead that is already an MQL did something that fast-tracks (a demo request): its
    followers (the SLA makes the hand-off hot) run now, inside the caller's transaction."""
    _follow("lead_fast_tracked", lead_id, at)


def handoff_changed(handoff_id: int) -> None:
    """A rep's action changed a hand-off without a stage change (a first contact logged, a
    reassignment): its followers run now, inside the caller's transaction."""
    _follow("handoff_changed", handoff_id)


@transaction.atomic
def lead_transition(
    *,
    lead: Lead,
    to_stage: str,
    actor: Any = None,
    origin: str = StageEvent.Origin.APP,
    at: dt.datetime | None = None,
    reason: str = "",
    note: str = "",
    expected_stage: str | None = None,
    ruleset_version: int | None = None,
    context: Mapping[str, Any] | None = None,
    history: bool = False,
) -> StageEvent:
    """Move a lead to `to_stage` and record the StageEvent, atomically.

    The lead row is locked, so two people acting on the same lead at once cannot both
    move it: the second sees the stage the first left and gets a TransitionError.
    `expected_stage` lets a caller insist on the stage it showed the user. `history` is for
    imports of past events only: it accepts forward paths that skip implied stages (MQL →
    SQL with no SAL) and marks such an event `skipped`.
    """
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if expected_stage is not None and locked.stage != expected_stage:
        raise TransitionError(
            _("This lead is now %(stage)s: someone else changed it first.")
            % {"stage": locked.get_stage_display()},
            code="stale",
        )
    problem = transition_problem(
        lead=locked, to_stage=to_stage, at=at or timezone.now(), history=history
    )
    if problem is not None:
        raise problem
    now = timezone.now()
    at = at or now
    event = StageEvent.objects.create(
        lead=locked,
        from_stage=locked.stage,
        to_stage=to_stage,
        at=at,
        actor=actor if actor is not None and actor.is_authenticated else None,
        origin=origin,
        reason=reason,
        note=note,
        ruleset_version=ruleset_version,
        context=dict(context or {}),
        skipped=not locked.can_transition_to(to_stage),
    )
    Lead.objects.filter(pk=locked.pk).update(stage=to_stage, stage_changed_at=at, updated_at=now)
    lead.stage, lead.stage_changed_at, lead.updated_at = to_stage, at, now
    # The hand-off follows, then the report facts (settings.LIFECYCLE_FOLLOWERS), inside this
    # transaction: a stage change never commits without them.
    _follow("stage_changed", event)
    if to_stage == Stage.RECYCLED:
        # Back in nurture: its score decides again when it becomes an MQL.
        notify_lead_changed([locked.pk])
    return event


def company_for_input(data: Mapping[str, Any]) -> Company | None:
    """The company a lead's input names (by domain, else name), created or updated."""
    name = (data.get("company_name") or "").strip()
    domain = (data.get("company_domain") or "").strip().lower()
    if not name and not domain:
        return None
    company = None
    if domain:
        company = Company.objects.filter(domain__iexact=domain).first()
    if company is None and name:
        company = Company.objects.filter(name__iexact=name, domain__in=["", domain]).first()
    if company is None:
        company = Company(name=name or domain, domain=domain)
    changed = company.pk is None
    for attr in Company.PROFILE_FIELDS:
        if attr in data and data[attr] not in (None, "") and getattr(company, attr) != data[attr]:
            setattr(company, attr, data[attr])
            changed = True
    if domain and not company.domain:
        company.domain, changed = domain, True
    if changed:
        company.save()
    return company


def lead_apply(*, lead: Lead, data: Mapping[str, Any], now: dt.datetime) -> None:
    """Validated input onto a lead (not saved): blank values never overwrite known ones,
    custom attributes merge, the company is found or created. Upsert and import share it."""
    for attr in Lead.PROFILE_FIELDS:
        value = data.get(attr)
        if value not in (None, ""):
            setattr(lead, attr, value)
    if data.get("custom"):
        lead.custom = {**(lead.custom or {}), **data["custom"]}
    if data.get("owner") is not None:
        lead.owner = data["owner"]
    company = company_for_input(data)
    if company is not None:
        lead.company = company
    lead.updated_at = now


def lead_upsert(
    *, data: Mapping[str, Any], identity: tuple[str, str] | None = None, _retry: bool = True
) -> tuple[Lead, bool]:
    """Create or update a lead by e-mail (case-insensitive) from validated input.

    E-mails arrive normalised (`core.validation.email_normalize`) and are matched with the
    database's LOWER() on both sides, the rule of the unique index, so the lookup and the
    index never disagree. Blank values never overwrite known ones; custom attributes are
    merged. Returns (lead, created).
    """
    email = data["email"].strip()
    with transaction.atomic():
        # Lower() = Lower() uses the case-insensitive unique index; __iexact would not.
        lead: Lead | None = (
            Lead.objects.select_for_update()
            .alias(email_ci=Lower("email"))
            .filter(email_ci=Lower(Value(email)))
            .first()
        )
        if lead is None and identity:
            lead = (
                Lead.objects.select_for_update()
                .filter(identities__source_system=identity[0], identities__external_id=identity[1])
                .first()
            )
            if lead is not None:
                # The same contact under a new e-mail.
                lead.email = email
        created = lead is None
        if lead is None:
            lead = Lead(email=email)
        lead_apply(lead=lead, data=data, now=timezone.now())
        if data.get("deleted"):
            lead.deleted_at = lead.deleted_at or timezone.now()
        try:
            with transaction.atomic():
                lead.save()
        except IntegrityError:
            # Another request created the same e-mail a moment ago: update that one, once.
            if not created or not _retry:
                raise
            return lead_upsert(data=data, identity=identity, _retry=False)
        if identity:
            LeadIdentity.objects.get_or_create(
                source_system=identity[0], external_id=identity[1], defaults={"lead": lead}
            )
        notify_lead_changed([lead.pk])
    return lead, created


def activity_add(
    *,
    lead: Lead,
    kind: str,
    occurred_at: dt.datetime,
    properties: Mapping[str, Any] | None = None,
    source_system: str = "api",
    external_id: str | None = None,
) -> tuple[Activity, bool]:
    """Record an activity. A resend with the same source and external id creates nothing.

    Returns (activity, created).
    """
    if external_id:
        existing = Activity.objects.filter(
            source_system=source_system, external_id=external_id
        ).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            activity = Activity.objects.create(
                lead=lead,
                kind=kind,
                occurred_at=occurred_at,
                properties=dict(properties or {}),
                source_system=source_system,
                external_id=external_id or None,
            )
            # In the same transaction: the activity never commits without its rescore intent.
            notify_lead_changed([lead.pk])
    except IntegrityError:
        # A concurrent resend won the race; the unique constraint kept one row.
        return Activity.objects.get(source_system=source_system, external_id=external_id), False
    return activity, True


def _no_lead(field: str) -> dict[str, list[str]]:
    if field == "lead_id":
        return {"lead_id": [_("No lead with this id.")]}
    return {"email": [_("No lead with this e-mail.")]}


def _match_lead(
    data: Mapping[str, Any], by_id: Mapping[int, Lead], by_email: Mapping[str, Lead]
) -> Lead:
    """The lead an activity names, by lead_id or else by e-mail; a ValidationError if none.

    Leads are never created implicitly: an activity for an unknown person is an error the
    sender has to fix (send the lead first).
    """
    email = data.get("email") or ""
    if data.get("lead_id"):
        lead = by_id.get(data["lead_id"])
        if lead is None:
            raise ValidationError(_no_lead("lead_id"))
        if email and email_key(lead.email) != email_key(email):
            raise ValidationError({"email": [_("This is not the e-mail of that lead_id.")]})
        return lead
    lead = by_email.get(email_key(email))
    if lead is None:
        raise ValidationError(_no_lead("email"))
    return lead


def _visible_leads(
    *, user: Any, ids: Iterable[int], emails: Iterable[str]
) -> tuple[dict[int, Lead], dict[str, Lead]]:
    """The leads the user may see among these ids and e-mails, in one query."""
    ids = {i for i in ids if i <= MAX_ID}
    emails = set(emails)
    if not ids and not emails:
        return {}, {}
    # LOWER(email) on both sides, as in the unique index, so the lookup can use that index.
    keys = set(db_lower(emails).values())
    match = Q(pk__in=ids) | Q(email_lower__in=keys)
    qs = (
        Lead.objects.filter(lead_visible_q(user))
        .annotate(email_lower=Lower("email"))
        .filter(match)
        .only("id", "email")
    )
    leads = list(qs)
    return {lead.pk: lead for lead in leads}, {lead.email_lower: lead for lead in leads}


def _stored_activity_ids(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids of activities already stored under these (source_system, external_id) pairs."""
    if not keys:
        return {}
    rows = Activity.objects.filter(
        external_id__isnull=False,
        source_system__in={s for s, _e in keys},
        external_id__in={e for _s, e in keys},
    ).values_list("source_system", "external_id", "pk")
    return {(s, e): pk for s, e, pk in rows if e is not None and (s, e) in keys}


def _activity_key(data: Mapping[str, Any]) -> tuple[str, str] | None:
    external_id = data.get("external_id")
    return (data["source_system"], external_id) if external_id else None


def _activities_store(pending: list[Activity]) -> list[tuple[int | None, bool]]:
    """Store new activities; (id, created) for each, in order, (None, False) for one the
    database refused.

    The caller checked for stored duplicates, so normally this is one bulk insert. If another
    request stored one of the same events in between, the unique constraint stops the insert
    and we fall back to the service one by one, which tells duplicates apart; so does any
    other database refusal, which then fails only its own item.
    """
    if not pending:
        return []
    if connection.features.can_return_rows_from_bulk_insert:
        try:
            with transaction.atomic():
                Activity.objects.bulk_create(pending, batch_size=1000)
            return [(activity.pk, True) for activity in pending]
        except DatabaseError:
            for activity in pending:
                activity.pk = None
            # rolled back as a whole; redo item by item below
    # Each call notifies scoring itself; the caller's single notify then repeats those ids,
    # which only costs a redundant rescore on this rare path.
    out: list[tuple[int | None, bool]] = []
    for activity in pending:
        try:
            stored, created = activity_add(
                lead=activity.lead,
                kind=activity.kind,
                occurred_at=activity.occurred_at,
                properties=activity.properties,
                source_system=activity.source_system,
                external_id=activity.external_id,
            )
        except DatabaseError:
            logger.exception("activity refused by the database")
            out.append((None, False))
        else:
            out.append((stored.pk, created))
    return out


def activity_lead(*, user: Any, data: Mapping[str, Any]) -> Lead:
    """The visible lead one activity names (by lead_id, else e-mail); ValidationError if none."""
    by_id, by_email = _visible_leads(
        user=user,
        ids=[data["lead_id"]] if data.get("lead_id") else [],
        emails=[data["email"]] if data.get("email") and not data.get("lead_id") else [],
    )
    return _match_lead(data, by_id, by_email)


def activity_add_many(
    *, user: Any, items: list[Mapping[str, Any]]
) -> list[tuple[str, int | None, dict[str, list[str]] | None]]:
    """Record a batch of validated activities; (status, id, errors) per item, in order.

    Set-based: one query finds the leads, one finds already stored events, one bulk insert
    writes the rest. Resends (same source_system and external_id, stored before or earlier
    in the same batch) are "duplicate" and write nothing. Leads are not created implicitly.
    """
    outcomes: list[Any] = [None] * len(items)  # every slot is filled below
    by_id, by_email = _visible_leads(
        user=user,
        ids=(d["lead_id"] for d in items if d.get("lead_id")),
        emails=(d["email"] for d in items if d.get("email") and not d.get("lead_id")),
    )
    stored = _stored_activity_ids({k for d in items if (k := _activity_key(d))})

    pending: list[Activity] = []
    pending_index: list[int] = []
    first_in_batch: dict[tuple[str, str], int] = {}  # key -> position in pending
    repeats: list[tuple[int, int]] = []  # (item index, position in pending)
    for index, data in enumerate(items):
        try:
            lead = _match_lead(data, by_id, by_email)
        except ValidationError as exc:
            outcomes[index] = ("error", None, exc.message_dict)
            continue
        key = _activity_key(data)
        if key in stored:
            outcomes[index] = ("duplicate", stored[key], None)
            continue
        if key in first_in_batch:
            repeats.append((index, first_in_batch[key]))
            continue
        if key is not None:
            first_in_batch[key] = len(pending)
        pending.append(
            Activity(
                lead=lead,
                kind=data["kind"],
                occurred_at=data["occurred_at"],
                properties=dict(data.get("properties") or {}),
                source_system=data["source_system"],
                external_id=data.get("external_id") or None,
            )
        )
        pending_index.append(index)

    with transaction.atomic():
        # The activities and their leads' rescore intent commit together.
        written = _activities_store(pending)
        touched = [a.lead_id for a, (_pk, created) in zip(pending, written, strict=True) if created]
        # Once for the whole batch, so scoring sees one change per lead, not one per event.
        notify_lead_changed(touched)
    refused = {"non_field_errors": [_("The database refused this item; nothing was stored.")]}
    for index, (pk, created) in zip(pending_index, written, strict=True):
        if pk is None:
            outcomes[index] = ("error", None, refused)
        else:
            outcomes[index] = ("created" if created else "duplicate", pk, None)
    for index, position in repeats:
        pk = written[position][0]
        outcomes[index] = ("error", None, refused) if pk is None else ("duplicate", pk, None)
    return outcomes


def lead_mark_deleted(*, lead: Lead) -> None:
    """The source system deleted the contact: hide it from lists, keep its history."""
    Lead.objects.filter(pk=lead.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
