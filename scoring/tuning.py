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
    *, version: RuleSetVersion, period: Period, extra: Sequence[engine.CompiledRule] = ()
) -> tuple[str, list, list[engine.CompiledRule]]:
    """The one statement behind `cohort_patterns`, its parameters and the rules of its
    hit columns. `extra`: candidate rules (no points) whose hits are wanted as well."""
    ruleset = engine.compile_ruleset(version)
    if extra:
        ruleset = dataclasses.replace(
            ruleset,
            fit=(*ruleset.fit, *(r for r in extra if r.kind == "fit")),
            behaviour=(*ruleset.behaviour, *(r for r in extra if r.kind == "behaviour")),
        )
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


def cohort_patterns(
    *, version: RuleSetVersion, period: Period, extra: Sequence[engine.CompiledRule] = ()
) -> Cohort:
    """The period's MQLs grouped by month, outcome, rejection reason and the rules of
    `version` (and `extra` candidates) that fired for them (one statement)."""
    sql, params, rules = patterns_sql(version=version, period=period, extra=extra)
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


def cohort_cached(
    *, version: RuleSetVersion, period: Period, extra: Sequence[engine.CompiledRule] = ()
) -> Cohort:
    """`cohort_patterns`, from the stored snapshot while the history has not moved since."""
    key = f"{version.pk}:{period.key}{':candidates' if extra else ''}"
    fingerprint = history_fingerprint()
    rules = patterns_sql(version=version, period=period, extra=extra)[2]
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
    cohort = cohort_patterns(version=version, period=period, extra=extra)
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


# --------------------------------------------------------------------------------------------
# Models replayed on the cohort (the backtest's yardstick)

# A month is still maturing while fewer than this many days have passed since it ended: its
# MQLs have not all had the time to reach SQL.
MATURE_AFTER_DAYS = 30
# Under this many SQLs among the mature MQLs, the outcomes say too little to suggest anything.
MIN_SQLS = 30
# How far a rule's estimate must stand from what its current points imply (in standard
# errors) before a change is suggested; strict, because every rule is tested.
SUGGEST_Z = 3.0
# Shrinkage towards the current points: a rule that fired for n MQLs moves n / (n + this).
SHRINK_MQLS = 200
# Points suggestions smaller than this are not worth a meeting's time.
MIN_POINTS_CHANGE = 3


@dataclasses.dataclass(frozen=True)
class Replay:
    """A scoring model as the backtest replays it on hit patterns: a rule that fired gives its
    points once (behaviour counts, decay and caps are not replayed)."""

    points: tuple[int, ...]
    threshold: float
    min_fit: int | None

    def qualifies(self, rules: Sequence[engine.CompiledRule], hits: Sequence[bool]) -> bool:
        fit = total = 0
        fast = False
        for rule, hit, points in zip(rules, hits, self.points, strict=True):
            if not hit:
                continue
            if rule.kind == "exclusion":
                return False
            if rule.kind == "fast_track":
                fast = True
            elif rule.kind == "fit":
                fit += points
                total += points
            else:
                total += points
        if fast:
            return True
        if self.min_fit is not None and fit < self.min_fit:
            return False
        return total >= self.threshold

    def score(self, rules: Sequence[engine.CompiledRule], hits: Sequence[bool]) -> int:
        return sum(p for r, h, p in zip(rules, hits, self.points, strict=True) if h)


def live_replay(cohort: Cohort) -> Replay:
    return Replay(
        points=tuple(r.points for r in cohort.rules),
        threshold=float(cohort.version.mql_threshold),
        min_fit=cohort.version.min_fit_score,
    )


def maturing_months(period: Period, now: dt.datetime | None = None) -> set[int]:
    now = now or timezone.now()
    months = period.months
    ends = [*months[1:], period.end]
    return {
        i for i, end in enumerate(ends) if now - min(end, now) < dt.timedelta(MATURE_AFTER_DAYS)
    }


def backtest(
    cohort: Cohort,
    model: Replay,
    base: Replay | None = None,
    base_rules: Sequence[engine.CompiledRule] | None = None,
) -> dict[str, Any]:
    """Per month of the period: the MQLs `model` would have made among the cohort, the SQLs
    among them, and against `base` (default the live model): the rejected MQLs it would have
    avoided and the SQLs it would have lost."""
    base = base or live_replay(cohort)
    labels = months_labels(cohort.period)
    maturing = maturing_months(cohort.period)
    rows: list[dict[str, Any]] = [
        {
            "month": label,
            "maturing": i in maturing,
            "mqls": 0,
            "sqls": 0,
            "base_mqls": 0,
            "base_sqls": 0,
            "rejected_avoided": 0,
            "sqls_lost": 0,
        }
        for i, label in enumerate(labels)
    ]
    memo: dict[tuple[bool, ...], tuple[bool, bool]] = {}
    for p in cohort.patterns:
        if p.hits not in memo:
            memo[p.hits] = (
                model.qualifies(cohort.rules, p.hits),
                base.qualifies(base_rules or cohort.rules, p.hits),
            )
        new, old = memo[p.hits]
        row = rows[p.month]
        if new:
            row["mqls"] += p.count
            row["sqls"] += p.count if p.won else 0
        if old:
            row["base_mqls"] += p.count
            row["base_sqls"] += p.count if p.won else 0
        if old and not new:
            row["rejected_avoided"] += p.count if p.rejected else 0
            row["sqls_lost"] += p.count if p.won else 0
    for row in rows:
        row["sql_rate"] = row["sqls"] / row["mqls"] if row["mqls"] else None
        row["base_sql_rate"] = row["base_sqls"] / row["base_mqls"] if row["base_mqls"] else None
    totals: dict[str, Any] = {
        key: sum(r[key] for r in rows)
        for key in ("mqls", "sqls", "base_mqls", "base_sqls", "rejected_avoided", "sqls_lost")
    }
    totals["sql_rate"] = totals["sqls"] / totals["mqls"] if totals["mqls"] else None
    totals["base_sql_rate"] = (
        totals["base_sqls"] / totals["base_mqls"] if totals["base_mqls"] else None
    )
    mature = [r for r in rows if not r["maturing"]] or rows
    totals["mqls_per_month"] = sum(r["mqls"] for r in mature) / len(mature)
    totals["base_mqls_per_month"] = sum(r["base_mqls"] for r in mature) / len(mature)
    return {"months": rows, "totals": totals}


# --------------------------------------------------------------------------------------------
# Suggestions from outcomes


def _mature(cohort: Cohort) -> Cohort:
    maturing = maturing_months(cohort.period)
    patterns = [p for p in cohort.patterns if p.month not in maturing]
    if not patterns:
        return cohort
    return dataclasses.replace(cohort, patterns=patterns)


def _design(cohort: Cohort, columns: Sequence[int]) -> tuple[Any, Any, Any]:
    import numpy as np

    x = np.array([[1.0 if p.hits[i] else 0.0 for i in columns] for p in cohort.patterns])
    y = np.array([1 if p.won else 0 for p in cohort.patterns])
    w = np.array([float(p.count) for p in cohort.patterns])
    return x.reshape(len(cohort.patterns), len(columns)), y, w


def _logistic(x: Any, y: Any, w: Any, c: float) -> tuple[Any, Any]:
    """Coefficients and their standard errors (from the penalised Hessian) of an L2
    logistic regression with sample weights."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=1000)
    model.fit(x, y, sample_weight=w)
    beta = model.coef_[0]
    p = model.predict_proba(x)[:, 1]
    xi = np.hstack([np.ones((x.shape[0], 1)), x])
    hessian = xi.T @ (xi * (w * p * (1 - p))[:, None])
    hessian[1:, 1:] += np.eye(x.shape[1]) / c
    try:
        cov = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(hessian)
    se = np.sqrt(np.clip(np.diag(cov)[1:], 1e-12, None))
    return beta, se


def points_suggestions(cohort: Cohort) -> list[dict[str, Any]]:
    """Points re-estimated from which MQLs reached SQL: an L2 logistic regression on the
    fit and behaviour rules' hits, read on the scale of the current points (log-odds per point
    from a fit of the outcome on the current score), shrunk towards the current points by how
    often the rule fired, and offered only where the estimate stands clearly apart."""
    import numpy as np

    mature = _mature(cohort)
    columns = [
        i
        for i, r in enumerate(mature.rules)
        if r.kind in ("fit", "behaviour") and any(p.hits[i] for p in mature.patterns)
    ]
    if not columns or not mature.patterns or len({p.won for p in mature.patterns}) < 2:
        return []
    x, y, w = _design(mature, columns)
    beta, se = _logistic(x, y, w, c=1.0)
    current = np.array([mature.rules[i].points for i in columns], dtype=float)
    score = (x @ current).reshape(-1, 1)
    if not score.any():
        return []
    slope, slope_se = _logistic(score, y, w, c=1e6)
    per_point = float(slope[0])
    if per_point <= 0 or per_point < 2 * float(slope_se[0]):
        # The current score does not rank the outcomes: there is no scale to read points on.
        return []
    evidence_rows = {r["rule_id"]: r for r in rule_evidence(mature)}
    out = []
    for j, i in enumerate(columns):
        rule = mature.rules[i]
        z = (beta[j] - per_point * rule.points) / se[j]
        if abs(z) < SUGGEST_Z:
            continue
        fired = evidence_rows[rule.id]["fired"]
        weight = fired / (fired + SHRINK_MQLS)
        raw = beta[j] / per_point
        # Beyond twice the threshold a rule decides alone; say so with an exclusion instead.
        bound = 2 * max(abs(float(mature.version.mql_threshold)), 10.0)
        raw = max(-bound, min(bound, raw))
        suggested = int(round(rule.points + weight * (raw - rule.points)))
        if abs(suggested - rule.points) < MIN_POINTS_CHANGE:
            continue
        out.append(
            {
                "kind": "points",
                "key": f"points-{rule.id}",
                "rule_id": rule.id,
                "rule": rule.name,
                "rule_kind": rule.kind,
                "current": rule.points,
                "suggested": suggested,
                "z": float(z),
                "evidence": evidence_rows[rule.id],
            }
        )
    return out


def commitment_default() -> int | None:
    """Marketing's monthly MQL commitment, from the agreement in force (settings hook: the SLA
    lives above scoring)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = getattr(settings, "SCORING_MQL_COMMITMENT", "")
    return import_string(path)() if path else None


def threshold_suggestion(
    cohort: Cohort, points: tuple[int, ...], commitment: int | None
) -> dict[str, Any] | None:
    """The threshold that, with `points`, still meets the monthly MQL commitment (mean over
    the mature months) and gives the best SQL rate among the cohort."""
    if not commitment:
        return None
    live = live_replay(cohort)
    mature = _mature(cohort)
    months = len({p.month for p in mature.patterns}) or 1
    by_score: dict[int, list[int]] = {}
    for p in mature.patterns:
        if any(p.hits[i] and r.kind == "exclusion" for i, r in enumerate(mature.rules)):
            continue
        fast = any(p.hits[i] and r.kind == "fast_track" for i, r in enumerate(mature.rules))
        s = 10**9 if fast else Replay(points, 0, None).score(mature.rules, p.hits)
        counts = by_score.setdefault(s, [0, 0])
        counts[0] += p.count
        counts[1] += p.count if p.won else 0
    best: tuple[float, float] | None = None
    mqls = sqls = 0
    for s in sorted(by_score, reverse=True):
        mqls += by_score[s][0]
        sqls += by_score[s][1]
        if s >= 10**9 or mqls / months < commitment:
            continue
        rate = sqls / mqls
        if best is None or rate > best[1]:
            best = (float(s), rate)
    if best is None:
        return None
    threshold = best[0]
    if points == live.points and threshold == live.threshold:
        return None
    if not _threshold_warranted(mature, Replay(points, threshold, live.min_fit), commitment):
        return None
    return {
        "kind": "threshold",
        "key": "threshold",
        "current": live.threshold,
        "suggested": threshold,
        "with_points": points != live.points,
        "commitment": commitment,
    }


def _threshold_warranted(cohort: Cohort, model: Replay, commitment: int) -> bool:
    """A threshold that drops MQLs must drop clearly worse ones (the kept MQLs' SQL rate above
    the dropped ones' by SUGGEST_Z standard errors, with the same points at the live
    threshold); one that adds MQLs only when the live threshold misses the commitment."""
    # Against the same points at the live threshold: the threshold's own effect.
    live = dataclasses.replace(model, threshold=live_replay(cohort).threshold)
    months = len({p.month for p in cohort.patterns}) or 1
    kept = kept_won = dropped = dropped_won = base = 0
    for p in cohort.patterns:
        new, old = model.qualifies(cohort.rules, p.hits), live.qualifies(cohort.rules, p.hits)
        base += p.count if old else 0
        if new:
            kept += p.count
            kept_won += p.count if p.won else 0
        elif old:
            dropped += p.count
            dropped_won += p.count if p.won else 0
    if dropped == 0:
        return base / months < commitment
    z = two_proportion_z(kept_won, kept, dropped_won, dropped)
    return z is not None and z >= SUGGEST_Z


def suggestions(
    *,
    version: RuleSetVersion,
    period: Period,
    commitment: int | None = None,
    cohort: Cohort | None = None,
) -> dict[str, Any]:
    """Everything the tuning page offers, each suggestion with its backtest; or, with too few
    outcomes, the reason there is none."""
    cohort = cohort or cohort_cached(version=version, period=period)
    commitment = commitment if commitment is not None else commitment_default()
    mature = _mature(cohort)
    result: dict[str, Any] = {
        "commitment": commitment,
        "mature_sqls": mature.sqls,
        "maturing_months": [months_labels(period)[i] for i in sorted(maturing_months(period))],
        "too_few": mature.sqls < MIN_SQLS,
        "items": [],
    }
    if result["too_few"]:
        return result
    live = live_replay(cohort)
    items = points_suggestions(cohort)
    points = list(live.points)
    for item in items:
        index = next(i for i, r in enumerate(cohort.rules) if r.id == item["rule_id"])
        single = list(live.points)
        single[index] = item["suggested"]
        points[index] = item["suggested"]
        item["backtest"] = backtest(cohort, dataclasses.replace(live, points=tuple(single)))
    threshold = threshold_suggestion(cohort, tuple(points), commitment)
    if threshold is not None:
        model = Replay(tuple(points), threshold["suggested"], live.min_fit)
        threshold["backtest"] = backtest(cohort, model)
        items.append(threshold)
    extended = cohort_cached(version=version, period=period, extra=rejection_candidates())
    items.extend(rejection_suggestions(extended))
    for n, item in enumerate(_ranked(items), start=1):
        item["number"] = n
        result["items"].append(item)
    return result


# --------------------------------------------------------------------------------------------
# Suggestions from rejections

# A rejection reason needs this many cases in the period before its pattern is read.
MIN_REJECTIONS = 20
# A trait is offered when at least this share of the reason's rejected MQLs have it, and
# RATIO times the share among the MQLs sales did not reject.
MIN_SHARE = 0.25
RATIO = 3.0


def _candidate(n: int, kind: str, name: str, **kw: Any) -> engine.CompiledRule:
    return engine.CompiledRule(id=-n, kind=kind, name=name, **kw)


def rejection_candidates() -> list[engine.CompiledRule]:
    """The traits rejected leads are checked for: who they are (a student's title, an academic,
    free-mail address) and what they did (careers or recruiting pages)."""
    cond = engine.Condition
    careers = [{"property": "url", "operator": "contains", "value": v} for v in ("/careers",)]
    recruit = [{"property": "url", "operator": "contains", "value": v} for v in ("/recruit",)]
    return [
        _candidate(1, "fit", "title:student", condition=cond("title", "contains", "student")),
        _candidate(2, "fit", "title:学生", condition=cond("title", "contains", "学生")),
        _candidate(3, "fit", "title:intern", condition=cond("title", "contains", "intern")),
        _candidate(4, "fit", "email:.ac.jp", condition=cond("email", "ends_with", ".ac.jp")),
        _candidate(5, "fit", "email:.edu", condition=cond("email", "ends_with", ".edu")),
        _candidate(6, "fit", "email:free", condition=cond("email", "free_mail", None)),
        _candidate(
            7,
            "behaviour",
            "visit:/careers",
            activity_kind="page_view",
            property_conditions=tuple(
                cond(c["property"], c["operator"], c["value"]) for c in careers
            ),
        ),
        _candidate(
            8,
            "behaviour",
            "visit:/recruit",
            activity_kind="page_view",
            property_conditions=tuple(
                cond(c["property"], c["operator"], c["value"]) for c in recruit
            ),
        ),
    ]


def _candidate_rule_data(rule: engine.CompiledRule, reason: str, threshold: float) -> dict:
    """The rule a trait becomes in the draft: an exclusion for who the lead is, a negative
    behaviour rule for what it did."""
    label = reason_text(reason)
    if rule.kind == "fit":
        c = rule.lead_condition
        value = c.value
        return {
            "kind": "exclusion",
            "name": _("%(trait)s (rejected as %(reason)s)")
            % {"trait": trait_text(rule), "reason": label},
            "field": "email" if c.operator == "free_mail" else c.field,
            "operator": c.operator,
            "value": value,
        }
    return {
        "kind": "behaviour",
        "name": _("%(trait)s (rejected as %(reason)s)")
        % {"trait": trait_text(rule), "reason": label},
        "activity_kind": rule.activity_kind,
        "property_conditions": [
            {"property": c.field, "operator": c.operator, "value": c.value}
            for c in rule.property_conditions
        ],
        "points": -int(max(10, round(threshold / 2))),
    }


def trait_text(rule: engine.CompiledRule) -> str:
    what, _sep, value = rule.name.partition(":")
    if what == "title":
        return _("Job title contains “%(v)s”") % {"v": value}
    if what == "email" and value == "free":
        return _("Free-mail address")
    if what == "email":
        return _("E-mail address ends with %(v)s") % {"v": value}
    return _("Visited a page whose address contains %(v)s") % {"v": value}


def reason_text(code: str) -> str:
    from leads.models import reason_label

    return str(reason_label(code)) if code else _("no reason given")


def _already_covered(live: Sequence[engine.CompiledRule], rule: engine.CompiledRule) -> bool:
    for r in live:
        if rule.kind == "fit" and r.kind == "exclusion" and r.condition == rule.condition:
            return True
        if (
            rule.kind == "behaviour"
            and r.kind == "behaviour"
            and r.points < 0
            and r.activity_kind == rule.activity_kind
            and r.property_conditions == rule.property_conditions
        ):
            return True
    return False


def rejection_suggestions(cohort: Cohort) -> list[dict[str, Any]]:
    """For each rejection reason with enough cases, the traits its rejected MQLs share far
    more than the MQLs sales kept, each offered as an exclusion or a negative rule."""
    candidates = [i for i, r in enumerate(cohort.rules) if r.id < 0]
    live_rules = [r for r in cohort.rules if r.id >= 0]
    kept = [p for p in cohort.patterns if not p.rejected]
    kept_n = sum(p.count for p in kept)
    reasons: dict[str, int] = {}
    for p in cohort.patterns:
        if p.rejected:
            reasons[p.reason] = reasons.get(p.reason, 0) + p.count
    best: dict[int, dict[str, Any]] = {}
    for reason, n in reasons.items():
        if n < MIN_REJECTIONS or not kept_n:
            continue
        rejected = [p for p in cohort.patterns if p.rejected and p.reason == reason]
        for i in candidates:
            rule = cohort.rules[i]
            if _already_covered(live_rules, rule):
                continue
            hit_r = sum(p.count for p in rejected if p.hits[i])
            hit_k = sum(p.count for p in kept if p.hits[i])
            share_r, share_k = hit_r / n, hit_k / kept_n
            z = two_proportion_z(hit_r, n, hit_k, kept_n)
            if share_r < MIN_SHARE or share_r < RATIO * share_k or z is None or z < SUGGEST_Z:
                continue
            if i in best and best[i]["z"] >= z:
                continue
            best[i] = {
                "kind": "rule",
                "key": f"rule-{reason}-{rule.name}",
                "reason": reason,
                "reason_label": reason_text(reason),
                "trait": trait_text(rule),
                "z": float(z),
                "rejected_with": hit_r,
                "rejected_total": n,
                "kept_with": hit_k,
                "kept_total": kept_n,
                "index": i,
            }
    out = []
    for i, item in best.items():
        rule = cohort.rules[i]
        data = _candidate_rule_data(rule, item["reason"], float(cohort.version.mql_threshold))
        item["rule_data"] = data
        item["title"] = (
            _("New exclusion: %(name)s") % {"name": data["name"]}
            if data["kind"] == "exclusion"
            else _("New negative rule (%(points)d points): %(name)s")
            % {"points": data["points"], "name": data["name"]}
        )
        item["explanation"] = _(
            "%(with)d of %(total)d MQLs rejected as “%(reason)s” (%(share)s) against %(kwith)d "
            "of %(ktotal)d MQLs sales kept (%(kshare)s)."
        ) % {
            "with": item["rejected_with"],
            "total": item["rejected_total"],
            "reason": item["reason_label"],
            "share": f"{100 * item['rejected_with'] / item['rejected_total']:.0f}%",
            "kwith": item["kept_with"],
            "ktotal": item["kept_total"],
            "kshare": f"{100 * item['kept_with'] / item['kept_total']:.1f}%",
        }
        rules = list(cohort.rules)
        if data["kind"] == "exclusion":
            rules[i] = dataclasses.replace(rule, kind="exclusion")
        else:
            rules[i] = dataclasses.replace(rule, points=data["points"])
        changed = dataclasses.replace(cohort, rules=rules)
        points = list(live_replay(cohort).points)
        points[i] = rules[i].points
        model = dataclasses.replace(live_replay(cohort), points=tuple(points))
        item["backtest"] = backtest(
            changed, model, base=live_replay(cohort), base_rules=cohort.rules
        )
        out.append(item)
    return out


def _ranked(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best first: the SQL rate the change brings among the MQLs it keeps, less the share of
    the live model's SQLs it would lose (a sharper funnel that drops deals is no gain)."""

    def gain(item: dict[str, Any]) -> tuple[float, int]:
        t = item["backtest"]["totals"]
        rate, base = t["sql_rate"] or 0.0, t["base_sql_rate"] or 0.0
        lost = t["sqls_lost"] / t["base_sqls"] if t["base_sqls"] else 0.0
        return (rate - base - lost, -t["sqls_lost"])

    return sorted(items, key=gain, reverse=True)


def suggestion_title(item: dict[str, Any]) -> str:
    """One line naming the change (the review's decisions and the draft's comments)."""
    if item["kind"] == "points":
        return _("Points of “%(rule)s”: %(current)s → %(suggested)s") % {
            "rule": item["rule"],
            "current": item["current"],
            "suggested": item["suggested"],
        }
    if item["kind"] == "threshold":
        return _("MQL threshold: %(current)s → %(suggested)s") % {
            "current": f"{item['current']:g}",
            "suggested": f"{item['suggested']:g}",
        }
    return str(item["title"])


def backtest_line(item: dict[str, Any]) -> str:
    t = item["backtest"]["totals"]
    rate = f"{100 * t['sql_rate']:.1f}%" if t["sql_rate"] is not None else "—"
    base = f"{100 * t['base_sql_rate']:.1f}%" if t["base_sql_rate"] is not None else "—"
    return _(
        "%(mqls)s MQLs at %(rate)s SQL rate (live model: %(base)s at %(base_rate)s); "
        "%(avoided)s rejected MQLs avoided, %(lost)s SQLs lost."
    ) % {
        "mqls": t["mqls"],
        "rate": rate,
        "base": t["base_mqls"],
        "base_rate": base,
        "avoided": t["rejected_avoided"],
        "lost": t["sqls_lost"],
    }
