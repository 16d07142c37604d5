"""Reads of scoring: impact preview, backtest, diffs, change history, progress."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Max, Min
from django.utils import timezone
from django.utils.translation import gettext

from leads.models import Lead, Stage, StageEvent

from . import engine
from .models import RescoreRun, Rule, RuleSetVersion

PREVIEW_CHUNK = 50_000
BUCKET = 10


def _chunks(size: int = PREVIEW_CHUNK) -> Iterator[tuple[int, int]]:
    bounds = Lead.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return
    lo = bounds["lo"]
    while lo <= bounds["hi"]:
        yield lo, min(lo + size - 1, bounds["hi"])
        lo += size


def _above(ruleset: engine.CompiledRuleSet, total: str, fit: str) -> tuple[str, list]:
    sql, params = f"({total} >= %s", [ruleset.threshold]
    if ruleset.min_fit is not None:
        sql += f" AND {fit} >= %s"
        params.append(ruleset.min_fit)
    return sql + ")", params


def draft_impact(
    *,
    draft: RuleSetVersion,
    live: RuleSetVersion | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """What publishing `draft` would do now, computed in the database chunk by chunk.

    would_become_mql: open leads (Lead or Recycled) that the draft makes MQL at once.
    newly_above / dropped_below: leads whose score crosses the threshold either way,
    compared with their live scores (leads already past MQL keep their history).
    """
    now = now or timezone.now()
    ruleset = engine.compile_ruleset(draft)
    live_rs = engine.compile_ruleset(live) if live else None
    draft_above, dp = _above(ruleset, "(scored.fit + scored.eng)", "scored.fit")
    if live_rs:
        live_above, lp = _above(live_rs, "l.total_score", "l.fit_score")
        live_above = f"(l.excluded_reason = '' AND {live_above})"
    else:
        live_above, lp = "(1 = 0)", []
    draft_ok = f"(scored.excl = '' AND {draft_above})"
    qualify = (
        f"(l.stage IN ('lead', 'recycled') AND scored.excl = '' AND (scored.ft OR {draft_above})"
        " AND (l.stage = 'lead' OR l.stage_changed_at IS NULL OR EXISTS (SELECT 1 FROM"
        " leads_activity a2 WHERE a2.lead_id = l.id AND a2.occurred_at > l.stage_changed_at)))"
    )
    totals = {"leads": 0, "would_become_mql": 0, "newly_above": 0, "dropped_below": 0}
    draft_hist: dict[int, int] = {}
    for lo, hi in _chunks():
        cte, params = engine.scored_cte(ruleset, connection, lo, hi, now)
        sql = f"""{cte}
SELECT floor((scored.fit + scored.eng) / {BUCKET}.0) * {BUCKET} AS bucket, COUNT(*),
    SUM(CASE WHEN {qualify} THEN 1 ELSE 0 END),
    SUM(CASE WHEN {draft_ok} AND NOT {live_above} THEN 1 ELSE 0 END),
    SUM(CASE WHEN {live_above} AND NOT {draft_ok} THEN 1 ELSE 0 END)
FROM scored JOIN leads_lead l ON l.id = scored.id
WHERE l.deleted_at IS NULL
GROUP BY 1
"""
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *dp, *dp, *lp, *lp, *dp])
            for bucket, n, mql, up, down in cursor.fetchall():
                draft_hist[int(bucket)] = draft_hist.get(int(bucket), 0) + n
                totals["leads"] += n
                totals["would_become_mql"] += mql or 0
                totals["newly_above"] += up or 0
                totals["dropped_below"] += down or 0
    live_hist: dict[int, int] = {}
    if live_rs:
        for row in (
            Lead.objects.filter(deleted_at__isnull=True)
            .values_list("total_score", flat=True)
            .iterator(chunk_size=10_000)
        ):
            bucket = int(row // BUCKET) * BUCKET
            live_hist[bucket] = live_hist.get(bucket, 0) + 1
    return {
        **totals,
        "threshold": ruleset.threshold,
        "live_threshold": live_rs.threshold if live_rs else None,
        "draft_histogram": sorted(draft_hist.items()),
        "live_histogram": sorted(live_hist.items()),
        "as_of": now,
    }


def _month_starts(months: int, now: dt.datetime) -> list[dt.datetime]:
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(tz)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = [first]
    for _ in range(months - 1):
        prev = (starts[-1] - dt.timedelta(days=1)).replace(day=1)
        starts.append(prev)
    return sorted(starts)


def _qualifying_ids(ruleset: engine.CompiledRuleSet, until: dt.datetime) -> set[int]:
    above, params = _above(ruleset, "(scored.fit + scored.eng)", "scored.fit")
    ids: set[int] = set()
    for lo, hi in _chunks():
        cte, cte_params = engine.scored_cte(ruleset, connection, lo, hi, until, until=until)
        sql = (
            f"{cte} SELECT scored.id FROM scored WHERE scored.excl = '' AND (scored.ft OR {above})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*cte_params, *params])
            ids.update(row[0] for row in cursor.fetchall())
    return ids


def backtest(
    *, version: RuleSetVersion, months: int = 12, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """How many MQLs per month `version` would have produced over the last `months` months,
    and what share of those leads actually reached SQL.

    Each month end is a snapshot: activities up to that moment, decay as of then, the leads'
    current attributes (attribute history is not kept). A lead counts in the month it first
    qualifies.
    """
    now = now or timezone.now()
    ruleset = engine.compile_ruleset(version)
    starts = _month_starts(months, now)
    reached_sql = set(
        StageEvent.objects.filter(to_stage=Stage.SQL).values_list("lead_id", flat=True)
    )
    seen = _qualifying_ids(ruleset, starts[0])
    rows = []
    for start, end in zip(starts, [*starts[1:], now], strict=True):
        current = _qualifying_ids(ruleset, end)
        new = current - seen
        seen |= current
        sql_count = len(new & reached_sql)
        rows.append(
            {
                "month": start.date().isoformat()[:7],
                "mqls": len(new),
                "reached_sql": sql_count,
                "sql_rate": (sql_count / len(new)) if new else None,
            }
        )
    return rows


def actual_mqls_by_month(*, months: int = 12, now: dt.datetime | None = None) -> list[dict]:
    """The MQLs that really happened (StageEvents), with the share that reached SQL."""
    now = now or timezone.now()
    starts = _month_starts(months, now)
    rows = []
    for start, end in zip(starts, [*starts[1:], now], strict=True):
        lead_ids = set(
            StageEvent.objects.filter(to_stage=Stage.MQL, at__gte=start, at__lt=end).values_list(
                "lead_id", flat=True
            )
        )
        sql_count = (
            StageEvent.objects.filter(to_stage=Stage.SQL, lead_id__in=lead_ids)
            .values("lead_id")
            .distinct()
            .count()
            if lead_ids
            else 0
        )
        rows.append(
            {
                "month": start.date().isoformat()[:7],
                "mqls": len(lead_ids),
                "reached_sql": sql_count,
                "sql_rate": (sql_count / len(lead_ids)) if lead_ids else None,
            }
        )
    return rows


def _verbose_name(model: type[RuleSetVersion | Rule], name: str) -> Any:
    # Only for the SETTINGS_FIELDS and SCORING_FIELDS: fields of the model's own, never a
    # reverse relation.
    return cast(Field, model._meta.get_field(name)).verbose_name


def version_diff(*, old: RuleSetVersion | None, new: RuleSetVersion) -> dict[str, Any]:
    """A readable diff: settings changed, rules added, removed and changed (matched by name)."""
    from .templatetags.scoring_tags import value_text

    settings_changed = []
    for f in RuleSetVersion.SETTINGS_FIELDS:
        before = getattr(old, f) if old else None
        after = getattr(new, f)
        if before != after:
            settings_changed.append(
                {
                    "field": _verbose_name(RuleSetVersion, f),
                    "old": before,
                    "new": after,
                    "old_text": value_text(f, before),
                    "new_text": value_text(f, after),
                }
            )
    old_rules = {(r.kind, r.name): r for r in old.rules.all()} if old else {}
    new_rules = {(r.kind, r.name): r for r in new.rules.all()}
    added = [new_rules[k] for k in new_rules if k not in old_rules]
    removed = [old_rules[k] for k in old_rules if k not in new_rules]
    changed: list[dict[str, Any]] = []
    for key in new_rules.keys() & old_rules.keys():
        a, b = old_rules[key], new_rules[key]
        fields = [
            {
                "field": _verbose_name(Rule, f),
                "old": getattr(a, f),
                "new": getattr(b, f),
                "old_text": value_text(f, getattr(a, f), rule_field=a.field),
                "new_text": value_text(f, getattr(b, f), rule_field=b.field),
            }
            for f in Rule.SCORING_FIELDS
            if getattr(a, f) != getattr(b, f)
        ]
        if fields:
            changed.append({"rule": b, "changes": fields})
    changed.sort(key=lambda c: (c["rule"].kind, c["rule"].position, c["rule"].name))
    return {
        "old": old,
        "new": new,
        "settings": settings_changed,
        "added": added,
        "removed": removed,
        "changed": changed,
        "empty": not (settings_changed or added or removed or changed),
    }


def _history_changes(
    model: type[RuleSetVersion | Rule], record: Any, fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Field by field, from what to what, in words, against the record before it."""
    from .templatetags.scoring_tags import value_text

    previous = record.prev_record
    if previous is None:
        return []
    delta = record.diff_against(previous, included_fields=list(fields))
    rule_field = getattr(record, "field", "")
    changes = []
    for c in sorted(delta.changes, key=lambda c: fields.index(c.field)):
        label = gettext("order") if c.field == "position" else _verbose_name(model, c.field)
        changes.append(
            {
                "field": c.field,
                "label": label,
                "old": c.old,
                "new": c.new,
                "old_text": value_text(c.field, c.old, rule_field=getattr(previous, "field", "")),
                "new_text": value_text(c.field, c.new, rule_field=rule_field),
            }
        )
    return changes


def rule_change_history(*, version: RuleSetVersion, limit: int = 100) -> list[dict[str, Any]]:
    """Who changed what in this version, from what to what, and when: every field of every
    rule and the rule set's own settings (threshold, minimum fit, half-life), newest first."""
    out: list[dict[str, Any]] = []
    rules = (
        Rule.history.filter(version_id=version.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[:limit]
    )
    for record in rules:
        changes: list[dict[str, Any]] = []
        if record.history_type == "+" and record.history_change_reason == Rule.COPIED:
            continue
        if record.history_type == "~":
            changes = _history_changes(Rule, record, Rule.EDITABLE_FIELDS)
            if not changes:
                continue
        out.append(
            {
                "at": record.history_date,
                "user": record.history_user,
                "type": record.history_type,
                "subject": "rule",
                "rule": record.name,
                "kind": record.kind,
                "changes": changes,
            }
        )
    own = (
        RuleSetVersion.history.filter(id=version.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[:limit]
    )
    for record in own:
        if record.history_type != "~":
            continue
        changes = _history_changes(
            RuleSetVersion, record, ("name", *RuleSetVersion.SETTINGS_FIELDS)
        )
        if changes:
            out.append(
                {
                    "at": record.history_date,
                    "user": record.history_user,
                    "type": "~",
                    "subject": "settings",
                    "rule": "",
                    "kind": "",
                    "changes": changes,
                }
            )
    out.sort(key=lambda row: row["at"], reverse=True)
    return out[:limit]


def run_progress(run: RescoreRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "version": run.version.number,
        "status": run.status,
        "status_label": str(run.get_status_display()),
        "done": run.done,
        "total": run.total,
        "percent": round(run.percent, 1),
        "seconds_left": None if run.seconds_left is None else round(run.seconds_left, 1),
        "changed": run.changed,
        "new_mqls": run.new_mqls,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def latest_run() -> RescoreRun | None:
    return RescoreRun.objects.select_related("version").order_by("-created_at", "-id").first()


def versions() -> list[RuleSetVersion]:
    return list(RuleSetVersion.objects.select_related("published_by").order_by("-number"))


# --------------------------------------------------------------------------------------------
# What the rule editor offers: fields with their types, custom attribute and property keys

# Keys are read from the newest rows only: enough to offer every key in use without reading
# tens of millions of activities for a drop-down.
KEY_SAMPLE = 20_000


@dataclasses.dataclass(frozen=True)
class FieldChoice:
    value: str
    label: str
    type: str  # engine.field_type: text, number, bool or any


def _distinct_json_keys(table: str, column: str, where: str = "", params: tuple = ()) -> list[str]:
    """The keys of a JSON object column in the newest KEY_SAMPLE rows, in the database."""
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT DISTINCT k FROM (SELECT {column} AS j FROM {table} {where} "
            f"ORDER BY id DESC LIMIT %s) s, jsonb_object_keys(CASE WHEN jsonb_typeof(s.j) = "
            f"'object' THEN s.j ELSE '{{}}'::jsonb END) AS k ORDER BY k"
        )
    else:
        sql = (
            f"SELECT DISTINCT e.key FROM (SELECT {column} AS j FROM {table} {where} "
            f"ORDER BY id DESC LIMIT %s) s, json_each(CASE WHEN json_type(s.j) = 'object' "
            f"THEN s.j ELSE '{{}}' END) AS e ORDER BY e.key"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params, KEY_SAMPLE))
        return [row[0] for row in cursor.fetchall() if row[0] and engine.KEY.match(row[0])]


def custom_attribute_keys() -> list[str]:
    return _distinct_json_keys(Lead._meta.db_table, "custom")


def activity_property_keys(activity_kind: str = "") -> list[str]:
    from leads.models import Activity

    if activity_kind:
        return _distinct_json_keys(
            Activity._meta.db_table, "properties", "WHERE kind = %s", (activity_kind,)
        )
    return _distinct_json_keys(Activity._meta.db_table, "properties")


def field_choices() -> list[tuple[str, list[FieldChoice]]]:
    """The fields a fit or exclusion rule can test, grouped: the lead's, the company's and
    every custom attribute key in the data."""
    from leads.models import Company

    def label(model: Any, name: str) -> str:
        return str(cast(Field, model._meta.get_field(name)).verbose_name)

    lead = [FieldChoice(f, label(Lead, f), "text") for f in engine.LEAD_TEXT_FIELDS]
    company = [
        FieldChoice(f"company.{f}", label(Company, f), engine.field_type(f"company.{f}") or "")
        for f in (*Company.TEXT_FIELDS, *Company.NUMBER_FIELDS, *Company.BOOL_FIELDS)
    ]
    custom = [FieldChoice(f"custom.{k}", k, "any") for k in custom_attribute_keys()]
    return [
        (gettext("Lead"), lead),
        (gettext("Company"), company),
        (gettext("Custom attributes"), custom),
    ]


def rule_match_counts(
    *, version: RuleSetVersion, now: dt.datetime | None = None
) -> dict[int, dict[str, int]]:
    """For each rule of a version: how many leads it matches now (`leads`) and, for behaviour
    and fast-track rules, how many activities fall in its window (`activities`). Counted in
    the database, two statements in all."""
    now = now or timezone.now()
    ruleset = engine.compile_ruleset(version)
    (lead_sql, lead_params, lead_rules), activity = engine.match_counts_sql(
        ruleset, connection, now
    )
    out: dict[int, dict[str, int]] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One group per lead with activities: kept in memory, not spilled to disk.
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(lead_sql, lead_params)
        row = cursor.fetchone() or ()
        for i, rule in enumerate(lead_rules):
            out[rule.id] = {"leads": int(row[i + 1] or 0)}
        if activity is not None:
            sql, params, rules = activity
            cursor.execute(sql, params)
            row = cursor.fetchone() or ()
            for i, rule in enumerate(rules):
                out[rule.id] = {
                    "activities": int(row[2 * i] or 0),
                    "leads": int(row[2 * i + 1] or 0),
                }
    return out


# --------------------------------------------------------------------------------------------
# Test a lead: its score under the live version and the draft, rule by rule

TEST_SEARCH_LIMIT = 20


def lead_search(*, user: Any, query: str) -> list[Lead]:
    """Leads this user may see whose name or e-mail contains the words typed."""
    from django.db.models import Q

    from leads.selectors import leads_visible

    words = query.split()
    if not words:
        return []
    leads = leads_visible(user=user).filter(deleted_at__isnull=True)
    for word in words[:5]:
        leads = leads.filter(
            Q(email__icontains=word) | Q(first_name__icontains=word) | Q(last_name__icontains=word)
        )
    return list(leads.select_related("company").order_by("-total_score", "id")[:TEST_SEARCH_LIMIT])


def _score(lead: Lead, activities: list[Any], version: RuleSetVersion, now: dt.datetime) -> dict:
    ruleset = engine.compile_ruleset(version)
    result = engine.evaluate(lead, activities, ruleset, now)
    # The verdict of the agreement itself: would this lead be an MQL, whatever its stage now.
    verdict = engine.qualifies(
        ruleset,
        stage=Stage.LEAD,
        fit=result.fit,
        total=result.total,
        excluded_reason=result.excluded_reason,
        fast_tracked=result.fast_tracked,
    )
    return {"version": version, "result": result, "mql": verdict}


def lead_test(
    *,
    lead: Lead,
    live: RuleSetVersion | None,
    draft: RuleSetVersion,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The lead scored by both versions and each rule's points side by side (rules matched
    by kind and name, in the draft's order, then those only the live version has)."""
    now = now or timezone.now()
    activities = list(lead.activities.all())
    sides = {"draft": _score(lead, activities, draft, now)}
    if live is not None:
        sides["live"] = _score(lead, activities, live, now)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for side in ("draft", "live"):
        if side not in sides:
            continue
        version = sides[side]["version"]
        hits = {item["rule_id"]: item for item in sides[side]["result"].explanation}
        for rule in version.rules.order_by("kind", "position", "id"):
            row = rows.setdefault(
                (rule.kind, rule.name), {"kind": rule.kind, "name": rule.name, "rule": rule}
            )
            hit = hits.get(rule.pk)
            row[side] = {
                "present": True,
                "hit": hit is not None,
                "points": hit["points"] if hit else 0,
                "count": hit.get("count") if hit else None,
            }
    order = {kind: i for i, kind in enumerate(Rule.Kind.values)}
    return {
        "lead": lead,
        "live": sides.get("live"),
        "draft": sides["draft"],
        "rows": sorted(rows.values(), key=lambda r: order.get(r["kind"], 9)),
        "changed": (
            "live" in sides
            and (
                sides["live"]["result"].total != sides["draft"]["result"].total
                or sides["live"]["mql"] != sides["draft"]["mql"]
            )
        ),
    }
