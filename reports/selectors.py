"""Reads behind the dashboard, the monthly review, the metrics API and the CSV exports.

One function per metric; the page, the API and both CSV exports call these and nothing
else, so a number is defined once. Each function's docstring is the metric's definition.

Conventions shared by every metric
- Time zone: months, weeks and days are calendar periods in the reporting time zone,
  settings.REPORTS_TIME_ZONE (default settings.TIME_ZONE), the same for every viewer so the
  monthly review shows everyone the same month. Users' display time zones do not apply.
- Cohorts: every MQL-based figure is grouped by the period in which the MQL happened. The
  October row is October's MQLs: how fast sales handled them, how many were accepted,
  rejected (and why) or reached SQL, whenever that happened. A lead that is rejected,
  recycled and becomes MQL again is two MQLs, in the cohorts of their two MQL dates.
- Filters (`Filters`): date range (from/to, inclusive, on the MQL date; on the creation date
  for new leads), lead source, company industry, company size band, and the hand-off's team
  and rep. Lead attributes are as of the last time the lead's facts were computed (its last
  stage change or hand-off change, or `manage.py reports_rebuild`).
- Rates are fractions (0.0-1.0) or None when there is nothing to divide: a month without
  MQLs has zero counts and None rates, never a missing row or a division error.
- Data: `reports.models.MqlFact` (one row per MQL, maintained from the StageEvents and
  hand-offs) and `LeadDay` (new leads per day), never the raw history, so that each chart
  stays well under 300 ms at a million leads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Lead, RejectionReason, Team
from sla.models import SlaVersion

from .models import SIZE_BANDS, SIZE_UNKNOWN, LeadDay, MqlFact, ReportState

# A cohort younger than this may still convert: marked "maturing" on charts and tables.
COHORT_MATURITY_DAYS = getattr(settings, "REPORTS_COHORT_MATURITY_DAYS", 90)
# Latency buckets in hours (business or clock), lower bound inclusive.
LATENCY_BUCKETS: tuple[tuple[float, float | None, str], ...] = (
    (0, 5 / 60, "<5m"),
    (5 / 60, 0.5, "5–30m"),
    (0.5, 1, "30–60m"),
    (1, 4, "1–4h"),
    (4, 8, "4–8h"),
    (8, 24, "8–24h"),
    (24, 72, "24–72h"),
    (72, None, "72h+"),
)
# Score bands at the moment of MQL; lower bound inclusive.
SCORE_BANDS: tuple[tuple[float | None, float | None, str], ...] = (
    (None, 50, "< 50"),
    (50, 60, "50–59"),
    (60, 70, "60–69"),
    (70, 80, "70–79"),
    (80, 90, "80–89"),
    (90, 100, "90–99"),
    (100, None, "100 +"),
)
SCORE_UNKNOWN = "unknown"
MAX_RANGE_DAYS = 5 * 366
SLA_STEPS = ("accept", "first_contact", "qualify")

User = get_user_model()


def report_time_zone() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "REPORTS_TIME_ZONE", "") or settings.TIME_ZONE)


def report_today(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(report_time_zone()).date()


# --------------------------------------------------------------------------------------------
# Periods and filters


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return add_months(day, 1) - dt.timedelta(days=1)


def month_key(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def _instant(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the reporting time zone."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=report_time_zone())


@dataclasses.dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    source: str = ""
    industry: str = ""
    size: str = ""
    team: int | None = None
    rep: int | None = None

    @property
    def has_segment(self) -> bool:
        return bool(self.source or self.industry or self.size or self.team or self.rep)

    def months(self) -> list[dt.date]:
        months, month = [], month_start(self.start)
        while month <= self.end:
            months.append(month)
            month = add_months(month, 1)
        return months

    def weeks(self) -> list[dt.date]:
        week = self.start - dt.timedelta(days=self.start.weekday())
        weeks = []
        while week <= self.end:
            weeks.append(week)
            week += dt.timedelta(days=7)
        return weeks

    def as_params(self) -> dict[str, str]:
        """The URL query that reproduces these filters (defaults included, so it is stable)."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        for name in ("source", "industry", "size", "team", "rep"):
            value = getattr(self, name)
            if value not in ("", None):
                params[name] = str(value)
        return params


def first_data_month() -> dt.date | None:
    """The first month (reporting time zone) with an MQL or a new lead, None before any."""
    settled = ReportState.objects.order_by("pk").values_list("lead_settled_id", flat=True).first()
    # Leads not yet settled into LeadDay are counted live, as the funnel does.
    created = Lead.objects.filter(pk__gt=settled or 0).aggregate(first=Min("created_at"))["first"]
    firsts = [
        MqlFact.objects.aggregate(first=Min("mql_month"))["first"],
        LeadDay.objects.aggregate(first=Min("date"))["first"],
        created.astimezone(report_time_zone()).date() if created else None,
    ]
    found = [month_start(_as_date(day)) for day in firsts if day is not None]
    return min(found) if found else None


def default_filters(now: dt.datetime | None = None, *, from_first_data: bool = False) -> Filters:
    """The last twelve calendar months, this one included (to today). from_first_data (the
    dashboard): from the first month with data if later, so no run of empty months comes
    before the history starts. The API keeps the plain twelve months: tools rely on it."""
    today = report_today(now)
    start = add_months(month_start(today), -11)
    first = first_data_month() if from_first_data else None
    if first is not None and start < first <= today:
        start = first
    return Filters(start=start, end=today)


def reporting_zone() -> dict[str, Any]:
    """The reporting time zone as the pages show it, with what disagrees with it: figures last
    rebuilt in another zone, or an SLA whose business calendar runs in another zone."""
    zone = report_time_zone()
    offset = dt.datetime.now(zone).strftime("%z")
    built = ReportState.objects.order_by("pk").values_list("time_zone", flat=True).first()
    live = (
        SlaVersion.objects.filter(status=SlaVersion.Status.PUBLISHED)
        .order_by("-published_at")
        .values_list("time_zone", flat=True)
        .first()
    )
    return {
        "key": zone.key,
        "utc_offset": f"UTC{offset[:3]}:{offset[3:]}",
        "built_in": built if built and built != zone.key else None,
        "sla_zone": live if live and live != zone.key else None,
    }


def month_filters(month: dt.date, *, months: int = 1) -> Filters:
    """A whole calendar month, and the `months - 1` before it (for a review's trend)."""
    return Filters(start=add_months(month, -(months - 1)), end=month_end(month))


def _facts(f: Filters) -> QuerySet[MqlFact]:
    # Bounds on the month let the (month, date) index bound its scan; a bound on the date is
    # added only where the range cuts a month, since the planner multiplies the two
    # selectivities as if they were independent and would then expect half the rows.
    qs = MqlFact.objects.filter(
        mql_month__gte=month_start(f.start), mql_month__lte=month_start(f.end)
    )
    if f.start != month_start(f.start):
        qs = qs.filter(mql_date__gte=f.start)
    if f.end != month_end(f.end):
        qs = qs.filter(mql_date__lte=f.end)
    if f.source:
        qs = qs.filter(source=f.source)
    if f.industry:
        qs = qs.filter(industry=f.industry)
    if f.size:
        qs = qs.filter(size_band=f.size)
    if f.team:
        qs = qs.filter(team_id=f.team)
    if f.rep:
        qs = qs.filter(rep_id=f.rep)
    return qs.order_by()


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _by_month(rows: Sequence[dict], key: str = "month") -> dict[dt.date, dict]:
    return {_as_date(r[key]): r for r in rows}


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


# --------------------------------------------------------------------------------------------
# Percentiles: PostgreSQL's percentile_cont; the same linear interpolation in Python elsewhere


class PercentileCont(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def report_query(function: Any) -> Any:
    """Run a metric's queries with settings fit for them on PostgreSQL: no JIT (compiling
    costs ~100 ms, more than it saves on queries this short) and room to sort in memory
    (the server's default 4 MB spills the percentiles' sorts to disk)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if connection.vendor != "postgresql":
            return function(*args, **kwargs)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
            return function(*args, **kwargs)

    return wrapper


def _percentiles(
    qs: QuerySet, group: str, fields: Sequence[str], fractions: Sequence[float]
) -> dict[Any, dict[str, dict[str | float, Any]]]:
    """{group value: {field: {"n": count, fraction: value}}} over non-null values."""
    out: dict[Any, dict[str, dict[str | float, Any]]] = defaultdict(dict)
    if connection.vendor == "postgresql":
        aggregates: dict[str, Aggregate] = {}
        for name in fields:
            aggregates[f"{name}__n"] = Count(name)
            for fraction in fractions:
                aggregates[f"{name}__{fraction}"] = PercentileCont(name, fraction)
        rows = list(qs.values(group).annotate(**aggregates))
        for row in rows:
            for name in fields:
                out[row[group]][name] = {
                    "n": row[f"{name}__n"],
                    **{q: row[f"{name}__{q}"] for q in fractions},
                }
        return out
    values: dict[tuple[Any, str], list[float]] = defaultdict(list)
    for name in fields:
        for key, value in qs.filter(**{f"{name}__isnull": False}).values_list(group, name):
            values[key, name].append(value)
    groups = {key for key, _name in values}
    for key in groups:
        for name in fields:
            found = values.get((key, name), [])
            out[key][name] = {"n": len(found), **{q: percentile_cont(found, q) for q in fractions}}
    return out


# --------------------------------------------------------------------------------------------
# The SLA's targets


def sla_targets_by_month(months: Sequence[dt.date]) -> dict[dt.date, dict[str, Any]]:
    """Marketing's commitments for each month: those of the SLA in force at the month's end
    (the last version to take effect before it); none for a month that ended before the
    first SLA took effect (its figures are shown as "no SLA in force")."""
    versions = list(
        SlaVersion.objects.exclude(status=SlaVersion.Status.DRAFT)
        .annotate(since=Coalesce("effective_from", "published_at"))
        .exclude(since=None)
        .order_by("since", "number")
        .values("number", "since", "min_mqls_per_month", "min_acceptance_rate")
    )
    targets = {}
    for month in months:
        end = _instant(add_months(month, 1))
        in_force = [v for v in versions if v["since"] < end]
        version = in_force[-1] if in_force else None
        targets[month] = {
            "sla_version": version["number"] if version else None,
            "min_mqls": version["min_mqls_per_month"] if version else None,
            # SlaVersion keeps a percentage; rates here are fractions.
            "min_acceptance_rate": version["min_acceptance_rate"] / 100 if version else None,
        }
    return targets


# --------------------------------------------------------------------------------------------
# Metrics


@report_query
def mql_volume(f: Filters, *, grain: str = "month") -> dict[str, Any]:
    """MQL volume: MQL events (StageEvents to MQL) per calendar month, or per week starting
    Monday, of the reporting time zone, by lead source. A lead that becomes MQL twice counts
    twice. Each month carries marketing's commitment (`min_mqls_per_month` of the SLA in
    force at the month's end); weeks carry none."""
    if grain not in ("month", "week"):
        raise ValueError(grain)
    rows = (
        _facts(f)
        .annotate(period=F("mql_month" if grain == "month" else "mql_week"))
        .values("period", "source")
        .annotate(n=Count("pk"))
    )
    counts: dict[dt.date, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[_as_date(row["period"])][row["source"]] = row["n"]
        totals[row["source"]] += row["n"]
    sources = sorted(totals, key=lambda s: (-totals[s], s))
    periods = f.months() if grain == "month" else f.weeks()
    targets = sla_targets_by_month(periods) if grain == "month" else {}
    return {
        "grain": grain,
        "sources": sources,
        "periods": [
            {
                "period": month_key(p) if grain == "month" else p.isoformat(),
                "total": sum(counts[p].values()),
                "by_source": {s: counts[p].get(s, 0) for s in sources},
                "target": targets[p]["min_mqls"] if grain == "month" else None,
            }
            for p in periods
        ],
    }


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


LATENCY_FIELDS = {
    "accept": ("accept_business_s", "accept_clock_s"),
    "first_contact": ("contact_business_s", "contact_clock_s"),
}


@report_query
def latency_by_month(f: Filters, *, step: str = "accept") -> dict[str, Any]:
    """Hand-off latency per MQL month, from MQL to acceptance (step "accept": the SAL) or
    to the first logged contact (step "first_contact"): median and 90th percentile
    (PostgreSQL's percentile_cont: linear interpolation between the closest ranks) of whole
    seconds, given in hours of business time (the calendar of the hand-off's SLA version:
    working days and hours, holidays) and of clock time. Only hand-offs that were accepted
    (resp. contacted) count; `n` says how many, and for acceptance `not_recorded` how many
    MQLs sales accepted at a time nobody recorded (imported history that went from MQL
    straight to SQL), which are left out rather than counted as zero. A chart each: the
    percentiles sort every value of the period, so each step is its own query."""
    business, clock = LATENCY_FIELDS[step]
    rows = _facts(f).filter(**{f"{business}__isnull": False}).annotate(month=F("mql_month"))
    found = _percentiles(rows, "month", [business, clock], (0.5, 0.9))
    by_month = {_as_date(k): v for k, v in found.items()}
    unrecorded: dict[dt.date, int] = {}
    if step == "accept":
        unrecorded = {
            _as_date(r["month"]): r["n"]
            for r in _facts(f)
            .filter(accept_unrecorded=True)
            .annotate(month=F("mql_month"))
            .values("month")
            .annotate(n=Count("pk"))
        }
    months = []
    for month in f.months():
        stats = by_month.get(month, {})
        b = stats.get(business, {"n": 0, 0.5: None, 0.9: None})
        c = stats.get(clock, {"n": 0, 0.5: None, 0.9: None})
        months.append(
            {
                "month": month_key(month),
                "n": c["n"],
                # Accepted with no recorded time (imported history): left out, not zero.
                "not_recorded": unrecorded.get(month, 0) if step == "accept" else None,
                "median_business_h": _hours(b[0.5]),
                "p90_business_h": _hours(b[0.9]),
                "median_clock_h": _hours(c[0.5]),
                "p90_clock_h": _hours(c[0.9]),
            }
        )
    return {"step": step, "months": months}


def _bucket_expression(
    column: str, bounds: Sequence[tuple[float | None, float | None, str]], scale: float = 1
) -> Case:
    """The index of the bucket a column's value falls in, or null for null. `bounds` are
    contiguous and ordered, so each bucket only tests its upper bound."""
    whens = []
    for i, (_low, high, _label) in enumerate(bounds):
        if high is None:
            whens.append(When(**{f"{column}__isnull": False}, then=Value(i)))
        else:
            whens.append(When(**{f"{column}__lt": high * scale}, then=Value(i)))
    return Case(*whens, default=Value(None), output_field=IntegerField())


LATENCY_SERIES = {
    "accept_business": "accept_business_s",
    "accept_clock": "accept_clock_s",
    "first_contact_business": "contact_business_s",
    "first_contact_clock": "contact_clock_s",
}


@report_query
def latency_distribution(f: Filters) -> dict[str, Any]:
    """Hand-off latency distribution over the period: how many accepted (resp. contacted)
    hand-offs fall in each latency bucket (hours, lower bound inclusive), in business time
    and in clock time."""
    counts = {key: [0] * len(LATENCY_BUCKETS) for key in LATENCY_SERIES}
    # A query per step, over the hand-offs that have it (its latency index covers them),
    # grouped by the business and the clock bucket at once.
    for step, (business, clock) in LATENCY_FIELDS.items():
        keys = {f"{step}_business": business, f"{step}_clock": clock}
        rows = (
            _facts(f)
            .filter(**{f"{business}__isnull": False})
            .annotate(
                **{
                    key: _bucket_expression(column, LATENCY_BUCKETS, 3600)
                    for key, column in keys.items()
                }
            )
            .values(*keys)
            .annotate(n=Count("*"))
        )
        for row in rows:
            for key in keys:
                if row[key] is not None:
                    counts[key][row[key]] += row["n"]
    return {"buckets": [label for _low, _high, label in LATENCY_BUCKETS], **counts}


def _compliance_aggregates(now: dt.datetime) -> dict[str, Count]:
    """For each of sales' deadlines, the hand-offs due and those met (sla_compliance_by_month)."""
    due = {
        "accept": Q(accept_on_time__isnull=False) | Q(accept_open_due_at__lte=now),
        "first_contact": Q(contact_on_time__isnull=False) | Q(contact_open_due_at__lte=now),
        "qualify": Q(qualify_on_time__isnull=False) | Q(qualify_open_due_at__lte=now),
    }
    met = {
        "accept": Q(accept_on_time=True),
        "first_contact": Q(contact_on_time=True),
        "qualify": Q(qualify_on_time=True),
    }
    aggregates = {}
    for step in SLA_STEPS:
        aggregates[f"{step}_due"] = Count("pk", filter=due[step])
        aggregates[f"{step}_met"] = Count("pk", filter=met[step])
    return aggregates


def _compliance(row: dict | None) -> dict[str, dict[str, Any]]:
    row = row or {}
    out = {}
    for step in SLA_STEPS:
        due, met = row.get(f"{step}_due", 0), row.get(f"{step}_met", 0)
        out[step] = {"due": due, "met": met, "rate": _rate(met, due)}
    return out


@report_query
def sla_compliance_by_month(f: Filters, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """SLA compliance per MQL month, for each of sales' deadlines: of the month's hand-offs
    due for the step, the share done on time.

    A hand-off is due for a step once the step is done or its deadline has passed (by
    `now`); it met it if the step was done at or before the deadline. Accept: accepted or
    rejected by accept_due_at (an MQL accepted after a breach is due and missed). First
    contact: logged by first_contact_due_at; rejected hand-offs need no contact and are left
    out, as the breach sweep does. Qualify: an accepted hand-off qualified to SQL, recycled
    or disqualified by qualify_due_at. MQLs without a hand-off have no deadlines: those from
    before the first SLA took effect are counted in `mqls_without_sla`, and `sla_in_force`
    is false for a month that ended before it. Months are MQL cohorts, so "due in October"
    means "MQL'd in October".
    """
    now = now or timezone.now()
    rows = (
        _facts(f)
        .annotate(month=F("mql_month"))
        .values("month")
        .annotate(**_compliance_aggregates(now), without_sla=Count("pk", filter=Q(has_sla=False)))
    )
    found = _by_month(list(rows))
    months = f.months()
    targets = sla_targets_by_month(months)
    return {
        "months": [
            {
                "month": month_key(m),
                **_compliance(found.get(m)),
                # No SLA in force during the month: nothing to judge, not 0% on time.
                "sla_in_force": targets[m]["sla_version"] is not None,
                "mqls_without_sla": (found.get(m) or {}).get("without_sla", 0),
            }
            for m in months
        ]
    }


def _person(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


@report_query
def sla_compliance_by_rep(f: Filters, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """SLA compliance per rep over the period: the hand-off's current rep, and the same
    definitions as sla_compliance_by_month. Hand-offs without a rep are "unassigned"."""
    now = now or timezone.now()
    rows = list(
        _facts(f).values("rep_id").annotate(mqls=Count("pk"), **_compliance_aggregates(now))
    )
    users = {
        u.pk: u for u in User.objects.filter(pk__in=[r["rep_id"] for r in rows if r["rep_id"]])
    }
    reps = [
        {
            "rep_id": r["rep_id"],
            "rep": _person(users.get(r["rep_id"])) if r["rep_id"] else "",
            "mqls": r["mqls"],
            **_compliance(r),
        }
        for r in rows
    ]
    reps.sort(key=lambda r: (r["rep_id"] is None, r["rep"].lower(), r["rep_id"] or 0))
    return {"reps": reps}


def _month_over(month: dt.date, now: dt.datetime) -> bool:
    return now >= _instant(add_months(month, 1))


def _decision_counts(f: Filters) -> dict[dt.date, dict]:
    rows = (
        _facts(f)
        .annotate(month=F("mql_month"))
        .values("month")
        .annotate(
            # Before `accepted` and `rejected` name the counts, which would shadow the fields.
            judged=Count("pk", filter=Q(has_sla=True)),
            judged_accepted=Count("pk", filter=Q(has_sla=True, accepted=True)),
            judged_rejected=Count("pk", filter=Q(has_sla=True, rejected=True)),
            mqls=Count("pk"),
            accepted=Count("pk", filter=Q(accepted=True)),
            rejected=Count("pk", filter=Q(rejected=True)),
            unrecorded=Count("pk", filter=Q(accept_unrecorded=True)),
            reached_sql=Count("pk", filter=Q(reached_sql=True)),
        )
    )
    return _by_month(list(rows))


@report_query
def marketing_targets(f: Filters, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Marketing's side of the SLA per month: MQL count against `min_mqls_per_month`, and
    the acceptance rate of the month's MQLs (accepted / (accepted + rejected); undecided ones
    wait) against `min_acceptance_rate`, both from the SLA in force at the month's end.
    Status: "met"; "missed" once the month is over; "open" while the month runs and the
    target is not yet reached (acceptance stays open while the month runs); "no data" for
    an acceptance rate with no decision; "no sla" (no SLA in force) for a month that ended
    before the first SLA took effect. Only MQLs judged by an SLA count (`mqls`): those from
    before the first SLA took effect are `mqls_without_sla`. With segment filters the
    whole-company targets are compared with the segment's figures."""
    now = now or timezone.now()
    months = f.months()
    found = _decision_counts(f)
    targets = sla_targets_by_month(months)
    out = []
    for month in months:
        row = found.get(month, {})
        mqls = row.get("judged", 0)
        accepted, rejected = row.get("judged_accepted", 0), row.get("judged_rejected", 0)
        rate = _rate(accepted, accepted + rejected)
        target = targets[month]
        over = _month_over(month, now)
        if target["sla_version"] is None:
            mql_status = acceptance_status = "no sla"
        elif target["min_mqls"] is None:
            mql_status = "no data"
        elif mqls >= target["min_mqls"]:
            mql_status = "met"
        else:
            mql_status = "missed" if over else "open"
        if target["sla_version"] is None:
            pass
        elif rate is None or target["min_acceptance_rate"] is None:
            acceptance_status = "no data" if over else "open"
        elif not over:
            acceptance_status = "open"
        else:
            acceptance_status = "met" if rate >= target["min_acceptance_rate"] else "missed"
        out.append(
            {
                "month": month_key(month),
                "sla_version": target["sla_version"],
                "mqls": mqls,
                "mqls_without_sla": row.get("mqls", 0) - mqls,
                "min_mqls": target["min_mqls"],
                "mqls_status": mql_status,
                "acceptance_rate": rate,
                "min_acceptance_rate": target["min_acceptance_rate"],
                "acceptance_status": acceptance_status,
            }
        )
    return {"months": out}


@report_query
def conversion_by_cohort(f: Filters, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """MQL → SAL → SQL by MQL cohort month. mqls: MQL events of the month; accepted and
    rejected: those sales accepted (SAL) or rejected; acceptance_not_recorded: those whose
    imported history reached SQL with no SAL recorded (accepted, but when is unknown: out of
    the acceptance rate and latency); undecided: none of these yet; acceptance rate:
    accepted / (accepted + rejected). reached_sql: those whose lead reached SQL in
    that hand-off (before any later MQL of the lead); sql_rate: reached_sql / mqls. A cohort
    is "maturing" until COHORT_MATURITY_DAYS (90) days after the month's end: its MQLs may
    still convert, so its rate is not final."""
    now = now or timezone.now()
    found = _decision_counts(f)
    today = report_today(now)
    months = []
    for month in f.months():
        row = found.get(month, {})
        mqls = row.get("mqls", 0)
        accepted, rejected, unrecorded, sql = (
            row.get(k, 0) for k in ("accepted", "rejected", "unrecorded", "reached_sql")
        )
        months.append(
            {
                "month": month_key(month),
                "mqls": mqls,
                "accepted": accepted,
                "rejected": rejected,
                "acceptance_not_recorded": unrecorded,
                "undecided": mqls - accepted - rejected - unrecorded,
                "acceptance_rate": _rate(accepted, accepted + rejected),
                "reached_sql": sql,
                "sql_rate": _rate(sql, mqls),
                "maturing": (today - month_end(month)).days < COHORT_MATURITY_DAYS,
            }
        )
    return {"maturity_days": COHORT_MATURITY_DAYS, "months": months}


def size_band_expression(employees: str) -> Case:
    """SQL twin of models.size_band, built from the same SIZE_BANDS."""
    whens = []
    for code, low, high in SIZE_BANDS:
        bounds = {f"{employees}__gte": low}
        if high is not None:
            bounds[f"{employees}__lte"] = high
        whens.append(When(then=Value(code), **bounds))
    return Case(*whens, default=Value(SIZE_UNKNOWN))


def lead_day_counts(leads: QuerySet[Lead]) -> QuerySet:
    """New leads of a Lead queryset per reporting day, source, industry and size band."""
    return (
        leads.annotate(
            day=TruncDate("created_at", tzinfo=report_time_zone()),
            industry_=Coalesce("company__industry", Value("")),
            band=size_band_expression("company__employees"),
        )
        .values("day", "source", "industry_", "band")
        .annotate(n=Count("id"))
        .order_by()
    )


@report_query
def new_leads(f: Filters) -> int | None:
    """Leads created in the period (creation date in the reporting time zone) matching the
    source, industry and size filters. None with a team or rep filter: a lead has no team or
    rep before it is handed off."""
    if f.team or f.rep:
        return None
    settled = ReportState.objects.order_by("pk").values_list("lead_settled_id", flat=True).first()
    days = LeadDay.objects.filter(date__gte=f.start, date__lte=f.end)
    if f.source:
        days = days.filter(source=f.source)
    if f.industry:
        days = days.filter(industry=f.industry)
    if f.size:
        days = days.filter(size_band=f.size)
    total = days.aggregate(n=Coalesce(Sum("leads"), 0))["n"]
    # Leads above the settled id are not in LeadDay yet: count them from the leads table.
    live = lead_day_counts(Lead.objects.filter(id__gt=settled or 0))
    for row in live:
        if not f.start <= _as_date(row["day"]) <= f.end:
            continue
        if (f.source and row["source"] != f.source) or (
            f.industry and row["industry_"] != f.industry
        ):
            continue
        if f.size and row["band"] != f.size:
            continue
        total += row["n"]
    return total


@report_query
def funnel(f: Filters) -> dict[str, Any]:
    """The funnel of the period: new leads (see new_leads), then the period's MQLs, those
    sales accepted (SAL) and those that reached SQL (the cohort definitions of
    conversion_by_cohort). Each step's rate is relative to the step before it; leads and
    MQLs are different populations (a lead created in March may become MQL in May). The SAL
    step's `not_recorded`: MQLs whose imported history reached SQL with no SAL recorded;
    they passed SAL, so SQL's rate is relative to SAL plus them."""
    row = _facts(f).aggregate(
        mqls=Count("pk"),
        accepted=Count("pk", filter=Q(accepted=True)),
        unrecorded=Count("pk", filter=Q(accept_unrecorded=True)),
        reached_sql=Count("pk", filter=Q(reached_sql=True)),
    )
    leads = new_leads(f)
    steps = [
        ("lead", leads),
        ("mql", row["mqls"]),
        ("sal", row["accepted"]),
        ("sql", row["reached_sql"]),
    ]
    out = []
    previous = None
    for stage, count in steps:
        rate: float | None = None if previous is None or count is None else _rate(count, previous)
        step: dict[str, Any] = {"stage": stage, "count": count, "rate_from_previous": rate}
        if stage == "sal":
            step["not_recorded"] = row["unrecorded"]
            count = row["accepted"] + row["unrecorded"]
        out.append(step)
        previous = count
    return {"steps": out}


@report_query
def rejection_reasons(f: Filters) -> dict[str, Any]:
    """Why sales rejected MQLs, per MQL month: rejected MQLs of the month by the reason
    given (RejectionReason codes; a code outside the list is shown as it is)."""
    rows = (
        _facts(f)
        .filter(rejected=True)
        .annotate(month=F("mql_month"))
        .values("month", "rejection_reason")
        .annotate(n=Count("pk"))
    )
    counts: dict[dt.date, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[_as_date(row["month"])][row["rejection_reason"]] = row["n"]
        totals[row["rejection_reason"]] += row["n"]
    known = list(RejectionReason.values)
    reasons = [r for r in known if r in totals] + sorted(r for r in totals if r not in known)
    labels = dict(RejectionReason.choices)
    return {
        "reasons": [{"code": r, "label": str(labels.get(r, r or "—"))} for r in reasons],
        "months": [
            {
                "month": month_key(m),
                "rejected": sum(counts[m].values()),
                "by_reason": {r: counts[m].get(r, 0) for r in reasons},
            }
            for m in f.months()
        ],
    }


def score_band(score: float | None) -> str:
    if score is None:
        return SCORE_UNKNOWN
    for low, high, label in SCORE_BANDS:
        if (low is None or score >= low) and (high is None or score < high):
            return label
    return SCORE_UNKNOWN


@report_query
def score_calibration(f: Filters, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Score calibration: for the period's MQLs, grouped by the total score frozen on the MQL
    event by scoring (its context["total"]; events without one, such as imported history,
    are "unknown"), the share that reached SQL and the acceptance rate. If scores predict
    outcomes, higher bands convert more. `maturing` counts the MQLs of cohorts that are still
    maturing (see conversion_by_cohort), whose conversions may be yet to come."""
    now = now or timezone.now()
    labels = [label for _low, _high, label in SCORE_BANDS]
    rows = (
        _facts(f)
        .annotate(band=_bucket_expression("score", SCORE_BANDS))
        .values("band")
        .annotate(
            mqls=Count("pk"),
            accepted=Count("pk", filter=Q(accepted=True)),
            rejected=Count("pk", filter=Q(rejected=True)),
            reached_sql=Count("pk", filter=Q(reached_sql=True)),
            maturing=Count("pk", filter=Q(mql_date__gte=_maturing_from(now))),
        )
    )
    empty = {"mqls": 0, "accepted": 0, "rejected": 0, "reached_sql": 0}
    bands = {label: dict(empty) for label in [*labels, SCORE_UNKNOWN]}
    maturing = 0
    for row in rows:
        label = SCORE_UNKNOWN if row["band"] is None else labels[row["band"]]
        bands[label] = {key: row[key] for key in empty}
        maturing += row["maturing"]
    return {
        "maturing": maturing,
        "bands": [
            {
                "band": label,
                **counts,
                "sql_rate": _rate(counts["reached_sql"], counts["mqls"]),
                "acceptance_rate": _rate(
                    counts["accepted"], counts["accepted"] + counts["rejected"]
                ),
            }
            for label, counts in bands.items()
        ],
    }


def _maturing_from(now: dt.datetime) -> dt.date:
    """The first day of the oldest cohort month that is still maturing."""
    today = report_today(now)
    month = month_start(today)
    while (today - month_end(add_months(month, -1))).days < COHORT_MATURITY_DAYS:
        month = add_months(month, -1)
    return month


# --------------------------------------------------------------------------------------------
# Everything at once, and the choices for the filter form

# name: (function, takes `now`); the API's /metrics/<name>/ and the bench use this table.
METRICS: dict[str, tuple[Any, bool]] = {
    "mql-volume": (mql_volume, False),
    "mql-volume-weekly": (lambda f: mql_volume(f, grain="week"), False),
    "latency-accept": (lambda f: latency_by_month(f, step="accept"), False),
    "latency-first-contact": (lambda f: latency_by_month(f, step="first_contact"), False),
    "latency-distribution": (latency_distribution, False),
    "sla-compliance": (sla_compliance_by_month, True),
    "sla-compliance-by-rep": (sla_compliance_by_rep, True),
    "marketing-targets": (marketing_targets, True),
    "conversion": (conversion_by_cohort, True),
    "funnel": (funnel, False),
    "rejection-reasons": (rejection_reasons, False),
    "score-calibration": (score_calibration, True),
}


def metric(name: str, f: Filters, *, now: dt.datetime | None = None) -> dict[str, Any]:
    function, takes_now = METRICS[name]
    return function(f, now=now) if takes_now else function(f)


def all_metrics(f: Filters, *, now: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
    now = now or timezone.now()
    return {name: metric(name, f, now=now) for name in METRICS}


def filter_choices(f: Filters | None = None) -> dict[str, list]:
    """Values offered by the filter form: the sources and industries of leads (the settled
    counts, and the leads above them), teams, and sales reps; plus whatever `f` selects."""
    from leads import roles

    settled = ReportState.objects.order_by("pk").values_list("lead_settled_id", flat=True).first()
    live = Lead.objects.filter(id__gt=settled or 0)
    sources = set(LeadDay.objects.values_list("source", flat=True).distinct())
    sources |= set(live.values_list("source", flat=True).distinct())
    industries = set(LeadDay.objects.values_list("industry", flat=True).distinct())
    industries |= set(live.values_list("company__industry", flat=True).distinct())
    if f is not None:
        sources.add(f.source)
        industries.add(f.industry)
    reps = User.objects.filter(groups__name=roles.SALES_REP).distinct()
    rep_choices = {u.pk: _person(u) for u in reps}
    if f is not None and f.rep and f.rep not in rep_choices:
        rep_choices[f.rep] = _person(User.objects.filter(pk=f.rep).first())
    return {
        "sources": sorted(s for s in sources if s),
        "industries": sorted(i for i in industries if i),
        "teams": list(Team.objects.order_by("name").values_list("pk", "name")),
        "reps": sorted(rep_choices.items(), key=lambda r: r[1].lower()),
    }


# --------------------------------------------------------------------------------------------
# Summaries of the metrics above (no queries of their own)


def period_summary(data: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Totals of the period from the monthly metrics: MQLs, acceptance rate, share that
    reached SQL, and the share of due hand-offs accepted or rejected on time."""
    months = data["conversion"]["months"]
    mqls = sum(m["mqls"] for m in months)
    accepted = sum(m["accepted"] for m in months)
    rejected = sum(m["rejected"] for m in months)
    unrecorded = sum(m["acceptance_not_recorded"] for m in months)
    sql = sum(m["reached_sql"] for m in months)
    compliance = data["sla-compliance"]["months"]
    due = sum(m["accept"]["due"] for m in compliance)
    met = sum(m["accept"]["met"] for m in compliance)
    return {
        "mqls": mqls,
        "accepted": accepted,
        "rejected": rejected,
        "acceptance_not_recorded": unrecorded,
        "acceptance_rate": _rate(accepted, accepted + rejected),
        "reached_sql": sql,
        "sql_rate": _rate(sql, mqls),
        "maturing": any(m["maturing"] for m in months),
        "accept_due": due,
        "accept_met": met,
        "accept_rate": _rate(met, due),
        "sla_in_force": any(m["sla_in_force"] for m in compliance),
    }


REVIEW_METRICS = (
    "mql-volume",
    "latency-accept",
    "latency-first-contact",
    "sla-compliance",
    "sla-compliance-by-rep",
    "marketing-targets",
    "conversion",
    "rejection-reasons",
    "score-calibration",
)


def review(month: dt.date, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The monthly review of `month` (no segment filters: the whole company): the metrics
    for the month and the two before it (the three-month trend, the last two columns being
    "this month against the previous one"), and the same figures as rows for the page and
    the CSV. Per-rep compliance and score calibration are for the month alone."""
    now = now or timezone.now()
    trend = month_filters(month, months=3)
    single = month_filters(month)
    data = {
        name: metric(
            name,
            single if name in ("sla-compliance-by-rep", "score-calibration") else trend,
            now=now,
        )
        for name in REVIEW_METRICS
    }
    months = trend.months()
    new = [new_leads(month_filters(m)) for m in months]
    conversion = data["conversion"]["months"]
    targets = data["marketing-targets"]["months"]
    compliance = data["sla-compliance"]["months"]
    latency = {
        "accept": data["latency-accept"]["months"],
        "first_contact": data["latency-first-contact"]["months"],
    }

    def row(key: str, label: str, unit: str, values: list, **extra: Any) -> dict[str, Any]:
        change = None
        if values[-1] is not None and values[-2] is not None:
            change = values[-1] - values[-2]
        maturing = extra.get("maturing") or [False] * len(values)
        return {
            "key": key,
            "label": label,
            "unit": unit,
            "values": values,
            "cells": [{"value": v, "maturing": m} for v, m in zip(values, maturing, strict=True)],
            "change": change,
            **extra,
        }

    rows = [
        row("new_leads", _("New leads"), "count", new),
        row(
            "mqls",
            _("MQLs"),
            "count",
            [c["mqls"] for c in conversion],
            targets=[t["min_mqls"] for t in targets],
            statuses=[t["mqls_status"] for t in targets],
            target_label=_("at least"),
        ),
        row(
            "acceptance_rate",
            _("Acceptance rate (SAL / decided)"),
            "rate",
            [t["acceptance_rate"] for t in targets],
            targets=[t["min_acceptance_rate"] for t in targets],
            statuses=[t["acceptance_status"] for t in targets],
            target_label=_("at least"),
        ),
        row("accepted", _("Accepted (SAL)"), "count", [c["accepted"] for c in conversion]),
        row("rejected", _("Rejected"), "count", [c["rejected"] for c in conversion]),
        row(
            "acceptance_not_recorded",
            _("Reached SQL with no acceptance recorded (imported history)"),
            "count",
            [c["acceptance_not_recorded"] for c in conversion],
        ),
        row(
            "undecided",
            _("Not yet accepted or rejected"),
            "count",
            [c["undecided"] for c in conversion],
        ),
        row(
            "sql_rate",
            _("Reached SQL (share of MQLs)"),
            "rate",
            [c["sql_rate"] for c in conversion],
            maturing=[c["maturing"] for c in conversion],
        ),
        row("reached_sql", _("Reached SQL"), "count", [c["reached_sql"] for c in conversion]),
    ]
    for step, label in (
        ("accept", _("Accepted or rejected on time")),
        ("first_contact", _("First contact on time")),
        ("qualify", _("Qualified or recycled on time")),
    ):
        rows.append(
            row(
                f"{step}_on_time",
                label,
                "rate",
                [c[step]["rate"] for c in compliance],
                counts=[[c[step]["met"], c[step]["due"]] for c in compliance],
            )
        )
    for step, label in (
        ("accept", _("MQL → accepted")),
        ("first_contact", _("MQL → first contact")),
    ):
        for stat, stat_label in (("median", _("median")), ("p90", _("90th percentile"))):
            for kind, kind_label in (
                ("business", _("business hours")),
                ("clock", _("clock hours")),
            ):
                rows.append(
                    row(
                        f"{step}_{stat}_{kind}_h",
                        f"{label}, {stat_label} ({kind_label})",
                        "hours",
                        [m[f"{stat}_{kind}_h"] for m in latency[step]],
                    )
                )
    return {
        "month": month_key(month),
        "months": [month_key(m) for m in months],
        "rows": rows,
        "data": data,
    }
