"""State-changing actions of the SLA: hand-offs, routing, the rep's actions, breaches."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from leads import roles
from leads.models import Lead, Stage, StageEvent, Team, rejection_reasons
from leads.services import handoff_changed, lead_transition
from notifications.models import Notification
from signoff import notices
from signoff import services as signoff
from signoff.models import ApprovalBase

from .calendar import BusinessCalendar
from .models import (
    Assignment,
    Breach,
    ContactLog,
    Handoff,
    RejectionFix,
    RoutingCounter,
    RoutingRule,
    SlaVersion,
)

logger = logging.getLogger(__name__)
User = get_user_model()

# Notifications are for what is happening now; replayed history (CSV import, demo seed)
# updates hand-offs and records breaches silently.
NOTIFY_WINDOW = dt.timedelta(hours=24)


def sla_live() -> SlaVersion:
    """The agreement in force. There is always one: the defaults until the teams sign theirs."""
    version = (
        SlaVersion.objects.filter(status=SlaVersion.Status.PUBLISHED).order_by("-number").first()
    )
    if version is None:
        # Migrations create version 1; this covers a flushed database.
        version, _created = SlaVersion.objects.get_or_create(
            number=1,
            defaults={
                "status": SlaVersion.Status.PUBLISHED,
                "holiday_country": "JP" if settings.TIME_ZONE == "Asia/Tokyo" else "",
                "published_at": timezone.now(),
                "effective_from": timezone.now(),
            },
        )
    return version


def sla_in_force(at: dt.datetime) -> SlaVersion | None:
    """The agreement that governs an MQL at `at`: of the versions ever published, the one
    that took effect last at or before `at`; None before the first took effect (history
    from before any SLA: no deadlines, no breaches, no notices)."""
    return (
        SlaVersion.objects.exclude(status=SlaVersion.Status.DRAFT)
        .filter(Q(effective_from__lte=at) | Q(effective_from__isnull=True))
        .order_by(F("effective_from").desc(nulls_last=True), "-number")
        .first()
    )


@functools.lru_cache(maxsize=32)
def _calendar_cached(key: tuple) -> BusinessCalendar:
    time_zone, working_days, day_start, day_end, country, subdivision, closed = key
    return BusinessCalendar.build(
        time_zone=time_zone,
        working_days=working_days,
        day_start=day_start,
        day_end=day_end,
        holiday_country=country,
        holiday_subdivision=subdivision,
        closed_dates=closed,
    )


def calendar_for(version: SlaVersion) -> BusinessCalendar:
    """The version's business calendar; built once per distinct calendar (holidays are costly)."""
    key = (
        version.time_zone,
        tuple(sorted(version.working_days)),
        version.day_start,
        version.day_end,
        version.holiday_country,
        version.holiday_subdivision,
        tuple(sorted(version.closed_days.values_list("date", flat=True))),
    )
    return _calendar_cached(key)


def business_hours_per_day(version: SlaVersion) -> dt.timedelta:
    start = dt.datetime.combine(dt.date(2000, 1, 3), version.day_start)
    end = dt.datetime.combine(dt.date(2000, 1, 3), version.day_end)
    return end - start


# --------------------------------------------------------------------------------------------
# Routing


def _sales_reps() -> Any:
    return User.objects.filter(is_active=True, groups__name=roles.SALES_REP)


def _route_team(lead: Lead) -> Team | None:
    company = lead.company
    for rule in RoutingRule.objects.select_related("team").order_by("position", "id"):
        if rule.field == RoutingRule.Field.COUNTRY:
            value = (lead.country or (company.country if company else "")).strip().lower()
            if value and value in {v.strip().lower() for v in rule.values}:
                return rule.team
        elif rule.field == RoutingRule.Field.INDUSTRY:
            value = (company.industry if company else "").strip().lower()
            if value and value in {v.strip().lower() for v in rule.values}:
                return rule.team
        elif rule.field == RoutingRule.Field.EMPLOYEES:
            employees = company.employees if company else None
            if employees is not None and (
                (rule.min_employees is None or employees >= rule.min_employees)
                and (rule.max_employees is None or employees <= rule.max_employees)
            ):
                return rule.team
    return (
        Team.objects.filter(members__user__in=_sales_reps(), members__is_away=False)
        .order_by("name")
        .first()
    )


def route(lead: Lead) -> tuple[Team | None, Any]:
    """Pick the team (routing rules) and the rep (weighted round-robin, skipping reps away).

    The team row is locked while counting, so two MQLs routed at once never both go to
    the rep who was behind. With equal weights no rep gets more than one lead more than any
    other available rep.
    """
    owner = lead.owner
    if owner is not None and owner.is_active and owner.groups.filter(name=roles.SALES_REP).exists():
        profile = getattr(owner, "profile", None)
        if profile is None or not profile.is_away:
            return (profile.team if profile else None), owner
    team = _route_team(lead)
    if team is None:
        return None, None
    Team.objects.select_for_update().filter(pk=team.pk).first()
    reps = list(
        _sales_reps()
        .filter(profile__team=team, profile__is_away=False)
        .select_related("profile")
        .order_by("pk")
    )
    if not reps:
        return team, None
    counters = {c.user_id: c for c in RoutingCounter.objects.filter(team=team, user__in=reps)}
    for rep in reps:
        if rep.pk not in counters:
            counters[rep.pk] = RoutingCounter.objects.create(team=team, user=rep, assigned=0)

    def load(rep) -> tuple[float, int]:
        weight = max(1, rep.profile.routing_weight)
        return (counters[rep.pk].assigned + 1) / weight, rep.pk

    chosen = min(reps, key=load)
    RoutingCounter.objects.filter(pk=counters[chosen.pk].pk).update(assigned=F("assigned") + 1)
    return team, chosen


# --------------------------------------------------------------------------------------------
# Hand-offs follow the lifecycle


def handoff_follow_stage(event: StageEvent) -> None:
    """After every stage change (settings.LIFECYCLE_FOLLOWERS): open the hand-off on MQL,
    accept it on SAL, close it on SQL, recycle or disqualification."""
    if event.to_stage == Stage.MQL:
        handoff_open(event=event)
        return
    # The hand-off of the lead's latest MQL: none when that MQL came before any SLA (an
    # older MQL's hand-off is not this one).
    mql_event = (
        StageEvent.objects.filter(lead_id=event.lead_id, to_stage=Stage.MQL, at__lte=event.at)
        .order_by("-at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    handoff = Handoff.objects.select_for_update().filter(mql_event_id=mql_event).first()
    if handoff is None:
        return
    if event.to_stage == Stage.SAL:
        hours = (
            business_hours_per_day(handoff.sla_version) * handoff.sla_version.qualify_within_days
        )
        handoff.accepted_at = event.at
        handoff.status = Handoff.Status.ACCEPTED
        handoff.qualify_due_at = calendar_for(handoff.sla_version).add(event.at, hours)
    elif event.to_stage == Stage.REJECTED and handoff.status == Handoff.Status.OPEN:
        handoff.rejected_at = event.at
        handoff.status = Handoff.Status.REJECTED
        handoff.outcome = event.reason
    elif event.to_stage in (Stage.SQL, Stage.RECYCLED, Stage.DISQUALIFIED):
        if handoff.status in (Handoff.Status.ACCEPTED, Handoff.Status.OPEN):
            handoff.closed_at = event.at
            handoff.status = Handoff.Status.CLOSED
            handoff.outcome = event.to_stage
        else:
            return
    else:
        return
    handoff.save()


def handoff_open(*, event: StageEvent) -> Handoff | None:
    """An MQL reaches sales: the SLA in force at the MQL governs it, deadlines are stored.
    Before the first SLA took effect there is nothing to judge it by: no hand-off. Imported
    history never notifies anyone, whatever its dates."""
    version = sla_in_force(event.at)
    if version is None:
        return None
    lead = Lead.objects.select_related("company", "owner").get(pk=event.lead_id)
    imported = event.origin == StageEvent.Origin.IMPORT
    calendar = calendar_for(version)
    hot = bool(
        lead.fast_tracked
        or event.reason == "fast_track"
        or (version.hot_score is not None and lead.total_score >= version.hot_score)
    )
    first_contact = (
        dt.timedelta(minutes=version.first_contact_hot_minutes)
        if hot
        else dt.timedelta(hours=version.first_contact_hours)
    )
    team, rep = route(lead)
    handoff = Handoff.objects.create(
        lead=lead,
        mql_event=event,
        sla_version=version,
        team=team,
        rep=rep,
        hot=hot,
        mql_at=event.at,
        imported=imported,
        accept_due_at=calendar.add(event.at, dt.timedelta(hours=version.accept_within_hours)),
        first_contact_due_at=calendar.add(event.at, first_contact),
    )
    if rep is not None:
        if lead.owner_id != rep.pk:
            Lead.objects.filter(pk=lead.pk).update(owner=rep)
        Assignment.objects.create(
            lead=lead,
            handoff=handoff,
            user=rep,
            team=team,
            assigned_by=None,
            # Stored in English and translated where shown: the page speaks its reader's
            # language, not the language of whoever's request made the MQL.
            reason=gettext_noop("Routed on MQL"),
            at=event.at,
        )
        if _is_live(event.at) and not imported:
            from . import notifications

            notifications.handoff_assigned(handoff=handoff)
    return handoff


def _is_live(at: dt.datetime) -> bool:
    return at >= timezone.now() - NOTIFY_WINDOW


# --------------------------------------------------------------------------------------------
# What reps and managers do


def can_act(user: Any, lead: Lead) -> bool:
    """A rep acts on their own leads; a sales manager on their team's."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.has_perm("leads.accept_lead"):
        return False
    if lead.owner_id == user.pk:
        return True
    if user.has_perm("leads.view_team_leads") and lead.owner_id:
        team_id = getattr(getattr(user, "profile", None), "team_id", None)
        owner_team = getattr(getattr(lead.owner, "profile", None), "team_id", None)
        return team_id is not None and team_id == owner_team
    return False


def _check(user: Any, lead: Lead, perm: str) -> None:
    if not user.has_perm(perm) or not can_act(user, lead):
        raise PermissionDenied(_("This lead is not yours to act on."))


def lead_accept(*, lead: Lead, user: Any) -> StageEvent:
    _check(user, lead, "leads.accept_lead")
    return lead_transition(lead=lead, to_stage=Stage.SAL, actor=user, expected_stage=Stage.MQL)


def handoff_make_hot(lead_id: int, at: dt.datetime) -> Handoff | None:
    """A fast-track on an open MQL: the hand-off turns hot and its first-contact deadline
    tightens to the hot one counted from now (never loosens), and the rep is told."""
    from . import notifications

    handoff = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("sla_version", "lead__company", "rep", "mql_event")
        .filter(lead_id=lead_id, status__in=[Handoff.Status.OPEN, Handoff.Status.ACCEPTED])
        .order_by("-mql_at")
        .first()
    )
    if handoff is None or handoff.first_contact_at is not None:
        return None
    version = handoff.sla_version
    hot_due = calendar_for(version).add(at, dt.timedelta(minutes=version.first_contact_hot_minutes))
    due = min(handoff.first_contact_due_at, hot_due)
    if handoff.hot and due == handoff.first_contact_due_at:
        return None
    Handoff.objects.filter(pk=handoff.pk).update(hot=True, first_contact_due_at=due)
    handoff.hot, handoff.first_contact_due_at = True, due
    handoff_changed(handoff.pk)
    if handoff.rep is not None and handoff.rep.is_active:
        notifications.became_hot(handoff=handoff)
    return handoff


def lead_reject(*, lead: Lead, user: Any, reason: str, note: str = "") -> StageEvent:
    _check(user, lead, "leads.accept_lead")
    if reason not in dict(rejection_reasons()):
        raise ValidationError({"reason": [_("Choose a rejection reason from the list.")]})
    return lead_transition(
        lead=lead,
        to_stage=Stage.REJECTED,
        actor=user,
        expected_stage=Stage.MQL,
        reason=reason,
        note=note,
    )


BANT_FIELDS = ("budget", "authority", "need", "timeline")


def lead_qualify(*, lead: Lead, user: Any, bant: Mapping[str, str], note: str = "") -> StageEvent:
    _check(user, lead, "leads.qualify_lead")
    missing = [f for f in BANT_FIELDS if not (bant.get(f) or "").strip()]
    if missing:
        raise ValidationError({f: [_("Say what you learned about this.")] for f in missing})
    return lead_transition(
        lead=lead,
        to_stage=Stage.SQL,
        actor=user,
        expected_stage=Stage.SAL,
        note=note,
        context={"bant": {f: bant[f].strip() for f in BANT_FIELDS}},
    )


def marketing_takes_back(user: Any, lead: Lead) -> bool:
    """Marketing may send a lead sales rejected back to nurture (sales said no already)."""
    return lead.stage == Stage.REJECTED and may_follow_up_rejections(user)


def lead_recycle(*, lead: Lead, user: Any, reason: str = "", note: str = "") -> StageEvent:
    if not marketing_takes_back(user, lead):
        _check(user, lead, "leads.qualify_lead")
    if lead.stage not in (Stage.SAL, Stage.REJECTED):
        raise ValidationError(_("Only accepted or rejected leads can be recycled."))
    return lead_transition(
        lead=lead,
        to_stage=Stage.RECYCLED,
        actor=user,
        expected_stage=lead.stage,
        reason=reason,
        note=note,
    )


def may_follow_up_rejections(user: Any) -> bool:
    """Marketing answers sales' rejections: recycles the lead or fixes its data."""
    return bool(
        user.is_active
        and user.has_perm("leads.view_all_leads")
        and user.has_perm("leads.change_lead")
    )


@transaction.atomic
def rejection_fix(*, event: StageEvent, user: Any, note: str = "") -> RejectionFix:
    """Record that marketing corrected the data sales rejected the lead for."""
    if not may_follow_up_rejections(user):
        raise PermissionDenied(_("Only marketing can mark a rejection fixed."))
    if event.to_stage != Stage.REJECTED:
        raise ValidationError(_("This is not a rejection."))
    fix, created = RejectionFix.objects.get_or_create(
        event=event, defaults={"actor": user, "note": note}
    )
    if not created:
        raise ValidationError(_("This rejection is already marked fixed."))
    return fix


def rejection_recycle(*, event: StageEvent, user: Any, reason: str, note: str = "") -> StageEvent:
    """Send the lead of a rejection back to nurture; only while that rejection is where the
    lead stands (a lead that moved on since is refused by the lifecycle)."""
    if event.to_stage != Stage.REJECTED:
        raise ValidationError(_("This is not a rejection."))
    lead = Lead.objects.select_related("owner").get(pk=event.lead_id)
    latest = lead.stage_events.order_by("-at", "-id").values_list("pk", flat=True).first()
    if lead.stage != Stage.REJECTED or latest != event.pk:
        raise ValidationError(
            _("The lead has moved on since this rejection (now %(stage)s).")
            % {"stage": lead.get_stage_display()}
        )
    return lead_recycle(lead=lead, user=user, reason=reason, note=note)


def lead_disqualify(*, lead: Lead, user: Any, reason: str, note: str = "") -> StageEvent:
    _check(user, lead, "leads.qualify_lead")
    if not reason:
        raise ValidationError({"reason": [_("Say why the lead is disqualified.")]})
    return lead_transition(
        lead=lead,
        to_stage=Stage.DISQUALIFIED,
        actor=user,
        expected_stage=Stage.SAL,
        reason=reason,
        note=note,
    )


@transaction.atomic
def contact_log(
    *, lead: Lead, user: Any, channel: str, at: dt.datetime, note: str = ""
) -> ContactLog:
    _check(user, lead, "leads.qualify_lead")
    if channel not in ContactLog.Channel.values:
        raise ValidationError({"channel": [_("Choose call, e-mail or meeting.")]})
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"at": [_("A contact cannot be in the future.")]})
    handoff = (
        Handoff.objects.select_for_update()
        .filter(lead=lead, status__in=[Handoff.Status.OPEN, Handoff.Status.ACCEPTED])
        .order_by("-mql_at")
        .first()
    )
    if handoff is not None and at < handoff.mql_at:
        raise ValidationError({"at": [_("The contact is dated before the lead became an MQL.")]})
    log = ContactLog.objects.create(
        lead=lead, handoff=handoff, user=user, channel=channel, at=at, note=note
    )
    if handoff is not None and (handoff.first_contact_at is None or at < handoff.first_contact_at):
        Handoff.objects.filter(pk=handoff.pk).update(first_contact_at=at)
        handoff_changed(handoff.pk)
    return log


@transaction.atomic
def lead_reassign(*, lead: Lead, to_user: Any, by: Any, note: str = "") -> Assignment:
    if not by.has_perm("leads.reassign_lead") or not (can_act(by, lead) or lead.owner_id is None):
        raise PermissionDenied(_("You cannot reassign this lead."))
    if not to_user.is_active or not to_user.groups.filter(name=roles.SALES_REP).exists():
        raise ValidationError({"to_user": [_("Choose an active sales rep.")]})
    locked = Lead.objects.select_for_update(of=("self",)).select_related("owner").get(pk=lead.pk)
    if locked.owner_id == to_user.pk:
        raise ValidationError({"to_user": [_("The lead is already theirs.")]})
    previous = locked.owner
    Lead.objects.filter(pk=lead.pk).update(owner=to_user, updated_at=timezone.now())
    lead.owner = to_user
    handoff = (
        Handoff.objects.filter(lead=lead)
        .exclude(status__in=[Handoff.Status.CLOSED, Handoff.Status.REJECTED])
        .order_by("-mql_at")
        .first()
    )
    team = getattr(getattr(to_user, "profile", None), "team", None)
    if handoff is not None:
        Handoff.objects.filter(pk=handoff.pk).update(rep=to_user, team=team)
        handoff.rep, handoff.team = to_user, team
        handoff_changed(handoff.pk)
    assignment = Assignment.objects.create(
        lead=lead, handoff=handoff, user=to_user, team=team, assigned_by=by, reason=note
    )
    if handoff is not None:
        from . import notifications

        notifications.handoff_assigned(handoff=handoff, reassigned_by=by)
        if previous is not None and previous.is_active:
            notifications.reassigned_away(handoff=handoff, previous=previous, by=by)
    return assignment


# --------------------------------------------------------------------------------------------
# Breaches


def _breach_queries(now: dt.datetime) -> dict[str, tuple[Q, str]]:
    return {
        Breach.Kind.ACCEPT: (
            Q(accept_due_at__lt=now)
            & (
                # Closed with neither: imported history that skipped an unrecorded SAL.
                Q(accepted_at__isnull=True, rejected_at__isnull=True, closed_at__isnull=True)
                | Q(accepted_at__gt=F("accept_due_at"))
                | Q(rejected_at__gt=F("accept_due_at"))
            ),
            "accept_due_at",
        ),
        Breach.Kind.FIRST_CONTACT: (
            Q(first_contact_due_at__lt=now, rejected_at__isnull=True)
            & (
                Q(first_contact_at__isnull=True) | Q(first_contact_at__gt=F("first_contact_due_at"))
            ),
            "first_contact_due_at",
        ),
        Breach.Kind.QUALIFY: (
            Q(qualify_due_at__lt=now)
            & (Q(closed_at__isnull=True) | Q(closed_at__gt=F("qualify_due_at"))),
            "qualify_due_at",
        ),
    }


def breach_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Mark each missed deadline once, tell the rep, escalate after the grace period.

    Safe to run twice or in parallel: breaches are unique per hand-off and kind, and each
    notification is claimed with a conditional update before it is sent.
    """
    from . import notifications

    now = now or timezone.now()
    found = 0
    for kind, (query, due_field) in _breach_queries(now).items():
        rows = (
            Handoff.objects.filter(query)
            .exclude(breaches__kind=kind)
            .values_list("pk", due_field)[:5000]
        )
        created = Breach.objects.bulk_create(
            [Breach(handoff_id=pk, kind=kind, due_at=due, detected_at=now) for pk, due in rows],
            ignore_conflicts=True,
        )
        found += len(created)
    notified = escalated = 0
    for breach in Breach.objects.filter(notified_at__isnull=True).select_related(
        "handoff__lead", "handoff__rep"
    )[:1000]:
        with transaction.atomic():
            if not Breach.objects.filter(pk=breach.pk, notified_at__isnull=True).update(
                notified_at=now
            ):
                continue
            if (
                breach.due_at >= now - NOTIFY_WINDOW
                and breach.handoff.rep_id
                and not breach.handoff.imported
            ):
                notifications.breach(breach=breach)
                notified += 1
    pending = Breach.objects.filter(escalated_at__isnull=True).select_related(
        "handoff__sla_version", "handoff__lead", "handoff__team", "handoff__rep"
    )[:1000]
    for breach in pending:
        grace = dt.timedelta(minutes=breach.handoff.sla_version.escalation_grace_minutes)
        if breach.due_at + grace > now:
            continue
        if _resolved(breach) or breach.handoff.imported:
            Breach.objects.filter(pk=breach.pk, escalated_at__isnull=True).update(escalated_at=now)
            continue
        with transaction.atomic():
            if not Breach.objects.filter(pk=breach.pk, escalated_at__isnull=True).update(
                escalated_at=now
            ):
                continue
            if breach.due_at >= now - NOTIFY_WINDOW - grace:
                notifications.escalation(breach=breach)
                escalated += 1
    return {"breaches": found, "notified": notified, "escalated": escalated}


# How long before a deadline its rep is warned (once per deadline).
DEADLINE_NEAR = dt.timedelta(minutes=15)


def deadline_near_sweep(*, now: dt.datetime | None = None) -> int:
    """Warn each rep once when an accept or first-contact deadline of theirs is near.

    Safe to run twice or in parallel: the hand-off row is locked while the warning (keyed by
    the deadline, so a tightened deadline warns again) is looked up and written.
    """
    from . import notifications

    now = now or timezone.now()
    soon = now + DEADLINE_NEAR
    steps = (
        (
            Q(status=Handoff.Status.OPEN, accept_due_at__gt=now, accept_due_at__lte=soon),
            "accept_due_at",
            Breach.Kind.ACCEPT,
        ),
        (
            Q(
                status=Handoff.Status.ACCEPTED,
                first_contact_at__isnull=True,
                first_contact_due_at__gt=now,
                first_contact_due_at__lte=soon,
            ),
            "first_contact_due_at",
            Breach.Kind.FIRST_CONTACT,
        ),
    )
    warned = 0
    for query, due_field, kind in steps:
        for pk in Handoff.objects.filter(query, rep__isnull=False).values_list("pk", flat=True)[
            :1000
        ]:
            with transaction.atomic():
                handoff = (
                    Handoff.objects.select_for_update(of=("self",))
                    .select_related("lead", "rep", "sla_version")
                    .filter(pk=pk)
                    .first()
                )
                if handoff is None or handoff.rep is None:
                    continue
                due_at = getattr(handoff, due_field)
                about = f"handoff:{pk}:near:{kind}:{due_at.isoformat()}"
                if Notification.objects.filter(about=about).exists():
                    continue
                notifications.deadline_near(handoff=handoff, kind=kind, due_at=due_at, about=about)
                warned += 1
    return warned


def _resolved(breach: Breach) -> bool:
    """The rep has since done what was due: no escalation for a late but done step."""
    handoff = breach.handoff
    if breach.kind == Breach.Kind.ACCEPT:
        return handoff.accepted_at is not None or handoff.rejected_at is not None
    if breach.kind == Breach.Kind.FIRST_CONTACT:
        return handoff.first_contact_at is not None or handoff.rejected_at is not None
    return handoff.closed_at is not None


# --------------------------------------------------------------------------------------------
# The agreement itself: drafts signed by both sides, like rule sets


@transaction.atomic
def sla_draft_get_or_create(*, user: Any) -> SlaVersion:
    from django.db.models import Max

    from .models import ClosedDay

    draft = SlaVersion.objects.select_for_update().filter(status=SlaVersion.Status.DRAFT).first()
    if draft is not None:
        return draft
    live = sla_live()
    number = (SlaVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    draft = SlaVersion.objects.create(
        number=number,
        created_by=user if user and user.is_authenticated else None,
        **{f: getattr(live, f) for f in SlaVersion.TERMS},
    )
    ClosedDay.objects.bulk_create(
        ClosedDay(version=draft, date=d.date, name=d.name) for d in live.closed_days.all()
    )
    return draft


def sla_validate(version: SlaVersion) -> dict[str, str]:
    from .calendar import CalendarFieldError, public_holidays, validate_calendar_fields

    errors: dict[str, str] = {}
    try:
        validate_calendar_fields(
            time_zone=version.time_zone,
            working_days=version.working_days,
            day_start=version.day_start,
            day_end=version.day_end,
        )
        if version.holiday_country:
            public_holidays(version.holiday_country, version.holiday_subdivision, [2026])
    except CalendarFieldError as exc:
        errors[exc.field] = str(exc)
    for field in ("accept_within_hours", "first_contact_hours"):
        if getattr(version, field) <= 0:
            errors[field] = _("Must be more than zero.")
    if not 0 <= version.min_acceptance_rate <= 100:
        errors["min_acceptance_rate"] = _("A percentage from 0 to 100.")
    return errors


def sla_notice_subject(version: SlaVersion) -> notices.Subject:
    from django.urls import reverse
    from django.utils.translation import gettext_lazy

    return notices.Subject(
        draft_name=gettext_lazy("the SLA draft v%(n)d"),
        url=reverse("sla:overview") + "#draft",
        about=f"sla:{version.pk}",
    )


def sla_draft_edited(*, version: SlaVersion, user: Any) -> int:
    approvers = [a.user for a in version.approvals.select_related("user")]
    withdrawn = signoff.withdraw_on_edit(version)
    if withdrawn:
        notices.withdrawn(
            version=version, subject=sla_notice_subject(version), actor=user, approvers=approvers
        )
    return withdrawn


def _sla_unchanged(version: SlaVersion) -> bool:
    from .selectors import sla_diff

    live = sla_live()
    return live.pk != version.pk and not sla_diff(old=live, new=version)


@transaction.atomic
def sla_approve(*, version: SlaVersion, user: Any) -> list[ApprovalBase]:
    approvals = signoff.approve(
        version=version, user=user, problems=sla_validate, unchanged=_sla_unchanged
    )
    notices.approved(
        version=version,
        subject=sla_notice_subject(version),
        actor=user,
        missing=sla_missing_approvals(version),
    )
    return approvals


@transaction.atomic
def sla_request_approval(*, version: SlaVersion, user: Any) -> int:
    if not version.is_draft:
        raise ValidationError(_("Only a draft can be approved."))
    return len(
        notices.approval_requested(version=version, subject=sla_notice_subject(version), actor=user)
    )


sla_missing_approvals = signoff.missing_sides


@transaction.atomic
def sla_publish(*, version: SlaVersion, user: Any) -> SlaVersion:
    version = signoff.publish(version=version, user=user)
    if version.effective_from is None:
        # Takes effect when published: MQLs from before are judged by the version before.
        version.effective_from = version.published_at
        version.save(update_fields=["effective_from"])
    notices.published(version=version, subject=sla_notice_subject(version), actor=user)
    return version


# Edits of the draft: the pages (and the admin's inline rows) write through these, so every
# edit withdraws approvals and is recorded with who made it.


@transaction.atomic
def sla_draft_update(*, version: SlaVersion, data: Mapping[str, Any], user: Any) -> SlaVersion:
    """Change terms of the draft. Refuses (naming the field) what approval would refuse."""
    import copy

    if not version.is_draft:
        raise ValidationError(_("Only a draft can be edited; published versions are read-only."))
    unknown = set(data) - set(SlaVersion.TERMS)
    if unknown:
        raise ValidationError({name: _("Not a term of the SLA.") for name in sorted(unknown)})
    candidate = copy.copy(version)
    for name, value in data.items():
        setattr(candidate, name, value)
    problems = sla_validate(candidate)
    if problems:
        raise ValidationError(
            {field: str(message).removeprefix(f"{field}: ") for field, message in problems.items()}
        )
    for name, value in data.items():
        setattr(version, name, value)
    version._history_user = user  # type: ignore[attr-defined]
    version.save()
    sla_draft_edited(version=version, user=user)
    return version


@transaction.atomic
def closed_day_add(*, version: SlaVersion, date: dt.date, name: str, user: Any) -> Any:
    from .models import ClosedDay

    if not version.is_draft:
        raise ValidationError(_("Only a draft can be edited; published versions are read-only."))
    if version.closed_days.filter(date=date).exists():
        raise ValidationError({"date": _("This day is already closed.")})
    day = ClosedDay(version=version, date=date, name=name)
    day._history_user = user  # type: ignore[attr-defined]
    day.save()
    sla_draft_edited(version=version, user=user)
    return day


@transaction.atomic
def closed_day_delete(*, day: Any, user: Any) -> None:
    version = day.version
    if not version.is_draft:
        raise ValidationError(_("Only a draft can be edited; published versions are read-only."))
    day._history_user = user
    day.delete()
    sla_draft_edited(version=version, user=user)
