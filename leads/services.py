"""State-changing actions on leads. Every stage change goes through `lead_transition`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Activity, Company, Lead, LeadIdentity, Stage, StageEvent

User = get_user_model()

LEAD_ATTRIBUTES = (
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
COMPANY_ATTRIBUTES = ("industry", "employees", "annual_revenue", "listed")

# Called (after commit) with the ids of leads whose attributes or activities changed.
# Scoring registers its rescoring here; kept as a list so leads/ does not import scoring/.
lead_changed_hooks: list[Callable[[list[int]], None]] = []
# Called inside the transaction with every StageEvent, so the SLA keeps each hand-off in
# step (opened on MQL, accepted on SAL, closed on SQL/recycle) whoever moved the lead:
# a rep, scoring, the CSV import of past months.
stage_change_hooks: list[Callable[[StageEvent], None]] = []


class TransitionError(ValidationError):
    """A stage change that the lifecycle or the lead's current state does not allow."""


def notify_lead_changed(lead_ids: list[int]) -> None:
    if not lead_ids or not lead_changed_hooks:
        return
    ids = sorted(set(lead_ids))
    transaction.on_commit(lambda: [hook(ids) for hook in lead_changed_hooks])


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
) -> StageEvent:
    """Move a lead to `to_stage` and record the StageEvent, atomically.

    The lead row is locked, so two people acting on the same lead at once cannot both
    move it: the second sees the stage the first left and gets a TransitionError.
    `expected_stage` lets a caller insist on the stage it showed the user.
    """
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if expected_stage is not None and locked.stage != expected_stage:
        raise TransitionError(
            _("This lead is now %(stage)s: someone else changed it first.")
            % {"stage": locked.get_stage_display()},
            code="stale",
        )
    if not locked.can_transition_to(to_stage):
        raise TransitionError(
            _("A lead cannot go from %(from)s to %(to)s.")
            % {
                "from": locked.get_stage_display(),
                "to": Stage(to_stage).label if to_stage in Stage.values else to_stage,
            },
            code="not_allowed",
        )
    now = timezone.now()
    at = at or now
    if locked.stage_changed_at and at < locked.stage_changed_at:
        raise TransitionError(
            _("The change cannot be dated before the lead's previous stage change (%(at)s).")
            % {"at": locked.stage_changed_at.isoformat()},
            code="out_of_order",
        )
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
    )
    Lead.objects.filter(pk=locked.pk).update(stage=to_stage, stage_changed_at=at, updated_at=now)
    lead.stage, lead.stage_changed_at, lead.updated_at = to_stage, at, now
    for hook in stage_change_hooks:
        hook(event)
    if to_stage == Stage.RECYCLED:
        # Back in nurture: its score decides again when it becomes an MQL.
        notify_lead_changed([locked.pk])
    return event


def _company_for(data: Mapping[str, Any]) -> Company | None:
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
    for attr in COMPANY_ATTRIBUTES:
        if attr in data and data[attr] not in (None, "") and getattr(company, attr) != data[attr]:
            setattr(company, attr, data[attr])
            changed = True
    if domain and not company.domain:
        company.domain, changed = domain, True
    if changed:
        company.save()
    return company


def lead_upsert(
    *, data: Mapping[str, Any], identity: tuple[str, str] | None = None
) -> tuple[Lead, bool]:
    """Create or update a lead by e-mail (case-insensitive) from validated input.

    Blank values never overwrite known ones; custom attributes are merged.
    Returns (lead, created).
    """
    email = data["email"].strip()
    with transaction.atomic():
        # Lower() = Lower() uses the case-insensitive unique index; __iexact would not.
        lead = (
            Lead.objects.select_for_update()
            .alias(email_ci=Lower("email"))
            .filter(email_ci=email.lower())
            .first()
        )
        if lead is None and identity:
            lead = (
                Lead.objects.select_for_update()
                .filter(identities__source_system=identity[0], identities__external_id=identity[1])
                .first()
            )
        created = lead is None
        if created:
            lead = Lead(email=email)
        elif lead.email.lower() != email.lower():
            lead.email = email
        for attr in LEAD_ATTRIBUTES:
            value = data.get(attr)
            if value not in (None, ""):
                setattr(lead, attr, value)
        if data.get("custom"):
            lead.custom = {**(lead.custom or {}), **data["custom"]}
        if "owner" in data and data["owner"] is not None:
            lead.owner = data["owner"]
        company = _company_for(data)
        if company is not None:
            lead.company = company
        lead.updated_at = timezone.now()
        if data.get("deleted"):
            lead.deleted_at = lead.deleted_at or timezone.now()
        try:
            with transaction.atomic():
                lead.save()
        except IntegrityError:
            # Another request created the same e-mail a moment ago: update that one.
            if not created:
                raise
            return lead_upsert(data=data, identity=identity)
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
    except IntegrityError:
        # A concurrent resend won the race; the unique constraint kept one row.
        return Activity.objects.get(source_system=source_system, external_id=external_id), False
    notify_lead_changed([lead.pk])
    return activity, True


def lead_mark_deleted(*, lead: Lead) -> None:
    """The source system deleted the contact: hide it from lists, keep its history."""
    Lead.objects.filter(pk=lead.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
