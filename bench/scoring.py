"""Rescoring at scale: seed a synthetic database, rescore it, and print the figures.

`manage.py bench` (the command) calls `bench_run`; tests call it at tiny N. Everything here
assumes the database holds nothing but what the bench creates (`bench_guard` checks), so
`make bench` points DATABASE_URL at a database of its own (`common.bench_database_prepare`).

Seeding is set-based: on PostgreSQL one INSERT ... SELECT generate_series per table, with
pseudo-random values from hashint8extended(ordinal, seed) so a seed gives the same data
whatever the plan; activities go in ordered by time, as real events arrive. SQLite (small N
only) gets the same distributions from Python's random, inserted with executemany.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
import resource
import statistics
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TextIO
from unittest import mock

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from leads.models import Activity, Company, Lead
from scoring import engine, services
from scoring.models import RescoreRun, Rule, RuleSetVersion
from scoring.tasks import rescore_leads_task

from .common import (
    INDUSTRIES,
    BenchError,
    PgGen,
    cumulative,
    elapsed_ms,
    say,
    sql_quote,
    tables_analyze,
    timings_ms,
)

# Targets from the sizing brief: 1M leads / 10M activities rescored in a minute.
TARGET_LEADS_PER_SECOND = 1_000_000 / 60
TARGET_SINGLE_P95_MS = 50.0
# What a rescore holds is bounded by one chunk, never by N.
TARGET_MEMORY_MB = 64.0

BENCH_SOURCE = "bench"
BENCH_RULESET_NAME = "Bench scoring model"
HALF_LIFE_DAYS = 30.0
HISTORY_DAYS = 365

# Distributions shared by both seeding paths: (value, weight).
TITLES = [
    ("CTO", 3),
    ("Head of IT", 5),
    ("Head of Marketing", 6),
    ("Marketing Manager", 12),
    ("Software Engineer", 15),
    ("VP Sales", 3),
    ("Director of Operations", 4),
    ("Data Analyst", 10),
    ("Founder", 2),
    ("Recruiter", 3),
    ("Student", 4),
    ("Consultant", 8),
    ("", 25),
]
SENIORITIES = [
    ("", 30),
    ("individual", 35),
    ("manager", 17),
    ("director", 8),
    ("vp", 4),
    ("c_level", 3),
    ("owner", 3),
]
DEPARTMENTS = [
    ("", 25),
    ("IT", 15),
    ("Marketing", 15),
    ("Engineering", 15),
    ("Sales", 10),
    ("Operations", 8),
    ("Finance", 7),
    ("HR", 5),
]
COUNTRIES = [
    ("JP", 30),
    ("US", 25),
    ("DE", 10),
    ("GB", 8),
    ("FR", 6),
    ("IN", 8),
    ("BR", 5),
    ("", 8),
]
SOURCES = [
    ("webinar", 15),
    ("organic", 30),
    ("paid_search", 20),
    ("referral", 10),
    ("event", 10),
    ("import", 10),
    ("api", 5),
]
UTM_SOURCES = [("google", 30), ("linkedin", 15), ("newsletter", 15), ("", 40)]
UTM_MEDIUMS = [("cpc", 25), ("email", 20), ("social", 15), ("", 40)]
UTM_CAMPAIGNS = [("spring-launch", 20), ("webinar-series", 20), ("retargeting", 10), ("", 50)]
SEGMENTS = [("smb", 40), ("mid-market", 25), ("enterprise", 10), ("", 25)]
FREE_MAIL = [("gmail.com", 50), ("yahoo.co.jp", 20), ("outlook.com", 20), ("icloud.com", 10)]
STAGES = [
    ("lead", 74),
    ("mql", 5),
    ("sal", 4),
    ("sql", 4),
    ("rejected", 4),
    ("recycled", 6),
    ("disqualified", 3),
]
# Demo requests are rare: each one fast-tracks a lead, and each new MQL runs the Python path.
ACTIVITY_KINDS = [
    ("page_view", 5500),
    ("email_open", 1500),
    ("email_click", 700),
    ("content_download", 600),
    ("newsletter_signup", 150),
    ("webinar_registration", 300),
    ("webinar_attendance", 200),
    ("form_submit", 250),
    ("inquiry", 60),
    ("free_trial", 60),
    ("demo_request", 10),
    ("contact_sales", 10),
    ("other", 660),
]
PATHS = [
    ("/pricing", 8),
    ("/pricing/enterprise", 2),
    ("/careers", 4),
    ("/careers/engineering", 1),
    ("/case-studies/acme", 6),
    ("/blog/scoring-models", 25),
    ("/blog/lead-handoff", 15),
    ("/docs/api", 20),
    ("/", 19),
]
ASSETS = [("whitepaper-roi", 40), ("ebook-sla", 35), ("checklist-mql", 25)]
SITE = "https://www.example.com"


# --------------------------------------------------------------------------------------------
# Results


@dataclasses.dataclass
class RescoreFigures:
    label: str
    seconds: float
    leads: int
    changed: int
    new_mqls: int
    bulk_sql_seconds: float
    rss_before_mb: float
    rss_after_mb: float
    py_peak_mb: float | None = None
    # The leads that crossed, made MQLs afterwards by the single-lead path as workers do.
    handoff_seconds: float = 0.0
    mqls_made: int = 0

    @property
    def leads_per_second(self) -> float:
        return self.leads / self.seconds if self.seconds else 0.0

    @property
    def ms_per_mql(self) -> float:
        return self.handoff_seconds / self.mqls_made * 1000 if self.mqls_made else 0.0


@dataclasses.dataclass
class BenchResult:
    vendor: str
    leads: int
    companies: int
    activities: int
    max_activities: int
    rules: int
    seed_seconds: float
    rescores: list[RescoreFigures]
    single_ms: list[float]
    heaviest_ms: float
    heaviest_activities: int
    explain: str = ""

    @property
    def single_median_ms(self) -> float:
        return statistics.median(self.single_ms) if self.single_ms else 0.0

    @property
    def single_p95_ms(self) -> float:
        return _percentile(self.single_ms, 95)


def _percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]


# --------------------------------------------------------------------------------------------
# What the bench writes and empties


def _bench_models() -> list[type[models.Model]]:
    """Lead, Company, RuleSetVersion and every table that references them (a foreign key
    with a database constraint), children first: what the bench writes and later empties."""
    found: list[type[models.Model]] = [Company, Lead, RuleSetVersion]
    grew = True
    while grew:
        grew = False
        for model in apps.get_models(include_auto_created=True):
            if model in found:
                continue
            if any(
                isinstance(f, models.ForeignKey)  # one-to-one fields included
                and f.db_constraint  # type: ignore[attr-defined]  # missing from django-stubs
                and f.related_model in found
                for f in model._meta.concrete_fields
            ):
                found.append(model)
                grew = True
    return found[::-1]


def bench_guard() -> None:
    """The bench empties what it wrote by truncating; so it runs only where all of those
    tables start empty."""
    present = [m._meta.db_table for m in _bench_models() if m._base_manager.exists()]
    if present:
        raise BenchError(
            f"This database already holds data in {', '.join(present)}; the bench needs an "
            "empty one. Run `make bench`, which uses a database of its own."
        )


def bench_cleanup() -> None:
    """Remove everything the bench created (bench_guard found these tables empty)."""
    tables = [m._meta.db_table for m in _bench_models()]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred foreign-key checks still pending (inside a test's transaction) would
            # make TRUNCATE refuse; run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
        bench_versions = RuleSetVersion.history.filter(name=BENCH_RULESET_NAME)
        Rule.history.filter(version_id__in=bench_versions.values("id")).delete()
        bench_versions.delete()


# --------------------------------------------------------------------------------------------
# Activity counts: most leads have 0-5, a Pareto tail has hundreds


@dataclasses.dataclass(frozen=True)
class CountShape:
    body_share: float
    body_max: int
    tail_xm: float
    tail_alpha: float
    tail_cap: int


def count_shape(mean: float) -> CountShape:
    """80% of leads have 0..5 activities, 20% follow a capped Pareto tuned to hit `mean`."""
    if mean <= 4:
        return CountShape(1.0, max(0, round(2 * mean)), 1.0, 2.0, 0)
    body_share, body_max, alpha, cap = 0.8, 5, 1.5, 2000
    want_tail = (mean - body_share * body_max / 2) / (1 - body_share)

    def tail_mean(xm: float) -> float:
        # E[min(X, cap)] for Pareto(xm, alpha), less ~0.5 for the floor.
        if xm >= cap:
            return cap
        full = xm * alpha / (alpha - 1)
        return full - xm**alpha * cap ** (1 - alpha) / (alpha - 1) - 0.5

    lo, hi = 0.5, float(cap)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail_mean(mid) < want_tail else (lo, mid)
    return CountShape(body_share, body_max, lo, alpha, cap)


def _count_py(shape: CountShape, u1: float, u2: float) -> int:
    if u1 < shape.body_share:
        return int(u2 * (shape.body_max + 1))
    return min(shape.tail_cap, int(shape.tail_xm * (1 - u2) ** (-1 / shape.tail_alpha)))


# --------------------------------------------------------------------------------------------
# Seeding


@dataclasses.dataclass
class SeedStats:
    seconds: float
    companies: int
    leads: int
    activities: int
    max_activities: int


def bench_seed(
    *, leads: int, activities_per_lead: float, seed: int, now: dt.datetime, out: TextIO
) -> SeedStats:
    started = time.perf_counter()
    companies = max(1, leads // 10)
    shape = count_shape(activities_per_lead)
    if connection.vendor == "postgresql":
        _seed_postgresql(leads=leads, companies=companies, shape=shape, seed=seed, now=now, out=out)
    else:
        _seed_python(leads=leads, companies=companies, shape=shape, seed=seed, now=now, out=out)
    stats = Activity.objects.values("lead_id").annotate(n=Count("id")).aggregate(m=Max("n"))
    return SeedStats(
        seconds=time.perf_counter() - started,
        companies=Company.objects.count(),
        leads=Lead.objects.count(),
        activities=Activity.objects.count(),
        max_activities=stats["m"] or 0,
    )


def _pick_py(rng: random.Random, table: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([v for v, _w in table], cum_weights=cumulative(table))[0]


@contextmanager
def _indexes_dropped(cursor: Any, table: str) -> Iterator[None]:
    """Bulk loads go faster without secondary indexes and FK checks; both come back after,
    rebuilt from their own definitions, so the schema is exactly what migrations made."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [table],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    foreign_keys = cursor.fetchall()
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    for name, _definition in foreign_keys:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    for _name, definition in indexes:
        cursor.execute(definition)
    for name, definition in foreign_keys:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def _seed_postgresql(
    *, leads: int, companies: int, shape: CountShape, seed: int, now: dt.datetime, out: TextIO
) -> None:
    g = PgGen(seed)
    with transaction.atomic(), connection.cursor() as cursor:
        # Sorting 10M activities into time order and rebuilding indexes need memory.
        cursor.execute("SET LOCAL work_mem = '1GB'")
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        step = time.perf_counter()
        cursor.execute(
            f"""
INSERT INTO leads_company (name, domain, industry, employees, annual_revenue, listed, country,
                           created_at)
SELECT 'Bench company ' || k, 'company' || k || '.example', {g.pick(INDUSTRIES, "k", 1)},
       emp, round((emp * (40000 + {g.u("k", 3)} * 160000))::numeric, 2),
       CASE WHEN {g.u("k", 4)} < 0.1 THEN true WHEN {g.u("k", 4)} < 0.7 THEN false END,
       {g.pick(COUNTRIES, "k", 5)}, %s
FROM (SELECT k, CASE WHEN {g.u("k", 6)} < 0.1 THEN NULL
                     ELSE floor(exp({g.u("k", 2)} * ln(50000)))::int END AS emp
      FROM generate_series(1, %s) k OFFSET 0) s
ORDER BY k
""",
            [now, companies],
        )
        cursor.execute("SELECT min(id) - 1 FROM leads_company")
        company_base = cursor.fetchone()[0]
        say(out, f"  companies: {companies:,} in {time.perf_counter() - step:.1f} s\n")

        step = time.perf_counter()
        with _indexes_dropped(cursor, "leads_lead"):
            k = f"(1 + floor({companies} * power({g.u('o', 22)}, 2))::int8)"
            domain = (
                f"CASE WHEN {g.u('o', 20)} < 0.18 THEN {g.pick(FREE_MAIL, 'o', 21)} "
                f"WHEN {g.u('o', 24)} < 0.004 THEN 'rival.example' "
                f"WHEN has_company THEN 'company' || {k} || '.example' "
                f"ELSE 'independent.example' END"
            )
            cursor.execute(
                f"""
INSERT INTO leads_lead (email, first_name, last_name, title, seniority, department, phone, country,
    source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, company_id, custom,
    owner_id, stage, stage_changed_at, fit_score, engagement_score, total_score, scored_at,
    excluded_reason, fast_tracked, created_at, updated_at, deleted_at)
SELECT 'bench' || o || '@' || {domain}, 'Bench', 'Lead ' || o, {g.pick(TITLES, "o", 30)},
    {g.pick(SENIORITIES, "o", 31)}, {g.pick(DEPARTMENTS, "o", 32)},
    CASE WHEN {g.u("o", 33)} < 0.6 THEN '+81 3 ' || lpad(o::text, 8, '0') ELSE '' END,
    {g.pick(COUNTRIES, "o", 34)}, {g.pick(SOURCES, "o", 35)}, {g.pick(UTM_SOURCES, "o", 36)},
    {g.pick(UTM_MEDIUMS, "o", 37)}, {g.pick(UTM_CAMPAIGNS, "o", 38)}, '', '',
    CASE WHEN has_company THEN {company_base} + {k} END,
    jsonb_strip_nulls(jsonb_build_object(
        'segment', nullif({g.pick(SEGMENTS, "o", 39)}, ''),
        'visits', floor(power({g.u("o", 40)}, 3) * 60)::int,
        'newsletter', {g.u("o", 41)} < 0.3)),
    NULL, stage, CASE WHEN stage <> 'lead' THEN created + (%s - created) * {g.u("o", 52)} END,
    0, 0, 0, NULL, '', false, created, created,
    CASE WHEN {g.u("o", 53)} < 0.01 THEN %s - interval '1 day' * 30 * {g.u("o", 54)} END
FROM (SELECT o, {g.u("o", 23)} >= 0.1 AS has_company, {g.pick(STAGES, "o", 50)} AS stage,
             %s - interval '1 day' * 730 * {g.u("o", 51)} AS created
      FROM generate_series(1, %s) o OFFSET 0) s
ORDER BY o
""",
                [now, now, now, leads],
            )
            inserted = time.perf_counter() - step
        say(
            out,
            f"  leads: {leads:,} in {inserted:.1f} s, then their indexes and foreign keys in "
            f"{time.perf_counter() - step - inserted:.1f} s\n",
        )
        cursor.execute("SELECT min(id) - 1 FROM leads_lead")
        lead_base = cursor.fetchone()[0]

        step = time.perf_counter()
        with _indexes_dropped(cursor, "leads_activity"):
            o = f"(l.id - {lead_base})"
            count = (
                f"CASE WHEN {g.u(o, 70)} < {shape.body_share} "
                f"THEN floor({g.u(o, 71)} * {shape.body_max + 1})::int "
                f"ELSE least({shape.tail_cap}, floor({shape.tail_xm} * "
                f"power(1 - {g.u(o, 71)}, {-1 / shape.tail_alpha})))::int END"
            )
            key = f"(({o} << 12) | n)"
            site = sql_quote(SITE)
            cursor.execute(
                f"""
INSERT INTO leads_activity (lead_id, kind, occurred_at, properties, source_system, external_id,
                            created_at)
SELECT lead_id, kind, at,
    CASE kind
        WHEN 'page_view' THEN jsonb_build_object('url', {site} || {g.pick(PATHS, "k", 62)})
        WHEN 'content_download' THEN jsonb_build_object('asset', {g.pick(ASSETS, "k", 63)})
        WHEN 'email_open' THEN jsonb_build_object('campaign',
            'nurture-' || floor({g.u("k", 64)} * 12)::int)
        WHEN 'email_click' THEN jsonb_build_object('campaign',
            'nurture-' || floor({g.u("k", 64)} * 12)::int)
        ELSE '{{}}'::jsonb
    END,
    %s, NULL, at
FROM (
    SELECT l.id AS lead_id, {key} AS k, {g.pick(ACTIVITY_KINDS, key, 60)} AS kind,
           %s - interval '1 day' * {HISTORY_DAYS} * {g.u(key, 61)} AS at
    FROM leads_lead l CROSS JOIN LATERAL generate_series(1, {count}) n
    OFFSET 0
) a
ORDER BY at
""",
                [BENCH_SOURCE, now],
            )
            rows, inserted = cursor.rowcount, time.perf_counter() - step
        say(
            out,
            f"  activities: {rows:,} in time order in {inserted:.1f} s, then their indexes and "
            f"foreign keys in {time.perf_counter() - step - inserted:.1f} s\n",
        )
    step = time.perf_counter()
    tables_analyze(("leads_company", "leads_lead", "leads_activity"))
    say(out, f"  vacuum/analyze in {time.perf_counter() - step:.1f} s\n")


def _seed_python(
    *, leads: int, companies: int, shape: CountShape, seed: int, now: dt.datetime, out: TextIO
) -> None:
    rng = random.Random(seed)
    adapt = connection.ops.adapt_datetimefield_value
    batch = 5000
    with transaction.atomic(), connection.cursor() as cursor:
        rows: list[tuple[Any, ...]] = []
        for k in range(1, companies + 1):
            emp = None if rng.random() < 0.1 else int(math.exp(rng.random() * math.log(50000)))
            listed_u = rng.random()
            rows.append(
                (
                    f"Bench company {k}",
                    f"company{k}.example",
                    _pick_py(rng, INDUSTRIES),
                    emp,
                    None if emp is None else round(emp * (40000 + rng.random() * 160000), 2),
                    True if listed_u < 0.1 else (False if listed_u < 0.7 else None),
                    _pick_py(rng, COUNTRIES),
                    adapt(now),
                )
            )
        cursor.executemany(
            "INSERT INTO leads_company (name, domain, industry, employees, annual_revenue, "
            "listed, country, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        company_ids = list(Company.objects.order_by("id").values_list("id", flat=True))

        lead_sql = (
            "INSERT INTO leads_lead (email, first_name, last_name, title, seniority, department, "
            "phone, country, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, "
            "company_id, custom, owner_id, stage, stage_changed_at, fit_score, engagement_score, "
            "total_score, scored_at, excluded_reason, fast_tracked, created_at, updated_at, "
            f"deleted_at) VALUES ({', '.join(['%s'] * 28)})"
        )
        rows = []
        for o in range(1, leads + 1):
            has_company = rng.random() >= 0.1
            k = 1 + int(companies * rng.random() ** 2)
            if rng.random() < 0.18:
                domain = _pick_py(rng, FREE_MAIL)
            elif rng.random() < 0.004:
                domain = "rival.example"
            else:
                domain = f"company{k}.example" if has_company else "independent.example"
            stage = _pick_py(rng, STAGES)
            created = now - dt.timedelta(days=730 * rng.random())
            custom = {
                "segment": _pick_py(rng, SEGMENTS) or None,
                "visits": int(rng.random() ** 3 * 60),
                "newsletter": rng.random() < 0.3,
            }
            rows.append(
                (
                    f"bench{o}@{domain}",
                    "Bench",
                    f"Lead {o}",
                    _pick_py(rng, TITLES),
                    _pick_py(rng, SENIORITIES),
                    _pick_py(rng, DEPARTMENTS),
                    f"+81 3 {o:08d}" if rng.random() < 0.6 else "",
                    _pick_py(rng, COUNTRIES),
                    _pick_py(rng, SOURCES),
                    _pick_py(rng, UTM_SOURCES),
                    _pick_py(rng, UTM_MEDIUMS),
                    _pick_py(rng, UTM_CAMPAIGNS),
                    "",
                    "",
                    company_ids[k - 1] if has_company else None,
                    json.dumps({key: v for key, v in custom.items() if v is not None}),
                    None,
                    stage,
                    None if stage == "lead" else adapt(created + (now - created) * rng.random()),
                    0,
                    0.0,
                    0.0,
                    None,
                    "",
                    False,
                    adapt(created),
                    adapt(created),
                    adapt(now - dt.timedelta(days=30 * rng.random()))
                    if rng.random() < 0.01
                    else None,
                )
            )
            if len(rows) >= batch:
                cursor.executemany(lead_sql, rows)
                rows = []
        if rows:
            cursor.executemany(lead_sql, rows)

        activity_sql = (
            "INSERT INTO leads_activity (lead_id, kind, occurred_at, properties, source_system, "
            "external_id, created_at) VALUES (%s, %s, %s, %s, %s, NULL, %s)"
        )
        rows = []
        for lead_id in Lead.objects.order_by("id").values_list("id", flat=True).iterator():
            for _n in range(_count_py(shape, rng.random(), rng.random())):
                kind = _pick_py(rng, ACTIVITY_KINDS)
                at = adapt(now - dt.timedelta(days=HISTORY_DAYS * rng.random()))
                if kind == "page_view":
                    props = {"url": SITE + _pick_py(rng, PATHS)}
                elif kind == "content_download":
                    props = {"asset": _pick_py(rng, ASSETS)}
                elif kind in ("email_open", "email_click"):
                    props = {"campaign": f"nurture-{int(rng.random() * 12)}"}
                else:
                    props = {}
                rows.append((lead_id, kind, at, json.dumps(props), BENCH_SOURCE, at))
            if len(rows) >= batch:
                cursor.executemany(activity_sql, rows)
                rows = []
        if rows:
            cursor.executemany(activity_sql, rows)
    say(out, f"  {companies:,} companies, {leads:,} leads and their activities inserted\n")


# --------------------------------------------------------------------------------------------
# The rule set


def _rule_catalogue() -> list[dict]:
    """17 fit, 12 behaviour, one exclusion, one fast-track rule; the first 30 are the default."""
    fit = [
        ("Senior decision maker", "seniority", "in", ["director", "vp", "c_level", "owner"], 15),
        ("Head of", "title", "contains", "head", 10),
        ("IT department", "department", "equals", "it", 8),
        ("Engineering or operations", "department", "in", ["engineering", "operations"], 5),
        ("Core market", "country", "in", ["jp", "us", "de", "gb"], 5),
        ("Mid-size company", "company.employees", "between", [200, 5000], 15),
        ("Large company", "company.employees", "gt", 5000, 10),
        ("Micro company", "company.employees", "lt", 10, -10),
        ("Revenue over 1bn", "company.annual_revenue", "gte", 1_000_000_000, 10),
        ("Target industry", "company.industry", "in", ["software", "financial services"], 10),
        ("Listed company", "company.listed", "equals", "true", 5),
        ("Came from a webinar", "source", "equals", "webinar", 5),
        ("Paid search", "utm_medium", "equals", "cpc", 3),
        ("Enterprise segment", "custom.segment", "equals", "enterprise", 10),
        ("Frequent visitor", "custom.visits", "gte", 20, 5),
        ("Has a phone number", "phone", "not_empty", None, 3),
        ("Free-mail address", "email", "free_mail", None, -10),
    ]
    rules = [
        {"kind": "fit", "name": n, "field": f, "operator": op, "value": v, "points": p}
        for n, f, op, v, p in fit
    ]

    def url(text: str) -> list[dict]:
        return [{"property": "url", "operator": "contains", "value": text}]

    behaviour = [
        ("Pricing page", "page_view", url("/pricing"), 10, 30, 90, None),
        ("Case studies", "page_view", url("/case-studies"), 5, 15, 90, None),
        ("Careers page (job seeker)", "page_view", url("/careers"), -5, 15, None, None),
        ("Any page view", "page_view", [], 1, 10, 30, None),
        ("Repeat visitor", "page_view", [], 2, 20, 14, 10),
        ("Content download", "content_download", [], 8, 24, 180, None),
        ("Newsletter signup", "newsletter_signup", [], 3, 3, None, None),
        ("Webinar registration", "webinar_registration", [], 5, 10, 60, None),
        ("Webinar attendance", "webinar_attendance", [], 12, 24, 60, None),
        ("E-mail click", "email_click", [], 2, 10, 30, None),
        ("E-mail opens (3+)", "email_open", [], 1, 5, 60, 3),
        ("Form or inquiry", "form_submit", [], 15, 30, None, None),
    ]
    rules += [
        {
            "kind": "behaviour",
            "name": n,
            "activity_kind": kind,
            "property_conditions": props,
            "points": p,
            "cap": cap,
            "window_days": window,
            "min_count": k,
        }
        for n, kind, props, p, cap, window, k in behaviour
    ]
    exclusion = {
        "kind": "exclusion",
        "name": "Competitor",
        "field": "email",
        "operator": "email_domain_in",
        "value": ["rival.example"],
    }
    fast_track = {
        "kind": "fast_track",
        "name": "Demo request",
        "activity_kind": "demo_request",
        "window_days": 14,
    }
    # With fewer rules, drop fit rules first: behaviour rules are what the bulk SQL pays for.
    return [exclusion, fast_track, *rules[17:], *rules[:17]]


def bench_ruleset(*, rules: int, now: dt.datetime, edited: bool = False) -> RuleSetVersion:
    """A published version with `rules` rules, every one valid (engine.validate_rule).

    `edited` makes the next version, as marketing would publish it: the pricing page is worth
    more; the version before is retired."""
    catalogue = _rule_catalogue()
    if edited:
        for spec in catalogue:
            if spec["name"] == "Pricing page":
                spec["points"] = 15
    RuleSetVersion.objects.filter(status=RuleSetVersion.Status.PUBLISHED).update(
        status=RuleSetVersion.Status.RETIRED
    )
    number = (RuleSetVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    version = RuleSetVersion.objects.create(
        number=number,
        status=RuleSetVersion.Status.PUBLISHED,
        name=BENCH_RULESET_NAME,
        mql_threshold=60,
        min_fit_score=20,
        decay_half_life_days=HALF_LIFE_DAYS,
        published_at=now,
    )
    for position in range(rules):
        spec = dict(catalogue[position % len(catalogue)])
        if position >= len(catalogue):
            spec["name"] = f"{spec['name']} ({position // len(catalogue) + 1})"
        rule = Rule(version=version, position=position, **spec)
        errors = engine.validate_rule(rule)
        if errors:
            raise BenchError(f"Rule {rule.name!r} is invalid: {errors}")
        rule.save()
    return version


# --------------------------------------------------------------------------------------------
# Measurements


def _rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _BulkTimer:
    """Time spent in the chunk statements (the set-based scoring) versus everything else."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if sql.lstrip().startswith("WITH act AS") and "UPDATE leads_lead" in sql:
                self.seconds += time.perf_counter() - started


def bench_rescore(
    *,
    version: RuleSetVersion,
    label: str,
    as_of: dt.datetime | None = None,
    trace_memory: bool = False,
) -> RescoreFigures:
    """One full rescore through the service, in-process and timed."""
    # The run executes here, timed; its task must not reach a worker sharing the broker.
    with mock.patch("scoring.tasks.rescore_run_task"), transaction.atomic():
        run = services.rescore_run_start(version=version, reason="bench", as_of=as_of)
    timer = _BulkTimer()
    handed: list[list[int]] = []
    rss_before = _rss_mb()
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        # The pass hands crossing leads to workers after each chunk commits; here they are
        # collected and then made MQLs in-process, timed apart, as one worker would.
        with (
            connection.execute_wrapper(timer),
            mock.patch.object(services, "_hand_to_workers", side_effect=handed.append),
        ):
            done = services.rescore_run_execute(run_id=run.pk)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace_memory else None
    finally:
        if trace_memory:
            tracemalloc.stop()
    if done is None:
        raise BenchError("The rescore run was claimed by someone else.")
    handoff_started = time.perf_counter()
    made = sum(rescore_leads_task(ids) for ids in handed)
    handoff_seconds = time.perf_counter() - handoff_started
    return RescoreFigures(
        handoff_seconds=handoff_seconds,
        mqls_made=made,
        label=label,
        seconds=seconds,
        leads=done.total,
        changed=done.changed,
        new_mqls=done.new_mqls,
        bulk_sql_seconds=timer.seconds,
        rss_before_mb=rss_before,
        rss_after_mb=_rss_mb(),
        py_peak_mb=peak,
    )


def bench_single_lead(*, samples: int, seed: int) -> tuple[list[float], float, int]:
    """Latency of services.lead_rescore (as the task calls it) for random leads, in ms;
    plus the median of 5 runs on the lead with the most activities."""
    bounds = Lead.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return [], 0.0, 0
    rng = random.Random(seed)
    ids = [rng.randint(bounds["lo"], bounds["hi"]) for _ in range(samples)]
    services.lead_rescore(lead_id=ids[0])  # warm-up: imports, first connection
    timings = [elapsed_ms(partial(services.lead_rescore, lead_id=i)) for i in ids]
    heaviest = (
        Activity.objects.values("lead_id").annotate(n=Count("id")).order_by("-n", "lead_id").first()
    )
    if not heaviest:
        return timings, 0.0, 0
    runs = timings_ms(lambda: services.lead_rescore(lead_id=heaviest["lead_id"]), 5, warm_up=False)
    return timings, statistics.median(runs), heaviest["n"]


def bench_explain(*, version: RuleSetVersion, as_of: dt.datetime) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the chunk in the middle of the id range, rolled back."""
    if connection.vendor != "postgresql":
        return "EXPLAIN (ANALYZE, BUFFERS) needs PostgreSQL."
    ruleset = engine.compile_ruleset(version)
    bounds = Lead.objects.aggregate(lo=Min("id"), hi=Max("id"))
    middle = (bounds["lo"] + bounds["hi"]) // 2
    lo = max(bounds["lo"], middle - services.CHUNK_SIZE // 2)
    hi = lo + services.CHUNK_SIZE - 1
    sql, params = engine.chunk_sql(ruleset, connection, lo, hi, as_of)
    lines: list[str] = []
    with transaction.atomic(), connection.cursor() as cursor:
        services.chunk_session_tune(cursor)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + sql, params)
        lines = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    header = f"Chunk ids {lo}..{hi} ({services.CHUNK_SIZE:,} ids), scoring clock {as_of:%F %T}:"
    return "\n".join([header, *lines])


# --------------------------------------------------------------------------------------------
# The whole run and its report


def bench_run(
    *,
    leads: int,
    activities_per_lead: float,
    rules: int,
    samples: int,
    seed: int,
    keep: bool = False,
    explain: bool = False,
    out: TextIO,
) -> BenchResult:
    """Seed, then four full rescores through the service, then single-lead latency.

    1. First scoring: every lead is new to the rule set, all of them change and the ones
       above the threshold become MQLs (each through the Python path and the hand-off).
    2. Publishing a rule edit (the pricing page is worth more): the everyday full rescore.
    3. The same again on the same scoring clock: nothing changes, so this is compute only.
       Python allocations are traced here: tracemalloc would slow the Python-heavy MQL
       passes threefold, and resident memory is watched over every pass anyway.
    4. The nightly rescore, one day later: decay moves every engaged lead.
    """
    bench_guard()
    now = timezone.now()
    say(out, f"Seeding {leads:,} leads on {connection.vendor} (seed {seed})...\n")
    seed_stats = bench_seed(
        leads=leads, activities_per_lead=activities_per_lead, seed=seed, now=now, out=out
    )
    say(
        out,
        f"  {seed_stats.activities:,} activities "
        f"(max {seed_stats.max_activities:,} for one lead) in {seed_stats.seconds:.1f} s\n",
    )
    plan = ""
    try:
        version = bench_ruleset(rules=rules, now=now)
        passes = []

        def rescore(label: str, **kwargs: Any) -> None:
            say(out, f"{label}...\n")
            figures = bench_rescore(version=version, label=label, **kwargs)
            passes.append(figures)
            say(
                out,
                f"  {figures.seconds:.1f} s: {figures.changed:,} changed, "
                f"{figures.new_mqls:,} crossed, {figures.mqls_made:,} MQLs made after "
                f"({figures.handoff_seconds:.1f} s)\n",
            )

        rescore("First scoring (all leads new)")
        version = bench_ruleset(rules=rules, now=timezone.now(), edited=True)
        rescore("Publish a rule edit")
        clock = _as_of_of_last_run()
        rescore("Rescore, nothing changed", as_of=clock, trace_memory=True)
        rescore("Nightly rescore (+1 day)", as_of=clock + dt.timedelta(days=1))
        if explain:
            plan = bench_explain(version=version, as_of=clock + dt.timedelta(days=2))
        say(out, f"Single-lead rescore, {samples} random leads...\n")
        single, heaviest_ms, heaviest_n = bench_single_lead(samples=samples, seed=seed)
    finally:
        if not keep:
            bench_cleanup()
    result = BenchResult(
        vendor=connection.vendor,
        leads=seed_stats.leads,
        companies=seed_stats.companies,
        activities=seed_stats.activities,
        max_activities=seed_stats.max_activities,
        rules=rules,
        seed_seconds=seed_stats.seconds,
        rescores=passes,
        single_ms=single,
        heaviest_ms=heaviest_ms,
        heaviest_activities=heaviest_n,
        explain=plan,
    )
    say(out, "\n" + format_report(result) + "\n")
    if keep:
        say(out, "Bench data kept (--keep).\n")
    return result


def _as_of_of_last_run() -> dt.datetime:
    as_of = RescoreRun.objects.order_by("-id").values_list("as_of", flat=True).first()
    if as_of is None:
        raise RuntimeError("No rescore run has been recorded.")
    return as_of


def format_report(result: BenchResult) -> str:
    rows: list[tuple[str, str, str, str]] = [
        (
            "Seed",
            _seconds(result.seed_seconds),
            "",
            f"{result.leads:,} leads, {result.activities:,} activities "
            f"(max {result.max_activities:,} per lead), {result.companies:,} companies, "
            f"{result.rules} rules",
        )
    ]
    for fig in result.rescores:
        handoff = (
            f"; then {fig.mqls_made:,} MQL hand-offs on one worker in "
            f"{_seconds(fig.handoff_seconds)} ({fig.ms_per_mql:.1f} ms each)"
            if fig.mqls_made
            else ""
        )
        rows.append(
            (
                fig.label,
                _seconds(fig.seconds),
                _verdict(fig.leads_per_second >= TARGET_LEADS_PER_SECOND),
                f"{fig.leads_per_second:,.0f} leads/s; {fig.changed:,} changed, "
                f"{fig.new_mqls:,} crossed; scoring SQL {_seconds(fig.bulk_sql_seconds)}"
                f"{handoff}",
            )
        )
    rows.append(
        (
            "Single lead median / p95",
            f"{result.single_median_ms:.1f} / {result.single_p95_ms:.1f} ms",
            _verdict(result.single_p95_ms <= TARGET_SINGLE_P95_MS),
            f"{len(result.single_ms)} random leads, max {max(result.single_ms, default=0):.1f} "
            f"ms; heaviest lead ({result.heaviest_activities:,} activities) "
            f"{result.heaviest_ms:.1f} ms",
        )
    )
    first = result.rescores[0]
    traced = next((f for f in result.rescores if f.py_peak_mb is not None), None)
    growth = max(f.rss_after_mb for f in result.rescores) - first.rss_before_mb
    peak_py = traced.py_peak_mb if traced and traced.py_peak_mb is not None else 0.0
    rows.append(
        (
            "Memory (peak RSS growth)",
            f"+{growth:.1f} MB",
            _verdict(growth <= TARGET_MEMORY_MB and peak_py <= TARGET_MEMORY_MB),
            f"over all rescores, {first.rss_before_mb:.0f} -> {first.rss_before_mb + growth:.0f}"
            f" MB (+{first.rss_after_mb - first.rss_before_mb:.1f} MB in the first scoring); "
            f"peak Python allocations {peak_py:.1f} MB (tracemalloc, "
            f"'{traced.label if traced else '-'}')",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"Bench on {result.vendor}", "-" * 72]
    for name, value, verdict, detail in rows:
        lines.append(
            f"{name.ljust(widths[0])}  {value.rjust(widths[1])}  {verdict.ljust(widths[2])}  "
            f"{detail}".rstrip()
        )
    lines += [
        "",
        f"Targets: full rescore >= {TARGET_LEADS_PER_SECOND:,.0f} leads/s (1M leads with 10M "
        f"activities in 60 s; MQL hand-offs run after each chunk on the workers, timed apart "
        f"here on one); single-lead p95 <= {TARGET_SINGLE_P95_MS:.0f} ms; memory flat: "
        f"RSS growth and Python allocations <= {TARGET_MEMORY_MB:.0f} MB whatever N (one "
        "chunk's worth).",
    ]
    if result.leads < 100_000:
        lines.append("(At small N fixed costs dominate: the leads/s target is for 1M leads.)")
    if result.explain:
        lines += ["", result.explain]
    return "\n".join(lines)


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"
