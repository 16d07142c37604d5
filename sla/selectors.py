"""Reads of the SLA: the rep's queue, the team view, rejections, the lead's hand-off panels,
the agreement in plain words and its change history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case, Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, When
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Activity, Lead, Stage, StageEvent, reason_label
from leads.selectors import lead_visible_q
from scoring.models import Rule
from scoring.templatetags.scoring_tags import rule_condition

from .models import Assignment, Breach, ClosedDay, ContactLog, Handoff, SlaVersion, Weekday

OPEN_STATUSES = (Handoff.Status.OPEN, Handoff.Status.ACCEPTED)
QUEUE_LIMIT = 500
TOP_REASONS = 3


# --------------------------------------------------------------------------------------------
# Queues


def _open_handoffs() -> QuerySet[Handoff]:
    """Open and accepted-but-not-closed hand-offs, soonest next deadline first.

    The ordering mirrors Handoff.next_deadline() in SQL so the database sorts the queue.
    """
    return (
        Handoff.objects.filter(status__in=OPEN_STATUSES, lead__deleted_at__isnull=True)
        .annotate(
            next_due=Case(
                When(status=Handoff.Status.OPEN, then=F("accept_due_at")),
                When(first_contact_at__isnull=True, then=F("first_contact_due_at")),
                default=F("qualify_due_at"),
            )
        )
        .select_related("lead__company", "mql_event", "rep", "team")
        .prefetch_related(
            "breaches",
            Prefetch(
                "lead__activities",
                queryset=Activity.objects.order_by("-occurred_at", "-id")[:3],
                to_attr="latest_activities",
            ),
        )
        .order_by(F("next_due").asc(nulls_last=True), "id")
    )


def queue_for_rep(*, user: Any) -> list[Handoff]:
    return _rows(_open_handoffs().filter(rep=user)[:QUEUE_LIMIT])


def queue_for_team(*, team_id: int) -> list[Handoff]:
    """Every open hand-off of the team: those of its reps, and those routed to it unassigned."""
    rows = _open_handoffs().filter(
        Q(rep__profile__team_id=team_id) | Q(team_id=team_id, rep__isnull=True)
    )
    return _rows(rows[:QUEUE_LIMIT])


# "Due soon" in the team view: the next deadline passes within this time.
DUE_SOON = dt.timedelta(hours=1)


def team_summary(
    *, reps: list[Any], rows: list[Handoff], now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """A row per rep: open, due soon, overdue (from the queue's rows), breached this month and
    accepted today (in the current time zone)."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    ids = [rep.pk for rep in reps]
    breached = dict(
        Breach.objects.filter(handoff__rep_id__in=ids, due_at__gte=month)
        .values_list("handoff__rep_id")
        .annotate(n=Count("id"))
        .values_list("handoff__rep_id", "n")
    )
    accepted = dict(
        Handoff.objects.filter(rep_id__in=ids, accepted_at__gte=today)
        .values_list("rep_id")
        .annotate(n=Count("id"))
        .values_list("rep_id", "n")
    )
    summary = []
    for rep in reps:
        mine = [h for h in rows if h.rep_id == rep.pk]
        overdue = [h for h in mine if h.due and h.due < now]
        soon = [h for h in mine if h.due and now <= h.due < now + DUE_SOON]
        summary.append(
            {
                "rep": rep,
                "open": len(mine),
                "due_soon": len(soon),
                "overdue": len(overdue),
                "breached_month": breached.get(rep.pk, 0),
                "accepted_today": accepted.get(rep.pk, 0),
            }
        )
    return summary


def _month_starts(now: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    this = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = (this - dt.timedelta(days=1)).replace(day=1)
    following = (this + dt.timedelta(days=32)).replace(day=1)
    return last, this, following


def compliance(*, reps: list[Any], now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Each rep's keeping of the SLA for this month and last (months in the current zone):
    of the MQLs handed to them, how many were accepted and first contacted in time."""
    last, this, following = _month_starts(now or timezone.now())
    ids = [rep.pk for rep in reps]
    months = []
    for start, end in ((this, following), (last, this)):
        handoffs = Handoff.objects.filter(rep_id__in=ids, mql_at__gte=start, mql_at__lt=end)
        totals = dict(
            handoffs.values_list("rep_id").annotate(n=Count("id")).values_list("rep_id", "n")
        )
        late: dict[tuple[int, str], int] = {}
        for rep_id, kind, n in (
            Breach.objects.filter(handoff__in=handoffs)
            .values_list("handoff__rep_id", "kind")
            .annotate(n=Count("id"))
            .values_list("handoff__rep_id", "kind", "n")
        ):
            late[(rep_id, kind)] = n
        rows = []
        for rep in reps:
            total = totals.get(rep.pk, 0)
            rows.append(
                {
                    "rep": rep,
                    "mqls": total,
                    "accepted_in_time": total - late.get((rep.pk, Breach.Kind.ACCEPT), 0),
                    "contacted_in_time": total - late.get((rep.pk, Breach.Kind.FIRST_CONTACT), 0),
                    "breaches": sum(n for (r, _k), n in late.items() if r == rep.pk),
                    "rate": (
                        round(100 * (total - late.get((rep.pk, Breach.Kind.ACCEPT), 0)) / total)
                        if total
                        else None
                    ),
                }
            )
        months.append({"start": start, "rows": rows})
    return months


def recent_qualifications(*, team_id: int, days: int = 30, limit: int = 50) -> list[StageEvent]:
    """The team's latest qualifications to SQL with their BANT answers, newest first."""
    since = timezone.now() - dt.timedelta(days=days)
    return list(
        StageEvent.objects.filter(
            to_stage=Stage.SQL, at__gte=since, lead__owner__profile__team_id=team_id
        )
        .select_related("actor", "lead__company", "lead__owner")
        .order_by("-at", "-id")[:limit]
    )


def assignment_away_from(*, user: Any, lead_id: int) -> Assignment | None:
    """The reassignment that took this lead from `user`, when it is no longer theirs."""
    latest = (
        Assignment.objects.filter(lead_id=lead_id)
        .select_related("user", "assigned_by")
        .order_by("-at", "-id")
        .first()
    )
    if latest is None or latest.user_id == user.pk:
        return None
    had_it = Assignment.objects.filter(lead_id=lead_id, user_id=user.pk).exists()
    return latest if had_it else None


def _rows(handoffs: QuerySet[Handoff]) -> list[Handoff]:
    rows = list(handoffs)
    ruleset = None
    for handoff in rows:
        deadline = handoff.next_deadline()
        handoff.deadline_kind = deadline[0] if deadline else ""
        handoff.deadline_label = Breach.Kind(deadline[0]).label if deadline else ""
        handoff.due = deadline[1] if deadline else None
        breaches = list(handoff.breaches.all())
        handoff.breached = bool(breaches)
        handoff.escalated = any(b.escalated_at for b in breaches)
        explanation = (handoff.mql_event.context or {}).get("explanation")
        if explanation is None:
            # An MQL made by hand (or imported) has no frozen reasons: explain it as it
            # scores now. Compiled once per page; the queue is short.
            from scoring import services as scoring

            ruleset = ruleset or scoring.compiled_live()
            result = scoring.lead_explain(lead=handoff.lead, ruleset=ruleset) if ruleset else None
            explanation = result.explanation if result else []
        handoff.top_reasons = top_reasons(explanation)
    return rows


def top_reasons(explanation: list[dict], limit: int = TOP_REASONS) -> list[dict]:
    """Fast-track first, then the rules that moved the score most."""
    useful = [
        item
        for item in explanation
        if item.get("kind") in ("fast_track", "exclusion") or item.get("points")
    ]
    useful.sort(
        key=lambda item: (
            item.get("kind") not in ("fast_track", "exclusion"),
            -abs(item.get("points") or 0),
        )
    )
    return useful[:limit]


# --------------------------------------------------------------------------------------------
# Rejections (marketing's view of what sales sent back)


REJECTION_STATUSES = ("open", "recycled", "fixed")


def rejections(
    *,
    user: Any,
    reason: str = "",
    month: tuple | None = None,
    status: str = "",
    q: str = "",
) -> dict[str, Any]:
    """Sales' rejections the user may see, newest first, each with what marketing did about
    it: `recycled` (the lead went back to nurture after it) or its `fix`; "open" when
    neither. Counts by reason for the same month, status and search."""
    events = StageEvent.objects.filter(to_stage=Stage.REJECTED)
    if not (user.is_superuser or user.has_perm("leads.view_all_leads")):
        events = events.filter(lead__in=Lead.objects.filter(lead_visible_q(user)).values("pk"))
    if month:
        events = events.filter(at__gte=month[0], at__lt=month[1])
    events = events.annotate(
        recycled=Exists(
            StageEvent.objects.filter(
                lead=OuterRef("lead"), to_stage=Stage.RECYCLED, at__gte=OuterRef("at")
            )
        )
    )
    if status == "open":
        events = events.filter(recycled=False, fix__isnull=True)
    elif status == "recycled":
        events = events.filter(recycled=True)
    elif status == "fixed":
        events = events.filter(fix__isnull=False)
    for word in q.split():
        events = events.filter(
            Q(lead__first_name__icontains=word)
            | Q(lead__last_name__icontains=word)
            | Q(lead__email__icontains=word)
            | Q(lead__company__name__icontains=word)
            | Q(note__icontains=word)
        )
    counts = [
        {"reason": row["reason"], "label": reason_label(row["reason"]), "count": row["n"]}
        for row in events.values("reason").annotate(n=Count("id")).order_by("-n", "reason")
    ]
    total = sum(row["count"] for row in counts)
    for row in counts:
        row["share"] = row["count"] * 100 / total if total else 0
    if reason:
        events = events.filter(reason=reason)
    events = events.select_related("lead__company", "actor", "fix__actor").order_by("-at", "-id")
    return {"counts": counts, "total": total, "events": events}


# --------------------------------------------------------------------------------------------
# The lead page


def lead_handoff_panels(*, lead: Lead) -> dict[str, Any]:
    handoffs = list(
        lead.handoffs.select_related("sla_version", "rep", "team")
        .prefetch_related("breaches")
        .order_by("-mql_at", "-id")
    )
    for handoff in handoffs:
        # A closed hand-off's outcome is the stage it ended in; a rejected one's, the reason.
        outcome = handoff.outcome
        handoff.outcome_label = (
            Stage(outcome).label if outcome in Stage.values else reason_label(outcome)
        )
    return {
        "handoffs": handoffs,
        "assignments": list(
            Assignment.objects.filter(lead=lead)
            .select_related("user", "assigned_by", "team")
            .order_by("-at", "-id")
        ),
        "contacts": list(ContactLog.objects.filter(lead=lead).select_related("user")),
    }


def _rows_with_activities(items: list[dict], activities: dict[int, Activity]) -> list[dict]:
    rows = []
    for item in items:
        row = dict(item)
        row["activities"] = [
            activities[i] for i in item.get("activity_ids") or () if i in activities
        ]
        rows.append(row)
    return rows


def lead_score_explanation(*, lead: Lead) -> dict[str, Any]:
    """Why the lead scores what it does now, and why it became an MQL each time it did."""
    from scoring import services as scoring

    result = scoring.lead_explain(lead=lead)
    mql_events = [
        e
        for e in lead.stage_events.filter(to_stage=Stage.MQL).order_by("at", "id")
        if (e.context or {}).get("explanation") is not None
    ]
    wanted: set[int] = set()
    for items in [result.explanation if result else []] + [
        e.context["explanation"] for e in mql_events
    ]:
        for item in items:
            wanted.update(item.get("activity_ids") or ())
    activities = {a.pk: a for a in Activity.objects.filter(lead=lead, pk__in=wanted)}
    # What each rule tests, in words beside its name (not the stored operator and list).
    rule_ids = {
        item.get("rule_id")
        for items in [result.explanation if result else []]
        + [e.context["explanation"] for e in mql_events]
        for item in items
    }
    conditions = {
        rule.pk: rule_condition(rule) for rule in Rule.objects.filter(pk__in=rule_ids - {None})
    }

    def _with_activities(items: list[dict], activities: dict[int, Activity]) -> list[dict]:
        rows = _rows_with_activities(items, activities)
        for row in rows:
            row["condition"] = conditions.get(row.get("rule_id") or 0, "")
        return rows

    return {
        "score": result,
        "score_rows": _with_activities(result.explanation, activities) if result else [],
        "mql_explanations": [
            {
                "event": e,
                "version": e.ruleset_version or e.context.get("ruleset_version"),
                "context": e.context,
                "rows": _with_activities(e.context["explanation"], activities),
            }
            for e in mql_events
        ],
    }


# --------------------------------------------------------------------------------------------
# The agreement


def working_days_label(days: list[int]) -> str:
    names = dict(Weekday.choices)
    days = sorted(set(days))
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{names[days[0]]}–{names[days[-1]]}"
    return ", ".join(str(names[d]) for d in days if d in names)


def sla_versions() -> list[SlaVersion]:
    return list(SlaVersion.objects.select_related("published_by", "created_by").order_by("-number"))


def _label(model: Any, field: str) -> str:
    return str(model._meta.get_field(field).verbose_name)


def term_text(field: str, value: Any) -> str | None:
    """A term of the SLA in words: weekdays by name, times as 09:00, 4 rather than 4.0."""
    if value is None or value == "":
        return None
    if field == "working_days" and isinstance(value, list):
        return working_days_label(value)
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if field == "status" and value in SlaVersion.Status.values:
        return str(SlaVersion.Status(value).label)
    return str(value)


def sla_diff(*, old: SlaVersion, new: SlaVersion) -> list[dict[str, Any]]:
    changes = [
        {
            "field": _label(SlaVersion, f),
            "old": term_text(f, getattr(old, f)),
            "new": term_text(f, getattr(new, f)),
        }
        for f in SlaVersion.TERMS
        if getattr(old, f) != getattr(new, f)
    ]
    old_days = {(d.date, d.name) for d in old.closed_days.all()}
    new_days = {(d.date, d.name) for d in new.closed_days.all()}
    for date, name in sorted(new_days - old_days):
        changes.append({"field": _("closed day added"), "old": None, "new": f"{date} {name}"})
    for date, name in sorted(old_days - new_days):
        changes.append({"field": _("closed day removed"), "old": f"{date} {name}", "new": None})
    return changes


def sla_change_history(*, limit: int = 50) -> list[dict[str, Any]]:
    """Who changed what in the agreement, from what to what, newest first."""
    out: list[dict[str, Any]] = []
    records = SlaVersion.history.select_related("history_user").order_by(
        "-history_date", "-history_id"
    )[:limit]
    for record in records:
        changes = []
        if record.history_type == "~":
            previous = record.prev_record
            if previous is None:
                continue
            delta = record.diff_against(previous, included_fields=[*SlaVersion.TERMS, "status"])
            changes = [
                {
                    "field": _label(SlaVersion, c.field),
                    "old": term_text(c.field, c.old),
                    "new": term_text(c.field, c.new),
                }
                for c in delta.changes
            ]
            if not changes:
                continue
        out.append(
            {
                "at": record.history_date,
                "user": record.history_user,
                "type": record.history_type,
                "what": _("SLA v%(n)d") % {"n": record.number},
                "changes": changes,
            }
        )
    numbers = dict(SlaVersion.objects.values_list("pk", "number"))
    days = ClosedDay.history.select_related("history_user").order_by(
        "-history_date", "-history_id"
    )[:limit]
    for record in days:
        changes = []
        if record.history_type == "~":
            previous = record.prev_record
            if previous is None:
                continue
            delta = record.diff_against(previous, included_fields=["date", "name"])
            changes = [
                {"field": _label(ClosedDay, c.field), "old": c.old, "new": c.new}
                for c in delta.changes
            ]
            if not changes:
                continue
        number = numbers.get(record.version_id)
        out.append(
            {
                "at": record.history_date,
                "user": record.history_user,
                "type": record.history_type,
                "what": _("closed day %(date)s %(name)s (SLA v%(n)s)")
                % {"date": record.date, "name": record.name, "n": number or "?"},
                "changes": changes,
            }
        )
    out.sort(key=lambda row: row["at"], reverse=True)
    return out[:limit]


# --------------------------------------------------------------------------------------------
# The draft editor's help: the coming public holidays and a worked example


def upcoming_holidays(
    *, country: str, subdivision: str = "", today: dt.date | None = None, language: str = ""
) -> list[dict[str, Any]]:
    """Public holidays of the next 12 months, with their names (in the user's language when
    the holidays package has it). Empty for no country or one it does not know."""
    import holidays

    if not country:
        return []
    today = today or timezone.localdate()
    end = (
        today.replace(year=today.year + 1)
        if not (today.month == 2 and today.day == 29)
        else (today + dt.timedelta(days=365))
    )
    kwargs: dict[str, Any] = {"years": [today.year, today.year + 1]}
    if subdivision:
        kwargs["subdiv"] = subdivision.upper()
    try:
        found = holidays.country_holidays(country.upper(), **kwargs)
        if language and language in getattr(found, "supported_languages", ()):
            found = holidays.country_holidays(country.upper(), language=language, **kwargs)
    except (NotImplementedError, KeyError, ValueError):
        return []
    return [
        {"date": day, "name": name} for day, name in sorted(found.items()) if today <= day < end
    ]


def worked_example(*, version: SlaVersion, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """An MQL half an hour before closing on the last working day before a break (a Friday,
    usually), and when it must be accepted and first contacted under this version's calendar.
    Times are in the SLA's time zone."""
    from zoneinfo import ZoneInfo

    from .calendar import CalendarFieldError
    from .services import calendar_for

    try:
        calendar = calendar_for(version)
    except (CalendarFieldError, ValueError):
        return None
    zone = ZoneInfo(version.time_zone)
    today = (now or timezone.now()).astimezone(zone).date()

    def open_on(day: dt.date) -> bool:
        opening = dt.datetime.combine(day, version.day_start, tzinfo=zone)
        return calendar.is_open(opening + dt.timedelta(minutes=1))

    days = [today + dt.timedelta(days=n) for n in range(1, 60)]
    open_days = [d for d in days if open_on(d)]
    if not open_days:
        return None
    chosen = next(
        (d for d in open_days[:-1] if not open_on(d + dt.timedelta(days=1))), open_days[0]
    )
    closing = dt.datetime.combine(chosen, version.day_end, tzinfo=zone)
    opening = dt.datetime.combine(chosen, version.day_start, tzinfo=zone)
    mql_at = max(opening, closing - dt.timedelta(minutes=30))
    accept = calendar.add(mql_at, dt.timedelta(hours=version.accept_within_hours))
    hot = calendar.add(mql_at, dt.timedelta(minutes=version.first_contact_hot_minutes))
    other = calendar.add(mql_at, dt.timedelta(hours=version.first_contact_hours))
    return {
        "zone": version.time_zone,
        "mql_at": mql_at,
        "accept_by": accept.astimezone(zone),
        "hot_contact_by": hot.astimezone(zone),
        "contact_by": other.astimezone(zone),
        "accept_hours": version.accept_within_hours,
    }


def mql_commitment() -> int | None:
    """Marketing's monthly MQL commitment in the agreement in force (scoring's tuning reads
    it through settings.SCORING_MQL_COMMITMENT)."""
    live = SlaVersion.objects.filter(status=SlaVersion.Status.PUBLISHED).order_by("-number").first()
    return live.min_mqls_per_month if live else None
