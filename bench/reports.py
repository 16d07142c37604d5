"""Chart data at scale: seed leads and their lifecycle history, build the facts, time each
chart's selector.

`manage.py bench_reports` calls `bench_reports`; tests call it at tiny N. On PostgreSQL the
seed is set-based (one INSERT ... SELECT generate_series per table, pseudo-random values from
hashint8extended(ordinal, seed), so a seed gives the same rows whatever the plan): companies,
leads, StageEvents along weighted lifecycle paths (about three per lead), and a hand-off per
MQL as the SLA hook would have opened it. The hand-offs' deadlines are clock-time
approximations of the SLA (accept in 4 h, first contact in 8 h, qualify in 14 days): the
timings do not depend on them. Then `reports_rebuild` builds the facts exactly as in
production, and every chart's selector is timed with the dashboard's default filters (the
last twelve months) and over the whole two years. SQLite (small N, for tests) replays the
same paths through lead_transition instead.

The database must hold no leads: run it in a database of its own (see the command's help).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import statistics
import time
from functools import partial
from typing import TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from leads import roles
from leads.models import Company, Lead, Profile, StageEvent, Team
from leads.services import lead_transition
from reports import selectors, services
from reports.models import LeadDay, MqlFact, ReportState
from sla.models import Handoff, SlaVersion
from sla.services import sla_live

from .common import INDUSTRIES, BenchError, PgGen, say, tables_analyze, timings_ms

TARGET_MS = 300.0
HISTORY_DAYS = 730
BENCH_TEAMS = ("Bench inside sales", "Bench enterprise", "Bench partners")
REPS_PER_TEAM = 4

# (value, weight)
SOURCES = [
    ("webinar", 15),
    ("organic", 30),
    ("paid_search", 20),
    ("referral", 10),
    ("event", 10),
    ("partner", 10),
    ("api", 5),
]
REASONS = [
    ("not_a_fit", 30),
    ("no_budget", 20),
    ("student", 8),
    ("competitor", 4),
    ("bad_data", 15),
    ("duplicate", 10),
    ("existing_customer", 8),
    ("other", 5),
]
# Lifecycle paths (the stages after "lead", in order) and how many leads take each:
# about three StageEvents per lead, a quarter of the MQLs rejected, a tenth MQL twice.
PATHS: list[tuple[tuple[str, ...], int]] = [
    ((), 9),
    (("mql",), 5),
    (("mql", "sal"), 8),
    (("mql", "sal", "sql"), 23),
    (("mql", "rejected"), 7),
    (("mql", "rejected", "recycled"), 6),
    (("mql", "sal", "recycled"), 5),
    (("mql", "sal", "disqualified"), 5),
    (("mql", "rejected", "recycled", "mql", "sal", "sql"), 17),
    (("mql", "rejected", "recycled", "mql", "sal"), 5),
    (("mql", "sal", "recycled", "mql", "rejected"), 10),
]


def _delay_hours(previous: str, stage: str, u: float) -> float:
    """Hours between two stages for a uniform u; the SQL seed uses the same formulas."""
    if stage == "mql":
        return 1 + 1440 * u if previous == "lead" else 240 + 2640 * u
    if stage in ("sal", "rejected"):
        return 0.1 + 24 * u**3
    if stage == "sql":
        return 24 + 960 * u
    if previous == "rejected":
        return 24 + 696 * u
    return 120 + 1320 * u


DELAY_SQL = """CASE
  WHEN p.stage = 'mql' AND p.prev = 'lead' THEN 1 + 1440 * {u}
  WHEN p.stage = 'mql' THEN 240 + 2640 * {u}
  WHEN p.stage IN ('sal', 'rejected') THEN 0.1 + 24 * power({u}, 3)
  WHEN p.stage = 'sql' THEN 24 + 960 * {u}
  WHEN p.prev = 'rejected' THEN 24 + 696 * {u}
  ELSE 120 + 1320 * {u} END"""


@dataclasses.dataclass
class Timing:
    metric: str
    default_ms: list[float]
    full_ms: list[float]

    @property
    def default_median(self) -> float:
        return statistics.median(self.default_ms)

    @property
    def full_median(self) -> float:
        return statistics.median(self.full_ms)


@dataclasses.dataclass
class BenchResult:
    vendor: str
    leads: int
    stage_events: int
    mqls: int
    handoffs: int
    facts: int
    seed_seconds: float
    rebuild_seconds: float
    timings: list[Timing]

    @property
    def slowest_ms(self) -> float:
        return max(t.default_median for t in self.timings)

    @property
    def within_target(self) -> bool:
        return self.slowest_ms <= TARGET_MS


def bench_guard() -> None:
    if Lead.objects.exists() or StageEvent.objects.exists():
        raise BenchError(
            "This database already holds leads; the bench needs an empty one. Create a "
            "database of its own, migrate it and point DATABASE_URL at it."
        )


def _bench_people() -> list[tuple[int, int]]:
    """The bench's teams and reps: [(rep id, team id), ...]."""
    User = get_user_model()
    group = Group.objects.get(name=roles.SALES_REP)
    pairs = []
    for t, name in enumerate(BENCH_TEAMS):
        team, _created = Team.objects.get_or_create(name=name)
        for r in range(REPS_PER_TEAM):
            user, _created = User.objects.get_or_create(
                username=f"bench-rep-{t}-{r}",
                defaults={"first_name": "Bench", "last_name": f"Rep {t}-{r}"},
            )
            user.groups.add(group)
            Profile.objects.update_or_create(user=user, defaults={"team": team})
            pairs.append((user.pk, team.pk))
    return pairs


def bench_seed(*, leads: int, seed: int, now: dt.datetime, out: TextIO | None = None) -> None:
    people = _bench_people()
    # The bench's history goes back years; the SLA governs all of it.
    SlaVersion.objects.filter(pk=sla_live().pk).update(
        effective_from=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    if connection.vendor == "postgresql":
        _seed_postgresql(leads=leads, seed=seed, now=now, people=people, out=out)
    else:
        _seed_python(leads=leads, seed=seed, now=now, people=people)


def _seed_postgresql(
    *, leads: int, seed: int, now: dt.datetime, people: list[tuple[int, int]], out: TextIO | None
) -> None:
    g = PgGen(seed)
    companies = max(1, leads // 10)
    version = sla_live().pk
    reps = ", ".join(str(rep) for rep, _team in people)
    teams = ", ".join(str(team) for _rep, team in people)
    path_rows = ", ".join(
        f"({p}, {s}, '{stage}', '{(('lead',) + path)[s - 1]}')"
        for p, (path, _w) in enumerate(PATHS, start=1)
        for s, stage in enumerate(path, start=1)
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '512MB'")
        step = time.perf_counter()
        cursor.execute(
            f"""
INSERT INTO leads_company (name, domain, industry, employees, annual_revenue, listed, country,
                           created_at)
SELECT 'Bench company ' || k, 'bench' || k || '.example', {g.pick(INDUSTRIES, "k", 1)},
       CASE WHEN {g.u("k", 6)} < 0.1 THEN NULL ELSE floor(exp({g.u("k", 2)} * ln(50000)))::int END,
       NULL, NULL, '', %s
FROM generate_series(1, %s) k
""",
            [now, companies],
        )
        cursor.execute("SELECT min(id) - 1 FROM leads_company WHERE name LIKE 'Bench company %%'")
        company_base = cursor.fetchone()[0]
        cursor.execute(
            f"""
INSERT INTO leads_lead (email, first_name, last_name, title, seniority, department, phone,
    country, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, company_id,
    custom, owner_id, stage, stage_changed_at, fit_score, engagement_score, total_score,
    scored_at, excluded_reason, fast_tracked, created_at, updated_at, deleted_at)
SELECT 'bench' || o || '@bench.example', 'Bench', 'Lead ' || o, '', '', '', '', '',
    {g.pick(SOURCES, "o", 10)}, '', '', '', '', '',
    CASE WHEN {g.u("o", 11)} < 0.9
         THEN {company_base} + 1 + floor({companies} * {g.u("o", 12)})::int8 END,
    '{{}}'::jsonb, NULL, 'lead', NULL, 0, 0, 0, NULL, '', false, created, created, NULL
FROM (SELECT o, %s - interval '1 hour' * {HISTORY_DAYS * 24} * {g.u("o", 13)} AS created
      FROM generate_series(1, %s) o) s
ORDER BY created
""",
            [now, leads],
        )
        say(out, f"  companies and leads in {time.perf_counter() - step:.1f} s\n")
        cursor.execute("SELECT min(id) FROM leads_lead")
        lead_base = cursor.fetchone()[0]

        step = time.perf_counter()
        key = f"(l.id - {lead_base}) * 16 + p.step"
        cursor.execute(
            f"""
INSERT INTO leads_stageevent (lead_id, from_stage, to_stage, at, actor_id, origin, reason, note,
    ruleset_version, context, created_at, skipped)
SELECT lead_id, prev, stage, at, NULL, 'system',
       CASE WHEN stage = 'rejected' THEN {g.pick(REASONS, "k", 20)} ELSE '' END, '', NULL,
       CASE WHEN stage = 'mql' AND {g.u("k", 21)} < 0.9
            THEN jsonb_build_object('total', round((25 + 90 * {g.u("k", 22)})::numeric, 1))
            ELSE '{{}}'::jsonb END,
       at, false
FROM (
  SELECT l.id AS lead_id, p.stage, p.prev, {key} AS k,
         l.created_at + interval '1 hour' * sum({DELAY_SQL.format(u=g.u(key, 23))})
             OVER (PARTITION BY l.id ORDER BY p.step) AS at
  FROM leads_lead l
  JOIN (VALUES {path_rows}) AS p(path, step, stage, prev)
    ON p.path = {g.index(PATHS, f"l.id - {lead_base}", 24)}
) e
WHERE at <= %s
ORDER BY at
""",
            [now],
        )
        say(out, f"  stage events in {time.perf_counter() - step:.1f} s\n")

        step = time.perf_counter()
        contact = f"interval '1 hour' * (0.05 + 16 * power({g.u('mql_event_id', 31)}, 3))"
        cursor.execute(
            f"""
INSERT INTO sla_handoff (lead_id, mql_event_id, sla_version_id, team_id, rep_id, status, hot,
    mql_at, accept_due_at, first_contact_due_at, qualify_due_at, accepted_at, rejected_at,
    first_contact_at, closed_at, outcome, imported)
SELECT lead_id, mql_event_id, {version}, (ARRAY[{teams}])[pick], (ARRAY[{reps}])[pick],
       CASE WHEN closed_at IS NOT NULL THEN 'closed' WHEN rejected_at IS NOT NULL THEN 'rejected'
            WHEN accepted_at IS NOT NULL THEN 'accepted' ELSE 'open' END,
       false, mql_at, mql_at + interval '4 hours', mql_at + interval '8 hours',
       accepted_at + interval '14 days', accepted_at, rejected_at,
       CASE WHEN accepted_at IS NOT NULL AND {g.u("mql_event_id", 30)} < 0.85
                 AND mql_at + {contact} <= %s
            THEN mql_at + {contact} END,
       closed_at, coalesce(outcome, reason, ''), false
FROM (
  SELECT lead_id, cycle,
         min(id) FILTER (WHERE to_stage = 'mql') AS mql_event_id,
         min(at) FILTER (WHERE to_stage = 'mql') AS mql_at,
         min(at) FILTER (WHERE to_stage = 'sal') AS accepted_at,
         min(at) FILTER (WHERE to_stage = 'rejected') AS rejected_at,
         min(reason) FILTER (WHERE to_stage = 'rejected') AS reason,
         min(at) FILTER (WHERE to_stage IN ('sql', 'recycled', 'disqualified')
                         AND from_stage = 'sal') AS closed_at,
         min(to_stage) FILTER (WHERE to_stage IN ('sql', 'recycled', 'disqualified')
                               AND from_stage = 'sal') AS outcome,
         1 + floor({len(people)} * {g.u("lead_id", 32)})::int AS pick
  FROM (
    SELECT e.lead_id, e.id, e.from_stage, e.to_stage, e.at, e.reason,
           count(*) FILTER (WHERE e.to_stage = 'mql')
               OVER (PARTITION BY e.lead_id ORDER BY e.at, e.id) AS cycle
    FROM leads_stageevent e
  ) x
  GROUP BY lead_id, cycle
) c
WHERE mql_event_id IS NOT NULL
ORDER BY mql_at
""",
            [now],
        )
        say(out, f"  hand-offs in {time.perf_counter() - step:.1f} s\n")
    tables_analyze(("leads_company", "leads_lead", "leads_stageevent", "sla_handoff"))


def _seed_python(*, leads: int, seed: int, now: dt.datetime, people: list[tuple[int, int]]) -> None:
    """SQLite and small N: the same paths, replayed through lead_transition (and so through
    the SLA's and the reports' hooks, like real history)."""
    rng = random.Random(seed)
    User = get_user_model()
    reps = {u.pk: u for u in User.objects.filter(pk__in=[rep for rep, _team in people])}
    company_list = Company.objects.bulk_create(
        Company(
            name=f"Bench company {k}",
            domain=f"bench{k}.example",
            industry=rng.choices([v for v, _w in INDUSTRIES], [w for _v, w in INDUSTRIES])[0],
            employees=None if rng.random() < 0.1 else int(50000 ** rng.random()),
        )
        for k in range(max(1, leads // 10))
    )
    steps = []
    for o in range(leads):
        created = now - dt.timedelta(hours=HISTORY_DAYS * 24 * rng.random())
        lead = Lead.objects.create(
            email=f"bench{o}@bench.example",
            source=rng.choices([v for v, _w in SOURCES], [w for _v, w in SOURCES])[0],
            company=rng.choice(company_list) if rng.random() < 0.9 else None,
            owner=reps[rng.choice(list(reps))],
            created_at=created,
        )
        path = rng.choices([p for p, _w in PATHS], [w for _p, w in PATHS])[0]
        at, previous = created, "lead"
        for stage in path:
            at += dt.timedelta(hours=_delay_hours(previous, stage, rng.random()))
            if at > now:
                break
            steps.append((at, lead, stage))
            previous = stage
    steps.sort(key=lambda s: (s[0], s[1].pk))
    for at, lead, stage in steps:
        context = {"total": round(25 + 90 * rng.random(), 1)} if stage == "mql" else {}
        reason = "not_a_fit" if stage == "rejected" else ""
        lead_transition(
            lead=lead, to_stage=stage, at=at, context=context, reason=reason, origin="system"
        )


def bench_time(*, now: dt.datetime, runs: int) -> list[Timing]:
    default = selectors.default_filters(now)
    full = selectors.Filters(
        start=selectors.report_today(now) - dt.timedelta(days=HISTORY_DAYS), end=default.end
    )
    # Each after a warm-up (caches, the plan), as a page that was opened before.
    return [
        Timing(
            metric=name,
            default_ms=timings_ms(
                partial(selectors.metric, name, default, now=now), runs, warm_up=True
            ),
            full_ms=timings_ms(partial(selectors.metric, name, full, now=now), runs, warm_up=True),
        )
        for name in selectors.METRICS
    ]


def bench_cleanup() -> None:
    tables = [
        MqlFact._meta.db_table,
        LeadDay._meta.db_table,
        ReportState._meta.db_table,
        Handoff._meta.db_table,
        StageEvent._meta.db_table,
        Lead._meta.db_table,
        Company._meta.db_table,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for model in (MqlFact, LeadDay, ReportState):
                model.objects.all().delete()
            Lead.objects.all().delete()
            Company.objects.all().delete()
    get_user_model().objects.filter(username__startswith="bench-rep-").delete()
    Team.objects.filter(name__in=BENCH_TEAMS).delete()


def bench_reports(
    *,
    leads: int,
    seed: int = 42,
    runs: int = 5,
    keep: bool = False,
    reuse: bool = False,
    now: dt.datetime | None = None,
    out: TextIO | None = None,
) -> BenchResult:
    now = now or timezone.now()
    seed_seconds = rebuild_seconds = 0.0
    if reuse and Lead.objects.filter(email__endswith="@bench.example").exists():
        say(out, "Reusing the bench data already in the database.\n")
    else:
        bench_guard()
        say(out, f"Seeding {leads:,} leads on {connection.vendor}...\n")
        started = time.perf_counter()
        bench_seed(leads=leads, seed=seed, now=now, out=out)
        seed_seconds = time.perf_counter() - started
        say(out, "Building the facts (reports_rebuild)...\n")
        started = time.perf_counter()
        services.reports_rebuild(out=out, chunk=50_000)
        rebuild_seconds = time.perf_counter() - started
    result = BenchResult(
        vendor=connection.vendor,
        leads=Lead.objects.count(),
        stage_events=StageEvent.objects.count(),
        mqls=StageEvent.objects.filter(to_stage="mql").count(),
        handoffs=Handoff.objects.count(),
        facts=MqlFact.objects.count(),
        seed_seconds=seed_seconds,
        rebuild_seconds=rebuild_seconds,
        timings=bench_time(now=now, runs=runs),
    )
    bench_print(result, out)
    if not keep:
        bench_cleanup()
    return result


def bench_print(result: BenchResult, out: TextIO | None) -> None:
    say(
        out,
        f"\n{result.vendor}: {result.leads:,} leads, {result.stage_events:,} stage events, "
        f"{result.mqls:,} MQLs, {result.handoffs:,} hand-offs, {result.facts:,} facts\n"
        f"seed {result.seed_seconds:.1f} s, facts built in {result.rebuild_seconds:.1f} s\n\n"
        f"{'chart data (selector)':<26}{'12 months':>12}{'max':>9}{'24 months':>12}{'max':>9}\n",
    )
    for t in result.timings:
        flag = "" if t.default_median <= TARGET_MS else "  over 300 ms"
        say(
            out,
            f"{t.metric:<26}{t.default_median:>9.1f} ms{max(t.default_ms):>6.1f} ms"
            f"{t.full_median:>9.1f} ms{max(t.full_ms):>6.1f} ms{flag}\n",
        )
    verdict = "every chart within" if result.within_target else "NOT every chart within"
    say(
        out,
        f"\nMedians of the runs after a warm-up; {verdict} {TARGET_MS:.0f} ms "
        f"(slowest {result.slowest_ms:.1f} ms) with the dashboard's default filters.\n",
    )
