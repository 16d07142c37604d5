import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from leads.models import Lead, Stage, StageEvent
from scoring import services
from scoring.models import Approval, RescoreRun, Rule, RuleSetVersion

from ..factories import ActivityFactory, LeadFactory
from .helpers import make_version, rule

pytestmark = pytest.mark.django_db


def draft_with_rules(user):
    draft = services.draft_get_or_create(user=user)
    rule(draft, "behaviour", "Pricing", activity_kind="page_view", points=30)
    rule(draft, "fast_track", "Demo", activity_kind="demo_request")
    return draft


def test_a_new_draft_copies_the_live_version_and_there_is_only_one(alice, carol):
    live = make_version(number=1, threshold=42)
    rule(live, "fit", "CTO", field="title", operator="equals", value="cto", points=20)
    draft = services.draft_get_or_create(user=alice)
    assert (draft.number, draft.mql_threshold, draft.based_on) == (2, 42, live)
    assert list(draft.rules.values_list("name", flat=True)) == ["CTO"]
    assert services.draft_get_or_create(user=carol) == draft


@pytest.mark.parametrize(
    "persona,sides",
    [("alice", ["marketing"]), ("carol", ["sales"]), ("bob", None), ("mallory", None)],
)
def test_who_can_approve_and_for_which_side(request, persona, sides, alice):
    draft = draft_with_rules(alice)
    user = request.getfixturevalue(persona)
    if sides is None:
        with pytest.raises(PermissionDenied):
            services.ruleset_approve(version=draft, user=user)
    else:
        services.ruleset_approve(version=draft, user=user)
        assert list(draft.approvals.values_list("side", flat=True)) == sides


def test_publishing_needs_both_sides(alice, carol):
    draft = draft_with_rules(alice)
    services.ruleset_approve(version=draft, user=alice)
    with pytest.raises(ValidationError, match="Sales"):
        services.ruleset_publish(version=draft, user=alice)
    services.ruleset_approve(version=draft, user=carol)
    run = services.ruleset_publish(version=draft, user=alice)
    draft.refresh_from_db()
    assert draft.status == "published" and draft.published_by == alice
    assert run.status == RescoreRun.Status.QUEUED


def test_required_sides_are_configurable(settings, alice):
    settings.SCORING_REQUIRED_APPROVALS = ["marketing"]
    draft = draft_with_rules(alice)
    services.ruleset_approve(version=draft, user=alice)
    services.ruleset_publish(version=draft, user=alice)


def test_an_edit_after_approval_withdraws_it(alice, carol):
    draft = draft_with_rules(alice)
    services.ruleset_approve(version=draft, user=alice)
    services.ruleset_approve(version=draft, user=carol)
    assert services.draft_edited(version=draft, user=carol) == 2
    assert not Approval.objects.exists()
    assert "approvals withdrawn" in draft.comments.last().text


def test_published_versions_are_read_only(alice, carol):
    live = make_version(number=1)
    with pytest.raises(ValidationError):
        services.draft_edited(version=live, user=alice)
    with pytest.raises(ValidationError):
        services.ruleset_approve(version=live, user=carol)


def test_a_sales_rep_cannot_publish(alice, carol, bob):
    draft = draft_with_rules(alice)
    services.ruleset_approve(version=draft, user=alice)
    services.ruleset_approve(version=draft, user=carol)
    with pytest.raises(PermissionDenied):
        services.ruleset_publish(version=draft, user=bob)


def _publish(alice, carol):
    draft = draft_with_rules(alice)
    services.ruleset_approve(version=draft, user=alice)
    services.ruleset_approve(version=draft, user=carol)
    return services.ruleset_publish(version=draft, user=alice)


def test_full_rescore_runs_in_chunks_and_makes_mqls_once(
    alice, carol, celery_eager, django_capture_on_commit_callbacks
):
    hot = [LeadFactory() for _ in range(5)]
    cold = [LeadFactory() for _ in range(7)]
    for lead in hot:
        ActivityFactory(lead=lead, kind="page_view")
        ActivityFactory(lead=lead, kind="page_view")
    past_mql = LeadFactory(stage=Stage.SQL)
    ActivityFactory(lead=past_mql, kind="demo_request")
    run = _publish(alice, carol)
    # Each chunk hands its crossing leads to the workers once it commits.
    with django_capture_on_commit_callbacks(execute=True) as handed:
        done = services.rescore_run_execute(run_id=run.pk, chunk_size=4)
    assert len(handed) == 2  # the chunks holding hot leads; the others had none
    assert (done.status, done.done, done.total, done.new_mqls) == ("done", 13, 13, 5)
    assert set(Lead.objects.filter(stage=Stage.MQL).values_list("pk", flat=True)) == {
        lead.pk for lead in hot
    }
    assert Lead.objects.get(pk=past_mql.pk).stage == Stage.SQL
    assert all(Lead.objects.get(pk=c.pk).total_score == 0 for c in cold)
    # Running it again (a duplicate task) does nothing: the run is already done.
    assert services.rescore_run_execute(run_id=run.pk) is None
    assert StageEvent.objects.filter(to_stage=Stage.MQL).count() == 5


def test_a_run_whose_worker_died_resumes_after_the_last_committed_chunk(
    alice, carol, celery_eager, django_capture_on_commit_callbacks
):
    leads = [LeadFactory() for _ in range(10)]
    for lead in leads:
        ActivityFactory(lead=lead, kind="demo_request")
    run = _publish(alice, carol)
    # A worker scored the first chunk, then died: the run is "running" with an old heartbeat.
    services._claim_run(run.pk)
    first_hi = leads[3].pk
    with pytest.MonkeyPatch.context():
        ruleset = services.engine.compile_ruleset(run.version)
        services.rescore_chunk(
            ruleset=ruleset, lo=leads[0].pk, hi=first_hi, now=run.as_of, inline_mqls=True
        )
    RescoreRun.objects.filter(pk=run.pk).update(
        cursor=first_hi, done=4, heartbeat_at=run.as_of - services.STALE_AFTER * 2
    )
    # Another worker takes it over and finishes; the first chunk's MQLs are not repeated.
    with django_capture_on_commit_callbacks(execute=True):
        done = services.rescore_run_execute(run_id=run.pk, chunk_size=3)
    assert done.status == "done" and done.done == 10
    assert StageEvent.objects.filter(to_stage=Stage.MQL).count() == 10


def test_a_live_run_is_not_taken_over(alice, carol):
    run = _publish(alice, carol)
    assert services._claim_run(run.pk)
    assert services.rescore_run_execute(run_id=run.pk) is None


def test_stale_runs_are_requeued(alice, carol, django_capture_on_commit_callbacks):
    run = _publish(alice, carol)
    RescoreRun.objects.filter(pk=run.pk).update(
        status="running", heartbeat_at=run.as_of - services.STALE_AFTER * 2
    )
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        assert services.stale_runs_resume() == [run.pk]
    finally:
        app.conf.task_always_eager = False
    assert RescoreRun.objects.get(pk=run.pk).status == "done"


def test_a_new_activity_enqueues_a_rescore_after_commit(django_capture_on_commit_callbacks):
    from leads.services import activity_add

    lead = LeadFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        activity_add(lead=lead, kind="page_view", occurred_at=lead.created_at)
    assert len(callbacks) == 1


def test_the_nightly_job_rescores_with_the_live_version(alice, carol, celery_eager):
    assert services.nightly_rescore() is None
    make_version(number=1)
    run = services.nightly_rescore()
    assert run.reason == "nightly"


@pytest.mark.django_db(transaction=True)
def test_two_workers_rescoring_one_lead_at_once_make_one_mql():
    if connection.vendor != "postgresql":
        pytest.skip("row locks between real concurrent transactions need PostgreSQL")
    version = make_version(number=1, threshold=10)
    rule(version, "behaviour", "Pricing", activity_kind="page_view", points=50)
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind="page_view")
    barrier = threading.Barrier(4)
    errors = []

    def worker():
        try:
            barrier.wait()
            services.lead_rescore(lead_id=lead.pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert StageEvent.objects.filter(lead=lead, to_stage=Stage.MQL).count() == 1
    Rule.objects.all().delete()
    RuleSetVersion.objects.all().delete()
