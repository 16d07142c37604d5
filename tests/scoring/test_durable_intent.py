"""Durable intent: the work a commit implies (rescore this lead, hand these crossings over, send
this notice) is recorded in the same transaction, and a sweep finishes it when the broker was
away. The broker here raises on every publish."""

import datetime as dt

import pytest
import time_machine
from celery.app.task import Task
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError

from leads.models import Lead, Stage, StageEvent
from leads.services import activity_add
from notifications.models import Notification
from notifications.services import notifications_redeliver
from scoring import services
from scoring.models import RescoreRun
from sla.models import Handoff

from ..factories import ActivityFactory, LeadFactory
from ..leads.test_api import ACTIVITIES, ACTIVITIES_BATCH, activity, integration  # noqa: F401
from .helpers import make_version, rule

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)  # Tuesday 11:00 in Tokyo


@pytest.fixture
def broker_down(monkeypatch):
    """Every publish fails as it does with Redis stopped; `published` counts the attempts."""
    attempts: list[str] = []

    def refuse(self, *args, **kwargs):
        attempts.append(self.name)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", refuse)
    return attempts


@pytest.fixture
def fast_track(db):
    version = make_version(number=1, threshold=100)
    rule(version, "fast_track", "Demo request", activity_kind="demo_request")
    return version


def sweep_later(seconds: int = 31) -> int:
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=seconds), tick=False):
        return services.stale_scores_sweep()


def test_an_activity_committed_while_the_broker_is_down_answers_201_and_is_recorded(
    integration,  # noqa: F811
    broker_down,
    fast_track,
    django_capture_on_commit_callbacks,
):
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = integration.post(
            ACTIVITIES, activity(lead_id=lead.id, kind="demo_request"), format="json"
        )
    assert response.status_code == 201, response.content
    assert broker_down == ["scoring.tasks.rescore_leads_task"]
    lead.refresh_from_db()
    assert lead.score_stale_since is not None and lead.stage == Stage.LEAD


def test_a_batch_committed_while_the_broker_is_down_answers_200_and_is_recorded(
    integration,  # noqa: F811
    broker_down,
    fast_track,
    django_capture_on_commit_callbacks,
):
    leads = [LeadFactory() for _ in range(3)]
    items = [activity(lead_id=lead.id, kind="demo_request") for lead in leads]
    with django_capture_on_commit_callbacks(execute=True):
        response = integration.post(ACTIVITIES_BATCH, {"activities": items}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["counts"]["created"] == 3
    assert Lead.objects.filter(score_stale_since__isnull=False).count() == 3


def test_the_sweep_makes_the_mql_hands_it_over_and_the_notice_goes_out(
    broker_down, fast_track, sla, bob, celery_eager, monkeypatch, django_capture_on_commit_callbacks
):
    lead = LeadFactory(owner=bob)
    with time_machine.travel(START, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            activity_add(lead=lead, kind="demo_request", occurred_at=START)
        # Within the grace the after-commit task may still be on its way: nothing is sent.
        assert services.stale_scores_sweep() == 0
        # The broker is still down a minute later: the sweep keeps the work for later.
        assert sweep_later(60) == 0
    assert not StageEvent.objects.filter(lead=lead, to_stage=Stage.MQL).exists()

    monkeypatch.undo()  # the broker is back
    with time_machine.travel(START + dt.timedelta(seconds=90), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert services.stale_scores_sweep() == 1
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL and lead.score_stale_since is None
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.rep == bob
    notice = Notification.objects.get(lead=lead, user=bob)
    assert notice.delivered_at is not None and len(mail.outbox) == 1
    # Run again: nothing is stale, nothing is sent twice.
    assert sweep_later(120) == 0
    assert StageEvent.objects.filter(lead=lead, to_stage=Stage.MQL).count() == 1


def test_a_notice_the_broker_never_got_is_sent_by_its_sweep(
    broker_down, fast_track, sla, bob, monkeypatch, celery_eager, django_capture_on_commit_callbacks
):
    lead = LeadFactory(owner=bob)
    with time_machine.travel(START, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            # The live task got through, the notice's delivery did not.
            services.lead_rescore(
                lead_id=activity_add(lead=lead, kind="demo_request", occurred_at=START)[0].lead_id
            )
    notice = Notification.objects.get(lead=lead, user=bob)
    assert notice.delivered_at is None and mail.outbox == []
    monkeypatch.undo()
    with time_machine.travel(START + dt.timedelta(minutes=1), tick=False):
        assert notifications_redeliver() == 1
    notice.refresh_from_db()
    assert notice.delivered_at is not None and len(mail.outbox) == 1


def test_a_lead_changed_while_it_was_being_rescored_stays_stale():
    make_version(number=1, threshold=100)
    lead = LeadFactory()
    Lead.objects.filter(pk=lead.pk).update(score_stale_since=timezone.now())
    later = timezone.now() + dt.timedelta(seconds=5)

    real = services._lead_rescore

    def rescore_then_change(**kwargs):
        out = real(**kwargs)
        Lead.objects.filter(pk=lead.pk).update(score_stale_since=later)
        return out

    services._lead_rescore = rescore_then_change
    try:
        services.lead_rescore(lead_id=lead.pk)
    finally:
        services._lead_rescore = real
    lead.refresh_from_db()
    assert lead.score_stale_since == later


def test_crossings_of_a_bulk_pass_are_recorded_and_swept_when_the_broker_drops_them(
    broker_down, celery_eager, monkeypatch, alice, django_capture_on_commit_callbacks
):
    version = make_version(number=1, threshold=50)
    rule(version, "behaviour", "Page view", activity_kind="page_view", points=60)
    leads = [LeadFactory() for _ in range(4)]
    for lead in leads[:3]:
        ActivityFactory(lead=lead, kind="page_view")
    Lead.objects.update(score_stale_since=None)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.rescore_run_start(version=version, reason="test")
    # The broker never got the run: it stays queued for stale_runs_resume.
    assert RescoreRun.objects.get(pk=run.pk).status == RescoreRun.Status.QUEUED
    with django_capture_on_commit_callbacks(execute=True):
        services.rescore_run_execute(run_id=run.pk)
    assert Lead.objects.filter(score_stale_since__isnull=False).count() == 3
    assert not Lead.objects.filter(stage=Stage.MQL).exists()
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_later() == 3
    assert Lead.objects.filter(stage=Stage.MQL).count() == 3
    assert not Lead.objects.filter(score_stale_since__isnull=False).exists()


def test_an_import_queued_while_the_broker_was_down_is_started_by_the_resume_sweep(
    broker_down, monkeypatch
):
    from leads.importing import jobs
    from leads.models import ImportJob

    job = ImportJob.objects.create(original_name="a.csv", mapping={}, file="imports/a.csv")
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=3))
    assert jobs.import_jobs_resume() == []  # the broker is still down
    started: list[int] = []
    monkeypatch.setattr(Task, "apply_async", lambda self, args, *a, **k: started.append(args[0]))
    assert jobs.import_jobs_resume() == [job.pk] == started


def test_a_lead_batch_enqueues_its_rescoring_once_not_per_lead(
    integration,  # noqa: F811
    fast_track,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from leads.services import lead_changes_batched

    published: list[list[int]] = []
    monkeypatch.setattr(
        Task, "apply_async", lambda self, args=None, *a, **k: published.append(list(args[0]))
    )
    items = [{"email": f"p{i}@acme.example"} for i in range(12)] + [{"email": "bad"}]
    with django_capture_on_commit_callbacks(execute=True):
        response = integration.post("/api/v1/leads/batch/", {"leads": items}, format="json")
    assert response.status_code == 200
    assert len(published) == 1 and len(published[0]) == 12
    assert Lead.objects.filter(score_stale_since__isnull=False).count() == 12
    # A change whose transaction rolled back is not followed.
    with lead_changes_batched():
        pass
    assert len(published) == 1
