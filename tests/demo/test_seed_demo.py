"""The demo history, seeded once for the module: these tests only read it."""

import datetime as dt
import hashlib
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from demo.seed import DEMO_PASSWORD, DEMO_TEAM, DEMO_USERS, demo_seed
from demo.world import TZ
from leads import roles
from leads.models import (
    ALLOWED_TRANSITIONS,
    Activity,
    Company,
    Lead,
    RejectionReason,
    Stage,
    StageEvent,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 2)
ANCHOR = dt.datetime.combine(TODAY, dt.time(0), tzinfo=TZ)
SIZE = {"leads": 80, "months": 4}


def _summary() -> dict:
    emails = sorted(Lead.objects.values_list("email", flat=True))
    events = StageEvent.objects.order_by("at", "id").values_list(
        "lead__email", "from_stage", "to_stage", "at", "actor__username", "reason"
    )
    return {
        "stages": dict(sorted((s, Lead.objects.filter(stage=s).count()) for s in Stage.values)),
        "events": StageEvent.objects.count(),
        "activities": Activity.objects.count(),
        "companies": Company.objects.count(),
        "emails": hashlib.sha256("\n".join(emails).encode()).hexdigest(),
        "history": hashlib.sha256(repr(list(events)).encode()).hexdigest(),
    }


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One seed for the whole module, rolled back after its last test (each test runs in a
    savepoint inside it). Seeding takes seconds; the tests only read what it made."""
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=fast),
        transaction.atomic(),
    ):
        yield demo_seed(**SIZE, seed=7, today=TODAY)
        transaction.set_rollback(True)


def _wipe():
    Lead.objects.all().delete()
    Company.objects.all().delete()


def test_the_same_seed_builds_the_same_history(seeded):
    # The module's seed (7, on an empty database) is the first build.
    first = _summary()
    _wipe()
    demo_seed(**SIZE, seed=7, today=TODAY)
    assert _summary() == first
    _wipe()
    demo_seed(**SIZE, seed=8, today=TODAY)
    other = _summary()
    assert other["emails"] != first["emails"]
    assert other["history"] != first["history"]


def test_the_summary_matches_the_database(seeded):
    assert seeded.leads == Lead.objects.count() == SIZE["leads"]
    assert seeded.activities == Activity.objects.count()
    assert seeded.stage_events == StageEvent.objects.count()
    assert seeded.stages == {
        s: n for s in Stage.values if (n := Lead.objects.filter(stage=s).count())
    }


def test_every_history_is_chronological_and_follows_the_lifecycle(seeded):
    reps = {u.username for u in DEMO_USERS if u.role == roles.SALES_REP}
    start = ANCHOR - dt.timedelta(days=SIZE["months"] * 31)
    for lead in Lead.objects.prefetch_related("stage_events__actor", "activities"):
        events = sorted(lead.stage_events.all(), key=lambda e: (e.at, e.id))
        stage, previous_at = Stage.LEAD, None
        for event in events:
            assert event.from_stage == stage
            assert event.to_stage in ALLOWED_TRANSITIONS[stage], (lead.email, event)
            assert previous_at is None or event.at >= previous_at
            # Event ids follow the calendar, as they would had they happened live.
            assert [e.id for e in events] == sorted(e.id for e in events)
            stage, previous_at = event.to_stage, event.at
        assert lead.stage == stage
        assert lead.stage_changed_at == previous_at
        for activity in lead.activities.all():
            assert start <= activity.occurred_at < ANCHOR
        assert start <= lead.created_at < ANCHOR
        # History ends before the anchor; the demo rescore dates its new MQLs at it.
        assert all(e.at < ANCHOR or (e.at == ANCHOR and e.to_stage == Stage.MQL) for e in events)
        if events:
            assert lead.owner.username in reps
            assert events[0].at >= min(a.occurred_at for a in lead.activities.all())
        else:
            assert lead.owner is None
        assert lead.total_score == pytest.approx(lead.fit_score + lead.engagement_score)


def test_the_demo_rule_set_is_live_signed_and_scores_the_leads(seeded):
    from scoring.models import RuleSetVersion

    live = RuleSetVersion.objects.get(status="published")
    assert {a.side for a in live.approvals.all()} == {"marketing", "sales"}
    assert Lead.objects.exclude(total_score=0).count() > Lead.objects.count() / 2
    assert Lead.objects.exclude(excluded_reason="").exists()
    fresh = StageEvent.objects.filter(at=ANCHOR, to_stage=Stage.MQL)
    assert fresh.exists() and all(e.ruleset_version == live.number for e in fresh)


def test_the_history_has_rejections_recycles_and_qualified_leads(seeded):
    rejections = StageEvent.objects.filter(to_stage=Stage.REJECTED)
    assert rejections.count() >= 5
    for event in rejections:
        assert event.reason in RejectionReason.values
        assert event.note
    assert rejections.values("reason").distinct().count() >= 3
    assert StageEvent.objects.filter(to_stage=Stage.SQL).exists()
    assert StageEvent.objects.filter(from_stage=Stage.SAL, to_stage=Stage.RECYCLED).exists()
    assert StageEvent.objects.filter(to_stage=Stage.DISQUALIFIED).exists()
    paths = [
        ",".join(lead.stage_events.order_by("at", "id").values_list("to_stage", flat=True))
        for lead in Lead.objects.exclude(stage=Stage.LEAD)
    ]
    assert any("rejected,recycled,mql" in path for path in paths)
    # MQL→MQL again after a recycle from SAL as well.
    assert any("sal,recycled,mql" in path for path in paths)


def test_reps_decide_on_their_own_leads_in_business_hours(seeded):
    decisions = StageEvent.objects.filter(from_stage=Stage.MQL).select_related("lead", "actor")
    assert decisions.exists()
    for event in decisions:
        assert event.actor_id == event.lead.owner_id
        local = event.at.astimezone(TZ)
        assert local.weekday() < 5
        assert dt.time(9) <= local.time() <= dt.time(18)
    mqls = StageEvent.objects.filter(to_stage=Stage.MQL)
    assert all(e.actor_id is None and e.origin == StageEvent.Origin.SYSTEM for e in mqls)


def test_leads_look_like_b2b_leads(seeded):
    leads = list(Lead.objects.select_related("company"))
    assert {lead.source for lead in leads} >= {
        "webinar",
        "organic_search",
        "paid_search",
        "referral",
        "events",
        "content_syndication",
        "partner",
    }
    assert {lead.country for lead in leads} >= {"Japan", "United States"}
    # Japanese and English names, titles and company names side by side.
    assert any("株式会社" in (lead.company.name if lead.company else "") for lead in leads)
    assert any(lead.company and lead.company.name.endswith("Inc.") for lead in leads)
    assert any("部" in lead.title for lead in leads)
    assert any(lead.utm_campaign for lead in leads if lead.source == "paid_search")
    urls = " ".join(
        str(p.get("url", "")) for p in Activity.objects.values_list("properties", flat=True)
    )
    for path in ("/pricing", "/case-studies", "/careers"):
        assert path in urls
    kinds = set(Activity.objects.values_list("kind", flat=True))
    assert {"content_download", "webinar_registration", "webinar_attendance"} <= kinds
    assert {"email_open", "email_click", "newsletter_signup"} <= kinds
    assert {"demo_request", "contact_sales"} <= kinds
    # Skewed: most leads did little, a few did a lot.
    counts = sorted(lead.activities.count() for lead in leads)
    assert counts[len(counts) // 2] <= 12
    assert counts[-1] >= 40


def test_demo_users_have_roles_profiles_and_the_demo_password(seeded):
    for spec in DEMO_USERS:
        user = authenticate(username=spec.username, password=DEMO_PASSWORD)
        assert user is not None, spec.username
        assert list(user.groups.values_list("name", flat=True)) == [spec.role]
        assert (user.profile.team.name if user.profile.team else None) == (
            DEMO_TEAM if spec.in_team else None
        )
        assert user.is_superuser == user.is_staff == (spec.role == roles.ADMIN)


def test_demo_logins_prints_every_username_role_and_the_password(seeded):
    out = StringIO()
    call_command("demo_logins", stdout=out)
    text = out.getvalue()
    assert "http://127.0.0.1:8000" in text
    for spec in DEMO_USERS:
        assert spec.username in text
        assert spec.role in text
    assert DEMO_PASSWORD in text
