"""With a real Celery worker process (PostgreSQL + Redis in .ci/run)."""

import datetime as dt

import pytest
from django.utils import timezone

from leads.models import Lead, Stage, StageEvent
from leads.services import activity_add
from scoring import services

from ..conftest import wait_until
from ..factories import ActivityFactory, LeadFactory
from .helpers import make_version, rule

pytestmark = pytest.mark.worker


def test_a_fast_track_activity_becomes_an_mql_within_seconds(celery_worker_process):
    version = make_version(number=1, threshold=100)
    rule(version, "fast_track", "Demo request", activity_kind="demo_request")
    lead = LeadFactory()
    activity_add(lead=lead, kind="demo_request", occurred_at=timezone.now())
    event = wait_until(
        lambda: StageEvent.objects.filter(lead=lead, to_stage=Stage.MQL).first(), timeout=20
    )
    assert event is not None, "the worker did not make the lead an MQL"
    assert event.ruleset_version == 1 and event.reason == "fast_track"
    assert (event.created_at - timezone.now()) < dt.timedelta(seconds=20)


def test_publishing_rescores_every_lead_on_the_worker(celery_worker_process, alice, carol):
    leads = [LeadFactory() for _ in range(30)]
    for lead in leads[:10]:
        ActivityFactory(lead=lead, kind="page_view")
    draft = services.draft_get_or_create(user=alice)
    rule(draft, "behaviour", "Page view", activity_kind="page_view", points=60)
    services.ruleset_approve(version=draft, user=alice)
    services.ruleset_approve(version=draft, user=carol)
    run = services.ruleset_publish(version=draft, user=alice)
    finished = wait_until(lambda: run.__class__.objects.filter(pk=run.pk, status="done").first())
    assert finished is not None and finished.done == 30
    # The crossing leads were handed to the workers after each chunk; they become MQLs.
    assert wait_until(lambda: Lead.objects.filter(stage=Stage.MQL).count() == 10)
