"""Demo data: the users, leads and months of lifecycle history that `make run` starts with.

Deterministic: one `random.Random(seed)` drives everything and every date is relative to a
day-truncated anchor, so the same seed on the same day gives the same rows. Stage changes go
through `lead_transition` like any other change; leads, companies and activities are
bulk-created because nothing else reacts to them (scores are left to the scoring engine).
What the leads are and do is planned in `demo.world`; this module saves it.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from core.db import analyze
from leads import roles
from leads.models import Activity, ActivityKind, Lead, Profile, Stage, StageEvent, Team
from leads.services import lead_transition
from scoring import services as scoring
from scoring.models import Rule
from sla.models import SlaVersion
from sla.services import contact_log, sla_live

from .world import DEMO_TIME_ZONE, TZ, World

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

DEMO_PASSWORD = "handoff-demo"
DEMO_TEAM = "Inside sales"


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    in_team: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("marketing", "Mika", "Mori", roles.MARKETING_MANAGER),
    DemoUser("rep1", "Kenji", "Sato", roles.SALES_REP, in_team=True),
    DemoUser("rep2", "Emma", "Brown", roles.SALES_REP, in_team=True),
    DemoUser("rep3", "Yuki", "Tanaka", roles.SALES_REP, in_team=True),
    DemoUser("salesmgr", "Sam", "Okada", roles.SALES_MANAGER, in_team=True),
    DemoUser("admin", "Ada", "Admin", roles.ADMIN),
)


@dataclass
class DemoSummary:
    leads: int = 0
    companies: int = 0
    activities: int = 0
    stage_events: int = 0
    stages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        stages = ", ".join(f"{stage} {count}" for stage, count in sorted(self.stages.items()))
        return [
            f"Seeded {self.leads} leads at {self.companies} companies, {self.activities} "
            f"activities and {self.stage_events} stage changes in {self.seconds:.1f} s.",
            f"Stages now: {stages}.",
        ]


def demo_users_ensure() -> dict[str, Any]:
    """Create the demo users, their roles and profiles if missing (safe to run again).

    Passwords are set only when a user is created, so a changed password survives.
    """
    User = get_user_model()
    role_names = {u.role for u in DEMO_USERS}
    if Group.objects.filter(name__in=role_names).count() < len(role_names):
        roles.ensure_roles()
    team, _created = Team.objects.get_or_create(name=DEMO_TEAM)
    users = {}
    for spec in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@handoff.example",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
        if spec.role == roles.ADMIN:
            user.is_staff = user.is_superuser = True
        if created or spec.role == roles.ADMIN:
            user.save()
        user.groups.add(Group.objects.get(name=spec.role))
        Profile.objects.get_or_create(
            user=user,
            defaults={"team": team if spec.in_team else None, "time_zone": DEMO_TIME_ZONE},
        )
        users[spec.username] = user
    return users


def _demo_first_call(plan: Any, rep: Any, mql_at: dt.datetime, accepted: dt.datetime) -> None:
    """Reps call before or as they accept: somewhere between the MQL and the acceptance."""
    spread = (accepted - mql_at) * ((plan.index * 37) % 100) / 100
    contact_log(
        lead=plan.lead,
        user=rep,
        channel="call" if plan.index % 4 else "email",
        at=accepted - spread,
        note="Intro call" if plan.index % 4 else "Intro e-mail",
    )


def _demo_sla(start: dt.datetime, publisher: Any) -> None:
    """The demo teams work Tokyo hours with Japanese public holidays, under an SLA in force
    since the demo's history starts (a hand-off is judged only by an SLA in force at its
    MQL)."""
    live = sla_live()
    if live.time_zone != DEMO_TIME_ZONE:
        SlaVersion.objects.filter(pk=live.pk).update(
            time_zone=DEMO_TIME_ZONE, holiday_country="JP", hot_score=80
        )
    if live.effective_from is None or live.effective_from > start:
        # Agreed before the history starts: published (by the sales manager) and in force then.
        SlaVersion.objects.filter(pk=live.pk).update(
            effective_from=start,
            published_at=min(start, live.published_at or start),
            published_by=live.published_by or publisher,
        )


# The demo scoring model: who fits a B2B buyer, what engaged behaviour looks like.
DEMO_RULES: tuple[dict[str, Any], ...] = (
    dict(
        kind="fit",
        name="Decision maker",
        field="seniority",
        operator="in",
        value=["c_level", "vp", "director", "owner"],
        points=20,
    ),
    dict(
        kind="fit", name="Manager", field="seniority", operator="equals", value="manager", points=10
    ),
    dict(
        kind="fit",
        name="Company of 200+",
        field="company.employees",
        operator="gte",
        value=200,
        points=15,
    ),
    dict(
        kind="fit",
        name="Listed company",
        field="company.listed",
        operator="equals",
        value="true",
        points=5,
    ),
    dict(kind="fit", name="Free-mail address", field="email", operator="free_mail", points=-15),
    dict(
        kind="behaviour",
        name="Pricing page",
        activity_kind="page_view",
        points=10,
        cap=30,
        window_days=30,
        property_conditions=[{"property": "url", "operator": "contains", "value": "/pricing"}],
    ),
    dict(
        kind="behaviour",
        name="Pricing page 3+ times in 2 weeks",
        activity_kind="page_view",
        points=5,
        min_count=3,
        window_days=14,
        property_conditions=[{"property": "url", "operator": "contains", "value": "/pricing"}],
    ),
    dict(
        kind="behaviour",
        name="Case studies",
        activity_kind="page_view",
        points=5,
        cap=15,
        property_conditions=[{"property": "url", "operator": "contains", "value": "/case-studies"}],
    ),
    dict(
        kind="behaviour",
        name="Careers page",
        activity_kind="page_view",
        points=-10,
        cap=20,
        property_conditions=[{"property": "url", "operator": "contains", "value": "/careers"}],
    ),
    dict(kind="behaviour", name="Whitepaper", activity_kind="content_download", points=8, cap=24),
    dict(
        kind="behaviour",
        name="Webinar attended",
        activity_kind="webinar_attendance",
        points=15,
        cap=30,
    ),
    dict(
        kind="behaviour",
        name="E-mail click",
        activity_kind="email_click",
        points=3,
        cap=15,
        window_days=30,
    ),
    dict(
        kind="exclusion",
        name="Competitor",
        field="email",
        operator="email_domain_in",
        value=["leadpilot.example", "mqlhub.example"],  # demo.world.COMPETITORS
    ),
    dict(kind="exclusion", name="Student", field="title", operator="in", value=["student", "学生"]),
    dict(kind="fast_track", name="Demo request", activity_kind="demo_request", window_days=30),
    dict(kind="fast_track", name="Contact sales", activity_kind="contact_sales", window_days=30),
)


def _demo_scoring(users: dict[str, Any], anchor: dt.datetime) -> int:
    """Publish the demo rule set (signed by marketing and sales) once, then rescore every lead
    as of the anchor, so leads show scores and the hottest open ones reach the reps' queue."""
    live = scoring.ruleset_live()
    if live is None:
        with transaction.atomic():
            draft = scoring.draft_get_or_create(user=users["marketing"])
            draft.name, draft.mql_threshold, draft.min_fit_score = "Demo B2B model", 60, 10
            draft.decay_half_life_days = 30
            draft.save()
            for position, spec in enumerate(DEMO_RULES):
                Rule.objects.create(version=draft, position=position, **spec)
            scoring.ruleset_approve(version=draft, user=users["marketing"])
            scoring.ruleset_approve(version=draft, user=users["salesmgr"])
            scoring.ruleset_publish(version=draft, user=users["marketing"])
        live = draft
    with transaction.atomic():
        run = scoring.rescore_run_start(version=live, reason="demo", as_of=anchor)
    # Dated at the anchor like the rest of the history, so the same seed gives the same data.
    done = scoring.rescore_run_execute(run_id=run.pk, mql_at=anchor, inline_mqls=True)
    return done.new_mqls if done else 0


def demo_seed(
    *,
    leads: int = 400,
    months: int = 6,
    seed: int = 42,
    stdout: SupportsWrite[str] | None = None,
    today: dt.date | None = None,
) -> DemoSummary:
    """Build `leads` leads with `months` months of activities and lifecycle history.

    The history ends at the start of `today` (Tokyo; default: the current date).
    """
    started = time.monotonic()
    today = today or timezone.localdate(timezone=TZ)
    world = World(random.Random(seed), today=today, months=months)
    plans = world.plan(leads)
    with transaction.atomic():
        users = demo_users_ensure()
        _demo_sla(world.start, users["salesmgr"])
        companies = world.save_companies()
        for plan in plans:
            plan.lead.company = companies.get(plan.company_key) if plan.company_key else None
            plan.lead.owner = users[plan.rep] if plan.rep else None
        Lead.objects.bulk_create([p.lead for p in plans], batch_size=500)
        activities = sorted(
            (
                (at, plan.index, n, _activity_row(plan.lead, at, kind, props))
                for plan in plans
                for n, (at, kind, props) in enumerate(plan.activities)
            ),
            key=lambda row: row[:3],
        )
        Activity.objects.bulk_create([row[3] for row in activities], batch_size=1000)
        if stdout:
            stdout.write(f"Created {len(plans)} leads and {len(activities)} activities.\n")
        # Applied in time order across leads, so StageEvent ids follow the calendar too.
        steps = sorted(
            (
                (step.at, plan.index, n, plan, step)
                for plan in plans
                for n, step in enumerate(plan.steps)
            ),
            key=lambda row: row[:3],
        )
        mql_at: dict[int, dt.datetime] = {}
        for _at, _index, _n, plan, step in steps:
            lead_transition(
                lead=plan.lead,
                to_stage=step.to_stage,
                actor=users[step.actor] if step.actor else None,
                origin=StageEvent.Origin.SYSTEM if step.actor is None else StageEvent.Origin.APP,
                at=step.at,
                reason=step.reason,
                note=step.note,
                context=step.context,
            )
            if step.to_stage == Stage.MQL:
                mql_at[plan.index] = step.at
            elif step.to_stage == Stage.SAL and step.actor:
                _demo_first_call(plan, users[step.actor], mql_at[plan.index], step.at)
    # Fresh tables: without statistics the rescore's chunk plans are hopeless.
    analyze()
    anchor = dt.datetime.combine(today, dt.time(), tzinfo=TZ)
    new_mqls = _demo_scoring(users, anchor)
    if stdout:
        stdout.write(f"Scored every lead with the demo rule set: {new_mqls} new MQLs.\n")
    summary = DemoSummary(
        leads=len(plans),
        companies=len(companies),
        activities=len(activities),
        stage_events=StageEvent.objects.filter(lead__in=[p.lead for p in plans]).count(),
        stages=dict(
            Counter(
                Lead.objects.filter(pk__in=[p.lead.pk for p in plans]).values_list(
                    "stage", flat=True
                )
            )
        ),
        seconds=time.monotonic() - started,
    )
    if stdout:
        for line in summary.lines():
            stdout.write(line + "\n")
    return summary


def _activity_row(lead: Lead, at: dt.datetime, kind: str, props: dict[str, Any]) -> Activity:
    if kind in (ActivityKind.WEBINAR_REGISTRATION, ActivityKind.WEBINAR_ATTENDANCE):
        system = "zoom"
    elif props.get("form") == "event-badge-scan":
        system = "import"
    else:
        system = "mautic"
    return Activity(lead=lead, kind=kind, occurred_at=at, properties=props, source_system=system)
