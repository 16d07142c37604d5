"""Retuning from evidence (reads): how each rule of the live version did among the MQLs of a
period, and the changes the outcomes suggest.

Everything starts from one set-based query (`cohort_patterns`): the period's MQLs (each lead
once, at its first MQL of the period), whether each reached SQL or was rejected (and why),
and which rules fired for it when it became an MQL, grouped by that pattern. A year of
100,000 MQLs comes back as a few thousand rows; the statistics run on those.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Activity, Lead, Stage, StageEvent

from . import engine
from .models import EvidenceSnapshot, Rule, RuleSetVersion

DEFAULT_MONTHS = 6
# A rule that fires for at least this share of MQLs separates nothing.
NEARLY_ALL = 0.95
# Two-sided 95 %: the z of the Wilson intervals and of the sign test.
Z = 1.96
# Fewer MQLs on either side than this and the sign test says nothing.
MIN_SIDE = 10


@dataclasses.dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime
    # Up to now (the default period): every MQL so far is inside, whenever "now" is.
    open_ended: bool = False

    @property
    def key(self) -> str:
        end = "now" if self.open_ended else self.end.isoformat()
        return f"{self.start.isoformat()}/{end}"

    @property
    def months(self) -> list[dt.datetime]:
        """The first instants of the calendar months (in the current zone) the period touches."""
        local = timezone.localtime(self.start).replace(tzinfo=None)
        first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        starts = []
        while timezone.make_aware(first) < self.end:
            starts.append(timezone.make_aware(first))
            first = (first + dt.timedelta(days=32)).replace(day=1)
        return starts


def default_period(now: dt.datetime | None = None) -> Period:
    """The last six calendar months, the current one included, up to now."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).replace(tzinfo=None)
    for _i in range(DEFAULT_MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return Period(start=timezone.make_aware(first), end=now, open_ended=True)


def period_from_dates(start: dt.date, end: dt.date) -> Period:
    """From the first day to the last day (inclusive) in the current zone."""
    tz = timezone.get_current_timezone()
    return Period(
        start=dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


# --------------------------------------------------------------------------------------------
# The cohort, as hit patterns


@dataclasses.dataclass(frozen=True)
class Pattern:
    """`count` MQLs of month `month` (index into Period.months) with the same outcome and the
    same rules fired (`hits`, one per rule of Cohort.rules)."""

    month: int
    won: bool
    rejected: bool
    reason: str
    hits: tuple[bool, ...]
    count: int


@dataclasses.dataclass(frozen=True)
class Cohort:
    version: RuleSetVersion
    period: Period
    rules: list[engine.CompiledRule]
    patterns: list[Pattern]

    @property
    def mqls(self) -> int:
        return sum(p.count for p in self.patterns)

    @property
    def sqls(self) -> int:
        return sum(p.count for p in self.patterns if p.won)

    @property
    def rejected(self) -> int:
        return sum(p.count for p in self.patterns if p.rejected)


def patterns_sql(
    *, version: RuleSetVersion, period: Period
) -> tuple[str, list, list[engine.CompiledRule]]:
    """The one statement behind `cohort_patterns`, its parameters and the rules of its
    hit columns."""
    ruleset = engine.compile_ruleset(version)
    months = period.months
    d = connection.ops
    month_params = [d.adapt_datetimefield_value(m) for m in months[1:]] + [
        d.adapt_datetimefield_value(period.end)
    ]
    month_case = " ".join(f"WHEN f.at < %s THEN {i}" for i in range(len(months)))
    # Outcomes by one join with the later SQL and rejection events (not a subquery per MQL).
    cohort_sql = f"""
    SELECT f.lead_id, f.at,
        CASE {month_case} ELSE {len(months) - 1} END AS month,
        MAX(CASE WHEN o.to_stage = %s THEN 1 ELSE 0 END) AS won,
        coalesce(MIN(CASE WHEN o.to_stage = %s THEN o.reason END), '-') AS reason
    FROM (
        SELECT e.lead_id, MIN(e.at) AS at
        FROM leads_stageevent e JOIN leads_lead l0 ON l0.id = e.lead_id
        WHERE e.to_stage = %s AND e.at >= %s AND e.at < %s AND l0.deleted_at IS NULL
        GROUP BY e.lead_id
    ) f
    LEFT JOIN leads_stageevent o
        ON o.lead_id = f.lead_id AND o.at >= f.at AND o.to_stage IN (%s, %s)
    GROUP BY f.lead_id, f.at"""
    cohort_params = [
        *month_params,
        Stage.SQL,
        Stage.REJECTED,
        Stage.MQL,
        d.adapt_datetimefield_value(period.start),
        d.adapt_datetimefield_value(period.end),
        Stage.SQL,
        Stage.REJECTED,
    ]
    cte, params, rules = engine.rule_hits_cte(
        ruleset, connection, cohort_sql=cohort_sql, cohort_params=cohort_params
    )
    cols = ", ".join(f"h{i}" for i in range(len(rules)))
    group = f"month, won, reason{', ' + cols if cols else ''}"
    return f"{cte} SELECT {group}, COUNT(*) FROM hits GROUP BY {group}", params, rules


def cohort_patterns(*, version: RuleSetVersion, period: Period) -> Cohort:
    """The period's MQLs grouped by month, outcome, rejection reason and the rules of
    `version` that fired for them (one statement)."""
    sql, params, rules = patterns_sql(version=version, period=period)
    patterns = []
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # JIT compiles the wide CASE expressions anew each time: seconds, more than it saves.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            reason = row[2]
            patterns.append(
                Pattern(
                    month=int(row[0]),
                    won=bool(row[1]),
                    rejected=reason != "-",
                    reason="" if reason == "-" else reason,
                    hits=tuple(bool(h) for h in row[3:-1]),
                    count=int(row[-1]),
                )
            )
    return Cohort(version=version, period=period, rules=rules, patterns=patterns)


def history_fingerprint() -> str:
    """Changes whenever the history the cohort is computed from changes: a stage event or an
    activity added, a lead edited. Three index-backed or small aggregates."""
    events = StageEvent.objects.aggregate(n=Max("id"))["n"]
    activities = Activity.objects.aggregate(n=Max("id"))["n"]
    leads = Lead.objects.aggregate(n=Max("id"), at=Max("updated_at"))
    at = leads["at"].isoformat() if leads["at"] else ""
    return f"{events}:{activities}:{leads['n']}:{at}"


def cohort_cached(*, version: RuleSetVersion, period: Period) -> Cohort:
    """`cohort_patterns`, from the stored snapshot while the history has not moved since."""
    key = f"{version.pk}:{period.key}"
    fingerprint = history_fingerprint()
    rules = _rules_of(version)
    snapshot = EvidenceSnapshot.objects.filter(key=key, fingerprint=fingerprint).first()
    # A published version's rules are frozen: the snapshot's columns are still its rules.
    if snapshot is not None:
        return Cohort(
            version=version,
            period=period,
            rules=rules,
            patterns=[
                Pattern(month=m, won=w, rejected=r, reason=reason, hits=tuple(h), count=n)
                for m, w, r, reason, h, n in snapshot.patterns
            ],
        )
    cohort = cohort_patterns(version=version, period=period)
    EvidenceSnapshot.objects.update_or_create(
        key=key,
        defaults={
            "version": version,
            "fingerprint": fingerprint,
            "patterns": [
                [p.month, p.won, p.rejected, p.reason, list(p.hits), p.count]
                for p in cohort.patterns
            ],
            "computed_at": timezone.now(),
        },
    )
    return cohort


def _rules_of(version: RuleSetVersion) -> list[engine.CompiledRule]:
    rs = engine.compile_ruleset(version)
    return [*rs.fit, *rs.behaviour, *rs.exclusion, *rs.fast_track]


def snapshot_refresh() -> bool:
    """Beat: keep the default period of the live version computed, so the page opens at once.
    Returns whether it had to compute."""
    live = (
        RuleSetVersion.objects.filter(status=RuleSetVersion.Status.PUBLISHED)
        .order_by("-number")
        .first()
    )
    if live is None:
        return False
    period = default_period()
    key = f"{live.pk}:{period.key}"
    if EvidenceSnapshot.objects.filter(key=key, fingerprint=history_fingerprint()).exists():
        return False
    cohort_cached(version=live, period=period)
    return True


# --------------------------------------------------------------------------------------------
# Statistics


def wilson(successes: int, n: int, z: float = Z) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion; None when there is nothing to estimate."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """z of p1 − p2 (pooled); None when either side is too small to say anything."""
    if n1 < MIN_SIDE or n2 < MIN_SIDE:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 0.0
    return (k1 / n1 - k2 / n2) / math.sqrt(var)


def intended_sign(rule: engine.CompiledRule) -> int:
    """Which way a rule means to push: points' sign; an exclusion down, a fast-track up."""
    if rule.kind == "exclusion":
        return -1
    if rule.kind == "fast_track":
        return 1
    return (rule.points > 0) - (rule.points < 0)


FLAG_LABELS = {
    "never_fires": lambda: _("never fires"),
    "nearly_everyone": lambda: _("fires for nearly everyone"),
    "sign_disagrees": lambda: _("points disagree with the evidence in sign"),
}


def rule_evidence(cohort: Cohort) -> list[dict[str, Any]]:
    """Per rule: how often it fired among the MQLs, the SQL rate where it fired against where
    it did not (with Wilson intervals), the share of rejected MQLs it fired for, and flags."""
    total, sqls, rejected = cohort.mqls, cohort.sqls, cohort.rejected
    out = []
    for i, rule in enumerate(cohort.rules):
        fired = won_fired = rej_fired = 0
        for p in cohort.patterns:
            if p.hits[i]:
                fired += p.count
                won_fired += p.count if p.won else 0
                rej_fired += p.count if p.rejected else 0
        not_fired, won_not = total - fired, sqls - won_fired
        z = two_proportion_z(won_fired, fired, won_not, not_fired)
        sign = intended_sign(rule)
        flags = []
        if total and fired == 0:
            flags.append("never_fires")
        elif total and fired / total >= NEARLY_ALL:
            flags.append("nearly_everyone")
        if z is not None and sign and abs(z) >= Z and (z > 0) != (sign > 0):
            flags.append("sign_disagrees")
        out.append(
            {
                "rule_id": rule.id,
                "name": rule.name,
                "kind": rule.kind,
                "kind_label": str(Rule.Kind(rule.kind).label),
                "points": rule.points,
                "fired": fired,
                "fire_rate": fired / total if total else None,
                "fired_sqls": won_fired,
                "fired_sql_rate": won_fired / fired if fired else None,
                "fired_ci": wilson(won_fired, fired),
                "not_fired": not_fired,
                "not_fired_sqls": won_not,
                "not_fired_sql_rate": won_not / not_fired if not_fired else None,
                "not_fired_ci": wilson(won_not, not_fired),
                "rejected_fired": rej_fired,
                "rejected_share": rej_fired / rejected if rejected else None,
                "z": z,
                "flags": flags,
                "flag_labels": [FLAG_LABELS[f]() for f in flags],
            }
        )
    return out


def evidence(
    *, version: RuleSetVersion, period: Period, cohort: Cohort | None = None
) -> dict[str, Any]:
    """The evidence page and API: the period, its totals and each rule's evidence."""
    cohort = cohort or cohort_cached(version=version, period=period)
    return {
        "version": version.number,
        "start": period.start,
        "end": period.end,
        "mqls": cohort.mqls,
        "sqls": cohort.sqls,
        "sql_rate": cohort.sqls / cohort.mqls if cohort.mqls else None,
        "rejected": cohort.rejected,
        "rules": rule_evidence(cohort),
    }


def months_labels(period: Period) -> Sequence[str]:
    return [m.date().isoformat()[:7] for m in period.months]
