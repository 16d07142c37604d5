"""The scoring engine: one definition of what each rule means, evaluated two ways.

- `evaluate` scores one lead in Python and explains every point (the single-lead path,
  the explanation frozen on an MQL's StageEvent, the impact preview).
- `chunk_sql` compiles the same rules into one set-based statement that scores every lead of
  an id range inside the database (the bulk path). Python never loops over activities there.

The two must agree; tests/scoring/test_engine_agreement.py holds them to it with hypothesis.

Semantics, shared by both paths:
- Text comparisons are case-insensitive on the value's text (None is "", true/false are
  "true"/"false"). Number comparisons only see numbers (a JSON string "5" is not a number).
- A behaviour rule counts the lead's matching activities (kind + property conditions, inside
  the window if any). Below "at least K" it gives nothing; else points × decay per
  activity, limited to ±cap. Decay halves the points every half-life (age clamps at 0).
- Engagement is rounded to 4 decimals; total = fit + engagement.
- Exclusion: the first matching exclusion rule (by order) names the reason.
- Fast-track: a matching activity qualifies the lead on its own; for a recycled lead only
  activities after it was recycled count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.translation import gettext as _

from leads.models import ActivityKind, Company, Lead, Stage

LEAD_TEXT_FIELDS = ("email", *Lead.PROFILE_FIELDS)
COMPANY_TEXT_FIELDS = Company.TEXT_FIELDS
COMPANY_NUMBER_FIELDS = Company.NUMBER_FIELDS
COMPANY_BOOL_FIELDS = Company.BOOL_FIELDS

TEXT_OPERATORS = {"equals", "not_equals", "in", "contains", "starts_with", "ends_with"}
NUMBER_OPERATORS = {"gt", "gte", "lt", "lte", "between"}
EMPTY_OPERATORS = {"is_empty", "not_empty"}
EMAIL_OPERATORS = {"email_domain_in", "free_mail"}
PROPERTY_OPERATORS = TEXT_OPERATORS | EMPTY_OPERATORS

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.jp",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.jp",
        "outlook.com",
        "outlook.jp",
        "live.com",
        "live.jp",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "mail.com",
        "yandex.com",
        "zoho.com",
        "qq.com",
        "163.com",
        "naver.com",
        "docomo.ne.jp",
        "ezweb.ne.jp",
        "au.com",
        "softbank.ne.jp",
        "nifty.com",
        "biglobe.ne.jp",
    }
)

KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .\-]{0,99}$")
_KEY = KEY
ACTIVE_STAGES = (Stage.LEAD, Stage.RECYCLED)


# --------------------------------------------------------------------------------------------
# Rules as plain data


@dataclasses.dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: Any


@dataclasses.dataclass(frozen=True)
class CompiledRule:
    id: int
    kind: str
    name: str
    points: int = 0
    condition: Condition | None = None
    activity_kind: str = ""
    property_conditions: tuple[Condition, ...] = ()
    cap: int | None = None
    window_days: int | None = None
    min_count: int | None = None

    @property
    def lead_condition(self) -> Condition:
        """A fit or exclusion rule's condition (compile_ruleset gives every one of them one)."""
        if self.condition is None:
            raise ValueError(f"The {self.kind} rule {self.name!r} has no condition on the lead.")
        return self.condition


@dataclasses.dataclass(frozen=True)
class CompiledRuleSet:
    version: int
    threshold: float
    min_fit: int | None
    half_life_days: float | None
    fit: tuple[CompiledRule, ...] = ()
    behaviour: tuple[CompiledRule, ...] = ()
    exclusion: tuple[CompiledRule, ...] = ()
    fast_track: tuple[CompiledRule, ...] = ()


def field_type(field: str) -> str | None:
    """'text', 'number', 'bool', 'any' (custom attributes) or None for an unknown field."""
    if field in LEAD_TEXT_FIELDS:
        return "text"
    if field.startswith("company."):
        name = field.removeprefix("company.")
        if name in COMPANY_TEXT_FIELDS:
            return "text"
        if name in COMPANY_NUMBER_FIELDS:
            return "number"
        if name in COMPANY_BOOL_FIELDS:
            return "bool"
        return None
    if field.startswith("custom."):
        return "any" if _KEY.match(field.removeprefix("custom.")) else None
    return None


def _validate_condition(field: str, operator: str, value: Any, *, prefix: str = "") -> dict:
    errors: dict[str, str] = {}
    kind = field_type(field) if operator not in EMAIL_OPERATORS else "text"
    if operator in EMAIL_OPERATORS:
        if field not in ("", "email"):
            errors[prefix + "field"] = _("E-mail operators work on the e-mail field.")
    elif kind is None:
        errors[prefix + "field"] = _("Unknown field %(field)s.") % {"field": field or "''"}
        return errors
    all_ops = TEXT_OPERATORS | NUMBER_OPERATORS | EMPTY_OPERATORS | EMAIL_OPERATORS
    if operator not in all_ops:
        errors[prefix + "operator"] = _("Unknown operator.")
        return errors
    if kind == "number" and operator in TEXT_OPERATORS:
        errors[prefix + "operator"] = _("Compare numbers with >, ≥, <, ≤ or between.")
    if kind in ("text", "bool") and operator in NUMBER_OPERATORS:
        errors[prefix + "operator"] = _("This field is not a number.")
    if operator in ("equals", "not_equals", "contains", "starts_with", "ends_with"):
        if not isinstance(value, str) or value == "":
            errors[prefix + "value"] = _("Give a text value.")
    elif operator in ("in", "email_domain_in"):
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            errors[prefix + "value"] = _("Give a list of text values.")
    elif operator in ("gt", "gte", "lt", "lte"):
        if not _is_number(value):
            errors[prefix + "value"] = _("Give a number.")
    elif operator == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))):
            errors[prefix + "value"] = _("Give two numbers: [low, high].")
        elif value[0] > value[1]:
            errors[prefix + "value"] = _("The low end must not exceed the high end.")
    return errors


def validate_rule(rule: Any) -> dict[str, str]:
    """Errors by field name for a Rule (model instance or anything with the same attributes)."""
    errors: dict[str, str] = {}
    kind = rule.kind
    if kind in ("fit", "exclusion"):
        errors.update(_validate_condition(rule.field, rule.operator, rule.value))
        if kind == "exclusion" and rule.points:
            errors["points"] = _("Exclusion rules give no points; they block MQL.")
    elif kind in ("behaviour", "fast_track"):
        if rule.activity_kind not in ActivityKind.values:
            errors["activity_kind"] = _("Choose an activity.")
        conditions = rule.property_conditions or []
        if not isinstance(conditions, list):
            errors["property_conditions"] = _("Give a list of conditions.")
        else:
            for i, cond in enumerate(conditions):
                if not isinstance(cond, dict) or set(cond) - {"property", "operator", "value"}:
                    errors["property_conditions"] = _(
                        "Condition %(n)d: use property, operator and value."
                    ) % {"n": i + 1}
                    continue
                prop = cond.get("property", "")
                if not isinstance(prop, str) or not _KEY.match(prop):
                    errors["property_conditions"] = _(
                        "Condition %(n)d: give a property name such as url."
                    ) % {"n": i + 1}
                elif cond.get("operator") not in PROPERTY_OPERATORS:
                    errors["property_conditions"] = _(
                        "Condition %(n)d: use a text operator or is (not) empty."
                    ) % {"n": i + 1}
                else:
                    sub = _validate_condition(
                        "custom.x", cond["operator"], cond.get("value"), prefix="c."
                    )
                    if sub:
                        errors["property_conditions"] = _("Condition %(n)d: %(reason)s") % {
                            "n": i + 1,
                            "reason": next(iter(sub.values())),
                        }
        if kind == "fast_track" and (rule.cap or rule.min_count or rule.points):
            errors["kind"] = _("Fast-track rules qualify on one activity: no points, cap or K.")
    else:
        errors["kind"] = _("Unknown rule kind.")
    if rule.cap is not None and rule.cap <= 0:
        errors["cap"] = _("A cap must be positive.")
    return errors


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compile_ruleset(version: Any, rules: Iterable[Any] | None = None) -> CompiledRuleSet:
    rules = list(version.rules.all() if rules is None else rules)
    rules.sort(key=lambda r: (r.position, r.id or 0))
    by_kind: dict[str, list[CompiledRule]] = {k: [] for k in ("fit", "behaviour", "exclusion")}
    by_kind["fast_track"] = []
    for r in rules:
        cond = None
        if r.kind in ("fit", "exclusion"):
            field = "email" if r.operator in EMAIL_OPERATORS else r.field
            cond = Condition(field, r.operator, _normalise(r.value))
        props = tuple(
            Condition(c["property"], c["operator"], _normalise(c.get("value")))
            for c in (r.property_conditions or [])
        )
        by_kind[r.kind].append(
            CompiledRule(
                id=r.id or 0,
                kind=r.kind,
                name=r.name,
                points=r.points or 0,
                condition=cond,
                activity_kind=r.activity_kind,
                property_conditions=props,
                cap=r.cap,
                window_days=r.window_days,
                min_count=r.min_count,
            )
        )
    return CompiledRuleSet(
        version=version.number,
        threshold=float(version.mql_threshold),
        min_fit=version.min_fit_score,
        half_life_days=version.decay_half_life_days or None,
        fit=tuple(by_kind["fit"]),
        behaviour=tuple(by_kind["behaviour"]),
        exclusion=tuple(by_kind["exclusion"]),
        fast_track=tuple(by_kind["fast_track"]),
    )


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [v.lower() if isinstance(v, str) else v for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Python path


@dataclasses.dataclass
class ScoreResult:
    fit: int
    engagement: float
    total: float
    excluded_reason: str
    fast_tracked: bool
    qualifies: bool
    explanation: list[dict]

    def as_context(self, ruleset: CompiledRuleSet) -> dict:
        return {
            "ruleset_version": ruleset.version,
            "fit": self.fit,
            "engagement": self.engagement,
            "total": self.total,
            "threshold": ruleset.threshold,
            "min_fit": ruleset.min_fit,
            "fast_tracked": self.fast_tracked,
            "explanation": self.explanation,
        }


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def lead_value(lead: Any, field: str) -> Any:
    if field.startswith("company."):
        company = lead.company
        value = getattr(company, field.removeprefix("company."), None) if company else None
        if field.removeprefix("company.") in COMPANY_NUMBER_FIELDS and value is not None:
            return float(value)
        return value
    if field.startswith("custom."):
        return (lead.custom or {}).get(field.removeprefix("custom."))
    return getattr(lead, field, None)


def condition_matches(cond: Condition, value: Any) -> bool:
    op, expected = cond.operator, cond.value
    if op in NUMBER_OPERATORS:
        if not _is_number(value):
            return False
        if op == "gt":
            return value > expected
        if op == "gte":
            return value >= expected
        if op == "lt":
            return value < expected
        if op == "lte":
            return value <= expected
        return expected[0] <= value <= expected[1]
    text = to_text(value)
    if op == "is_empty":
        return text == ""
    if op == "not_empty":
        return text != ""
    if op == "equals":
        return text == expected
    if op == "not_equals":
        return text != expected
    if op == "in":
        return text in expected
    if op == "contains":
        return expected in text
    if op == "starts_with":
        return text.startswith(expected)
    if op == "ends_with":
        return text.endswith(expected)
    domain = text.rpartition("@")[2]
    if op == "email_domain_in":
        return domain in expected
    if op == "free_mail":
        return domain in FREE_MAIL_DOMAINS
    raise ValueError(op)


def _activity_matches(rule: CompiledRule, activity: Any, now: dt.datetime) -> bool:
    if activity.kind != rule.activity_kind:
        return False
    if rule.window_days is not None and activity.occurred_at < now - dt.timedelta(
        days=rule.window_days
    ):
        return False
    props = activity.properties or {}
    return all(condition_matches(c, props.get(c.field)) for c in rule.property_conditions)


def decay_factor(half_life_days: float | None, occurred_at: dt.datetime, now: dt.datetime) -> float:
    if not half_life_days:
        return 1.0
    age_days = max(0.0, (now - occurred_at).total_seconds() / 86400.0)
    return 0.5 ** (age_days / half_life_days)


def evaluate(
    lead: Any, activities: Sequence[Any], ruleset: CompiledRuleSet, now: dt.datetime
) -> ScoreResult:
    """Score one lead. `activities` are all of the lead's activities (any order)."""
    explanation: list[dict] = []
    fit = 0
    for rule in ruleset.fit:
        cond = rule.lead_condition
        if condition_matches(cond, lead_value(lead, cond.field)):
            fit += rule.points
            explanation.append(
                {"rule_id": rule.id, "rule": rule.name, "kind": "fit", "points": rule.points}
            )
    # Each rule looks at one kind: grouping once keeps a lead with thousands of activities
    # from being scanned once per rule. Groups keep the given order (sums depend on it).
    by_kind: dict[str, list[Any]] = {}
    for a in activities:
        by_kind.setdefault(a.kind, []).append(a)
    engagement = 0.0
    for rule in ruleset.behaviour:
        matched = [
            a for a in by_kind.get(rule.activity_kind, ()) if _activity_matches(rule, a, now)
        ]
        if not matched or (rule.min_count and len(matched) < rule.min_count):
            continue
        points = sum(
            rule.points * decay_factor(ruleset.half_life_days, a.occurred_at, now) for a in matched
        )
        if rule.cap is not None:
            points = min(points, rule.cap) if rule.points >= 0 else max(points, -rule.cap)
        engagement += points
        matched.sort(key=lambda a: a.occurred_at, reverse=True)
        explanation.append(
            {
                "rule_id": rule.id,
                "rule": rule.name,
                "kind": "behaviour",
                "points": round(points, 4),
                "count": len(matched),
                "activity_ids": [a.id for a in matched[:20]],
            }
        )
    engagement = round(engagement, 4)
    excluded_reason = ""
    for rule in ruleset.exclusion:
        cond = rule.lead_condition
        if condition_matches(cond, lead_value(lead, cond.field)):
            excluded_reason = rule.name
            explanation.append(
                {"rule_id": rule.id, "rule": rule.name, "kind": "exclusion", "points": 0}
            )
            break
    fast_tracked = False
    since = lead.stage_changed_at if lead.stage == Stage.RECYCLED else None
    for rule in ruleset.fast_track:
        hits = [
            a
            for a in by_kind.get(rule.activity_kind, ())
            if _activity_matches(rule, a, now) and (since is None or a.occurred_at > since)
        ]
        if hits:
            fast_tracked = True
            explanation.append(
                {
                    "rule_id": rule.id,
                    "rule": rule.name,
                    "kind": "fast_track",
                    "points": 0,
                    "count": len(hits),
                    "activity_ids": [a.id for a in hits[:20]],
                }
            )
            break
    total = fit + engagement
    return ScoreResult(
        fit=fit,
        engagement=engagement,
        total=total,
        excluded_reason=excluded_reason,
        fast_tracked=fast_tracked,
        qualifies=qualifies(
            ruleset,
            stage=lead.stage,
            fit=fit,
            total=total,
            excluded_reason=excluded_reason,
            fast_tracked=fast_tracked,
            deleted=lead.deleted_at is not None,
            new_activity=since is None or any(a.occurred_at > since for a in activities),
        ),
        explanation=explanation,
    )


def qualifies(
    ruleset: CompiledRuleSet,
    *,
    stage: str,
    fit: int,
    total: float,
    excluded_reason: str,
    fast_tracked: bool,
    deleted: bool = False,
    new_activity: bool = True,
) -> bool:
    """Whether a lead in this state should become an MQL now."""
    if stage not in ACTIVE_STAGES or deleted or excluded_reason:
        return False
    if stage == Stage.RECYCLED and not new_activity:
        return False
    if fast_tracked:
        return True
    if ruleset.min_fit is not None and fit < ruleset.min_fit:
        return False
    return total >= ruleset.threshold


# --------------------------------------------------------------------------------------------
# SQL path


class _Dialect:
    def __init__(self, connection: Any):
        self.connection = connection
        self.pg = connection.vendor == "postgresql"

    def dt(self, value: dt.datetime) -> Any:
        return self.connection.ops.adapt_datetimefield_value(value)

    def json_text(self, column: str, key: str) -> tuple[str, list]:
        """The JSON value under `key` as lower-case text ('' when missing or null)."""
        if self.pg:
            return f"lower(coalesce({column} ->> %s, ''))", [key]
        path = '$."' + key.replace('"', '""') + '"'
        return (
            f"(CASE json_type({column}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"WHEN 'null' THEN '' ELSE lower(coalesce(CAST(json_extract({column}, %s) AS TEXT),"
            f" '')) END)",
            [path, path],
        )

    def json_number(self, column: str, key: str) -> tuple[str, list]:
        if self.pg:
            return (
                f"(CASE WHEN jsonb_typeof({column} -> %s) = 'number' "
                f"THEN ({column} ->> %s)::float8 END)",
                [key, key],
            )
        path = '$."' + key.replace('"', '""') + '"'
        return (
            f"(CASE WHEN json_type({column}, %s) IN ('integer', 'real') "
            f"THEN CAST(json_extract({column}, %s) AS REAL) END)",
            [path, path],
        )

    def contains(self, text: str) -> str:
        return f"strpos({text}, %s) > 0" if self.pg else f"instr({text}, %s) > 0"

    def ends_with(self, text: str) -> str:
        return f"right({text}, %s) = %s" if self.pg else f"substr({text}, -%s) = %s"

    def least(self, a: str, b: str) -> str:
        return f"least({a}, {b})" if self.pg else f"min({a}, {b})"

    def greatest(self, a: str, b: str) -> str:
        return f"greatest({a}, {b})" if self.pg else f"max({a}, {b})"

    def age_days(self, now_param: str, column: str) -> str:
        if self.pg:
            return f"(extract(epoch from ({now_param}::timestamptz - {column}))::float8 / 86400.0)"
        return f"(julianday({now_param}) - julianday({column}))"

    def round4(self, expr: str) -> str:
        return f"round(({expr})::numeric, 4)::float8" if self.pg else f"round({expr}, 4)"

    def fence(self) -> str:
        """Ends a subquery so that the planner keeps it as is (no flattening)."""
        return " OFFSET 0" if self.pg else " LIMIT -1 OFFSET 0"

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}" if self.pg else f"{a} IS NOT {b}"


def _lead_text_sql(d: _Dialect, field: str) -> tuple[str, list]:
    if field.startswith("custom."):
        return d.json_text("l.custom", field.removeprefix("custom."))
    if field.startswith("company."):
        name = field.removeprefix("company.")
        if name in COMPANY_BOOL_FIELDS:
            return (
                f"(CASE WHEN c.{name} IS NULL THEN '' WHEN c.{name} THEN 'true' ELSE 'false' END)",
                [],
            )
        if name in COMPANY_NUMBER_FIELDS:
            # Only is_empty / not_empty read a number as text.
            return f"coalesce(CAST(c.{name} AS TEXT), '')", []
        return f"lower(coalesce(c.{name}, ''))", []
    return f"lower(coalesce(l.{field}, ''))", []


def _lead_number_sql(d: _Dialect, field: str) -> tuple[str, list]:
    if field.startswith("custom."):
        return d.json_number("l.custom", field.removeprefix("custom."))
    name = field.removeprefix("company.")
    return (f"CAST(c.{name} AS {'float8' if d.pg else 'REAL'})", [])


def _condition_sql(
    d: _Dialect,
    cond: Condition,
    text_sql: tuple[str, list] | None,
    number_sql: tuple[str, list] | None = None,
) -> tuple[str, list]:
    """SQL and its parameters for one condition on the value `text_sql` or, for a number
    operator, `number_sql` computes."""
    op, v = cond.operator, cond.value
    if op in NUMBER_OPERATORS:
        if number_sql is None:
            raise ValueError(f"{op} compares numbers: give the number SQL.")
        num, params = number_sql
        if op == "between":
            return f"({num} BETWEEN %s AND %s)", [*params, float(v[0]), float(v[1])]
        sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return f"({num} {sym} %s)", [*params, float(v)]
    if text_sql is None:
        raise ValueError(f"{op} compares text: give the text SQL.")
    text, params = text_sql
    if op == "is_empty":
        return f"({text} = '')", params
    if op == "not_empty":
        return f"({text} <> '')", params
    if op == "equals":
        return f"({text} = %s)", [*params, v]
    if op == "not_equals":
        return f"({text} <> %s)", [*params, v]
    if op == "in":
        return f"({text} IN ({', '.join(['%s'] * len(v))}))", [*params, *v]
    if op == "contains":
        return f"({d.contains(text)})", [*params, v]
    if op == "starts_with":
        return f"(substr({text}, 1, %s) = %s)", [*params, len(v), v]
    if op == "ends_with":
        return f"({d.ends_with(text)})", [*params, len(v), v]
    # E-mail operators: the part after the last "@".
    domain = (
        f"substr({text}, strpos({text}, '@') + 1)"
        if d.pg
        else f"substr({text}, instr({text}, '@') + 1)"
    )
    domains = list(v) if op == "email_domain_in" else sorted(FREE_MAIL_DOMAINS)
    return f"({domain} IN ({', '.join(['%s'] * len(domains))}))", [
        *params,
        *params,
        *domains,
    ]


def _lead_condition_sql(d: _Dialect, cond: Condition) -> tuple[str, list]:
    number = _lead_number_sql(d, cond.field) if cond.operator in NUMBER_OPERATORS else None
    text = _lead_text_sql(d, cond.field) if cond.operator not in NUMBER_OPERATORS else None
    return _condition_sql(d, cond, text, number)


def _activity_match_sql(
    d: _Dialect, rule: CompiledRule, now: dt.datetime, props: dict[str, str]
) -> tuple[str, list]:
    """`props` maps a property name to a column already holding its text (_activity_sql)."""
    parts, params = ["a.kind = %s"], [rule.activity_kind]
    if rule.window_days is not None:
        parts.append("a.occurred_at >= %s")
        params.append(d.dt(now - dt.timedelta(days=rule.window_days)))
    for cond in rule.property_conditions:
        sql, p = _condition_sql(d, cond, (props[cond.field], []))
        parts.append(sql)
        params.extend(p)
    return " AND ".join(parts), params


def _activity_sql(
    d: _Dialect, ruleset: CompiledRuleSet, now: dt.datetime, where: str, where_params: list
) -> tuple[str, list]:
    """Per lead: n{i}/s{i} (count and decayed weight of behaviour rule i's matches) and
    f{i} (latest match of fast-track rule i).

    Each property is read from the JSON once per activity, and each rule's match and the
    decay are computed once per activity, in subqueries the planner may not flatten (the
    fences): flattened, every reference would re-evaluate its expression. Activities of
    kinds no rule looks at are skipped; they would add nothing.
    """
    rules = [*ruleset.behaviour, *ruleset.fast_track]
    kinds = sorted({r.activity_kind for r in rules})
    prop_names = sorted({c.field for r in rules for c in r.property_conditions})
    props = {name: f"a.p{j}" for j, name in enumerate(prop_names)}
    prop_cols, prop_params = [], []
    for j, name in enumerate(prop_names):
        text, p = d.json_text("a.properties", name)
        users = sorted(
            {r.activity_kind for r in rules if any(c.field == name for c in r.property_conditions)}
        )
        prop_cols.append(
            f"CASE WHEN a.kind IN ({', '.join(['%s'] * len(users))}) THEN {text} ELSE '' END"
            f" AS p{j}"
        )
        prop_params += [*users, *p]
    kind_filter = f"a.kind IN ({', '.join(['%s'] * len(kinds))})" if kinds else "1 = 0"

    match_cols, match_params = [], []
    decay, decay_params = "1.0", []
    if ruleset.half_life_days:
        decay = f"power(0.5, {d.greatest('0.0', d.age_days('%s', 'a.occurred_at'))} / %s)"
        decay_params = [d.dt(now), float(ruleset.half_life_days)]
    agg_cols = []
    for i, rule in enumerate(ruleset.behaviour):
        match, p = _activity_match_sql(d, rule, now, props)
        match_cols.append(f"CASE WHEN {match} THEN 1 ELSE 0 END AS m{i}")
        match_params += p
        agg_cols.append(f"SUM(m.m{i}) AS n{i}")
        agg_cols.append(f"SUM(CASE WHEN m.m{i} = 1 THEN m.w ELSE 0 END) AS s{i}")
    for i, rule in enumerate(ruleset.fast_track):
        match, p = _activity_match_sql(d, rule, now, props)
        match_cols.append(f"CASE WHEN {match} THEN 1 ELSE 0 END AS t{i}")
        match_params += p
        agg_cols.append(f"MAX(CASE WHEN m.t{i} = 1 THEN m.occurred_at END) AS f{i}")
    fence = d.fence()
    sql = f"""
    SELECT m.lead_id, {", ".join(agg_cols) or "COUNT(*) AS n"}
    FROM (
        SELECT a.lead_id, a.occurred_at, {decay} AS w{"".join(", " + c for c in match_cols)}
        FROM (
            SELECT a.lead_id, a.kind, a.occurred_at{"".join(", " + c for c in prop_cols)}
            FROM leads_activity a
            WHERE {where} AND {kind_filter}{fence}
        ) a{fence}
    ) m
    GROUP BY m.lead_id"""
    return sql, [*decay_params, *match_params, *prop_params, *where_params, *kinds]


def scored_cte(
    ruleset: CompiledRuleSet,
    connection: Any,
    lo: int,
    hi: int,
    now: dt.datetime,
    *,
    until: dt.datetime | None = None,
) -> tuple[str, list]:
    """`WITH act AS (...), scored AS (id, fit, eng, excl, ft)` for leads lo..hi.

    With `until`, only activities up to that moment count and only leads created by then
    appear (the backtest's view of the past); `now` is the decay clock.
    """
    d = _Dialect(connection)
    fit_terms, fit_params = [], []
    for rule in ruleset.fit:
        sql, p = _lead_condition_sql(d, rule.lead_condition)
        fit_terms.append(f"CASE WHEN {sql} THEN %s ELSE 0 END")
        fit_params += [*p, rule.points]
    fit_sql = " + ".join(fit_terms) or "0"

    eng_terms, eng_params = [], []
    for i, rule in enumerate(ruleset.behaviour):
        term = f"(coalesce(act.s{i}, 0) * %s)"
        params = [float(rule.points)]
        if rule.cap is not None:
            if rule.points >= 0:
                term = d.least(term, "%s")
                params.append(float(rule.cap))
            else:
                term = d.greatest(term, "%s")
                params.append(-float(rule.cap))
        if rule.min_count:
            term = f"(CASE WHEN coalesce(act.n{i}, 0) >= %s THEN {term} ELSE 0 END)"
            params = [rule.min_count, *params]
        eng_terms.append(term)
        eng_params += params
    eng_sql = d.round4(" + ".join(eng_terms) or "0.0")

    excl_sql, excl_params = "''", []
    if ruleset.exclusion:
        whens = []
        for rule in ruleset.exclusion:
            sql, p = _lead_condition_sql(d, rule.lead_condition)
            whens.append(f"WHEN {sql} THEN %s")
            excl_params += [*p, rule.name]
        excl_sql = f"(CASE {' '.join(whens)} ELSE '' END)"

    ft_sql = "false" if d.pg else "0"
    if ruleset.fast_track:
        hits = " OR ".join(
            f"(act.f{i} IS NOT NULL AND (l.stage <> 'recycled' OR l.stage_changed_at IS NULL "
            f"OR act.f{i} > l.stage_changed_at))"
            for i in range(len(ruleset.fast_track))
        )
        ft_sql = f"(CASE WHEN {hits} THEN {'true' if d.pg else '1'} ELSE {ft_sql} END)"

    act_until, lead_until, until_params = "", "", []
    if until is not None:
        act_until, lead_until = " AND a.occurred_at <= %s", " AND l.created_at <= %s"
        until_params = [d.dt(until)]
    act_sql, act_params = _activity_sql(
        d, ruleset, now, f"a.lead_id BETWEEN %s AND %s{act_until}", [lo, hi, *until_params]
    )
    # The fence in `scored` computes each lead's scores once, not once per reference.
    sql = f"""
WITH act AS ({act_sql}
),
scored AS (
    SELECT l.id AS id, ({fit_sql}) AS fit, {eng_sql} AS eng, {excl_sql} AS excl, {ft_sql} AS ft
    FROM leads_lead l
    LEFT JOIN leads_company c ON c.id = l.company_id
    LEFT JOIN act ON act.lead_id = l.id
    WHERE l.id BETWEEN %s AND %s{lead_until}{d.fence()}
)
"""
    params = [
        *act_params,
        *fit_params,
        *eng_params,
        *excl_params,
        lo,
        hi,
        *until_params,
    ]
    return sql, params


def chunk_sql(
    ruleset: CompiledRuleSet, connection: Any, lo: int, hi: int, now: dt.datetime
) -> tuple[str, list]:
    """One UPDATE that scores leads lo..hi and writes only the rows whose scores changed.

    The target carries the id range itself: the planner does not carry a range across the
    join, and without it each chunk would read every lead."""
    d = _Dialect(connection)
    cte, cte_params = scored_cte(ruleset, connection, lo, hi, now)
    lead_table = "leads_lead"
    sql = f"""{cte}
UPDATE {lead_table} SET
    fit_score = scored.fit,
    engagement_score = scored.eng,
    total_score = scored.fit + scored.eng,
    excluded_reason = scored.excl,
    fast_tracked = scored.ft,
    scored_at = %s
FROM scored
WHERE {lead_table}.id = scored.id AND {lead_table}.id BETWEEN %s AND %s AND (
    {d.distinct(f"{lead_table}.fit_score", "scored.fit")}
    OR {d.distinct(f"{lead_table}.engagement_score", "scored.eng")}
    OR {d.distinct(f"{lead_table}.total_score", "scored.fit + scored.eng")}
    OR {d.distinct(f"{lead_table}.excluded_reason", "scored.excl")}
    OR {d.distinct(f"{lead_table}.fast_tracked", "scored.ft")}
)
"""
    return sql, [*cte_params, d.dt(now), lo, hi]


def qualifying_sql(ruleset: CompiledRuleSet, lo: int, hi: int) -> tuple[str, list]:
    """Ids in lo..hi that should become MQL, from the scores the chunk UPDATE just wrote."""
    score_test = "l.total_score >= %s"
    params: list = [Stage.LEAD, Stage.RECYCLED, lo, hi, ruleset.threshold]
    if ruleset.min_fit is not None:
        score_test += " AND l.fit_score >= %s"
        params.append(ruleset.min_fit)
    sql = f"""
SELECT l.id FROM leads_lead l
WHERE l.stage IN (%s, %s) AND l.id BETWEEN %s AND %s
  AND l.deleted_at IS NULL AND l.excluded_reason = ''
  AND (l.fast_tracked OR ({score_test}))
  AND (l.stage = 'lead' OR l.stage_changed_at IS NULL OR EXISTS (
      SELECT 1 FROM leads_activity a WHERE a.lead_id = l.id AND a.occurred_at > l.stage_changed_at
  ))
ORDER BY l.id
"""
    return sql, params


def rule_hits_cte(
    ruleset: CompiledRuleSet, connection: Any, *, cohort_sql: str, cohort_params: list
) -> tuple[str, list, list[CompiledRule]]:
    """`WITH q AS (cohort), acts AS (...), hits AS (q.*, h0..hn)`: whether each rule fired for
    each lead of a cohort at the cohort's moment.

    The cohort has a column `lead_id` and a column `at`; only activities up to `at` count, a
    window reaches back from `at`. Fit and exclusion rules read the lead's current attributes
    (attribute history is not kept). A behaviour rule fires when it counts at least one
    (or K) matching activities, a fast-track rule on one. Returns the SQL, its parameters and
    the rules in the order of the columns h0..hn.
    """
    d = _Dialect(connection)
    rules = [*ruleset.fit, *ruleset.behaviour, *ruleset.exclusion, *ruleset.fast_track]
    activity_rules = [r for r in rules if r.kind in ("behaviour", "fast_track")]
    kinds = sorted({r.activity_kind for r in activity_rules})
    prop_names = sorted({c.field for r in activity_rules for c in r.property_conditions})
    props = {name: f"a.p{j}" for j, name in enumerate(prop_names)}
    prop_cols, prop_params = [], []
    for j, name in enumerate(prop_names):
        text, p = d.json_text("a.properties", name)
        prop_cols.append(f"{text} AS p{j}")
        prop_params += p
    match_cols, match_params, agg_cols = [], [], []
    for i, rule in enumerate(activity_rules):
        match, p = _activity_match_sql(
            d, dataclasses.replace(rule, window_days=None), _EPOCH, props
        )
        if rule.window_days is not None:
            if d.pg:
                match += " AND a.occurred_at >= a.q_at - (%s * interval '1 day')"
            else:
                match += " AND julianday(a.occurred_at) >= julianday(a.q_at) - %s"
            p = [*p, rule.window_days]
        match_cols.append(f"CASE WHEN {match} THEN 1 ELSE 0 END AS m{i}")
        match_params += p
        agg_cols.append(f"SUM(m.m{i}) AS n{i}")
    kind_filter = f"a.kind IN ({', '.join(['%s'] * len(kinds))})" if kinds else "1 = 0"
    fence = d.fence()
    acts_sql = f"""
    SELECT m.lead_id, {", ".join(agg_cols) or "COUNT(*) AS n"}
    FROM (
        SELECT a.lead_id{"".join(", " + c for c in match_cols)}
        FROM (
            SELECT a.lead_id, a.kind, a.occurred_at, q.at AS q_at
                {"".join(", " + c for c in prop_cols)}
            FROM q JOIN leads_activity a ON a.lead_id = q.lead_id
            WHERE a.occurred_at <= q.at AND {kind_filter}{fence}
        ) a{fence}
    ) m
    GROUP BY m.lead_id"""
    acts_params = [*match_params, *prop_params, *kinds]

    hit_cols, hit_params = [], []
    act_index = {id(r): i for i, r in enumerate(activity_rules)}
    for h, rule in enumerate(rules):
        if rule.kind in ("fit", "exclusion"):
            sql, p = _lead_condition_sql(d, rule.lead_condition)
            hit_cols.append(f"CASE WHEN {sql} THEN 1 ELSE 0 END AS h{h}")
            hit_params += p
        else:
            i = act_index[id(rule)]
            hit_cols.append(f"CASE WHEN coalesce(acts.n{i}, 0) >= %s THEN 1 ELSE 0 END AS h{h}")
            hit_params.append(max(1, rule.min_count or 0) if rule.kind == "behaviour" else 1)
    sql = f"""
WITH q AS ({cohort_sql}
),
acts AS ({acts_sql}
),
hits AS (
    SELECT q.*{"".join(", " + c for c in hit_cols)}
    FROM q
    JOIN leads_lead l ON l.id = q.lead_id
    LEFT JOIN leads_company c ON c.id = l.company_id
    LEFT JOIN acts ON acts.lead_id = q.lead_id{fence}
)
"""
    return sql, [*cohort_params, *acts_params, *hit_params], rules


# Windows in rule_hits_cte reach back from each lead's own moment, not from a clock.
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def match_counts_sql(
    ruleset: CompiledRuleSet, connection: Any, now: dt.datetime
) -> tuple[tuple[str, list, list[CompiledRule]], tuple[str, list, list[CompiledRule]] | None]:
    """How many leads each rule matches now, in two statements the database answers in one
    pass each: over the leads (fit and exclusion: `h{i}`) and over the activities (behaviour
    and fast-track: `a{i}` activities in the rule's window, `n{i}` leads with at least K of
    them, or one for fast-track). Deleted leads do not count."""
    d = _Dialect(connection)
    lead_rules = [*ruleset.fit, *ruleset.exclusion]
    cols, params = [], []
    for i, rule in enumerate(lead_rules):
        sql, p = _lead_condition_sql(d, rule.lead_condition)
        cols.append(f"SUM(CASE WHEN {sql} THEN 1 ELSE 0 END) AS h{i}")
        params += p
    lead_sql = (
        f"SELECT COUNT(*) AS total{''.join(', ' + c for c in cols)} FROM leads_lead l "
        "LEFT JOIN leads_company c ON c.id = l.company_id WHERE l.deleted_at IS NULL"
    )
    activity_rules = [*ruleset.behaviour, *ruleset.fast_track]
    if not activity_rules:
        return (lead_sql, params, lead_rules), None
    kinds = sorted({r.activity_kind for r in activity_rules})
    prop_names = sorted({c.field for r in activity_rules for c in r.property_conditions})
    props = {name: f"a.p{j}" for j, name in enumerate(prop_names)}
    prop_cols, prop_params = [], []
    for j, name in enumerate(prop_names):
        text, p = d.json_text("a.properties", name)
        prop_cols.append(f"{text} AS p{j}")
        prop_params += p
    # Only activities some rule can count: its kinds, and inside the widest window (if every
    # rule has one).
    where, where_params = [f"a.kind IN ({', '.join(['%s'] * len(kinds))})"], list(kinds)
    windows = [r.window_days for r in activity_rules]
    if all(w is not None for w in windows):
        where.append("a.occurred_at >= %s")
        where_params.append(d.dt(now - dt.timedelta(days=max(w or 0 for w in windows))))
    match_cols, match_params, per_lead, totals = [], [], [], []
    for i, rule in enumerate(activity_rules):
        match, p = _activity_match_sql(d, rule, now, props)
        match_cols.append(f"CASE WHEN {match} THEN 1 ELSE 0 END AS m{i}")
        match_params += p
        per_lead.append(f"SUM(m.m{i}) AS c{i}")
        need = 1 if rule.kind == "fast_track" else max(1, rule.min_count or 1)
        totals.append(f"SUM(g.c{i}) AS a{i}")
        totals.append(f"SUM(CASE WHEN g.c{i} >= {int(need)} THEN 1 ELSE 0 END) AS n{i}")
    fence = d.fence()
    activity_sql = f"""
    SELECT {", ".join(totals)}
    FROM (
        SELECT m.lead_id, {", ".join(per_lead)}
        FROM (
            SELECT a.lead_id{"".join(", " + c for c in match_cols)}
            FROM (
                SELECT a.lead_id, a.kind, a.occurred_at{"".join(", " + c for c in prop_cols)}
                FROM leads_activity a
                WHERE {" AND ".join(where)} AND NOT EXISTS (
                    SELECT 1 FROM leads_lead l WHERE l.id = a.lead_id AND l.deleted_at IS NOT NULL
                ){fence}
            ) a{fence}
        ) m
        GROUP BY m.lead_id
    ) g"""
    return (lead_sql, params, lead_rules), (
        activity_sql,
        [*match_params, *prop_params, *where_params],
        activity_rules,
    )
