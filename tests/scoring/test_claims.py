"""Claims that outlive a slow step: a rescore chunk renews its claim while it runs and commits
once whatever else runs; bulk loads refresh the planner's statistics."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.tasks import heartbeat
from leads.models import Lead
from scoring import services
from scoring.models import RescoreRun

from ..factories import ActivityFactory, LeadFactory
from ..leads.test_import import HEADER, run
from .helpers import make_version, rule


def test_heartbeat_beats_while_the_block_runs_and_stops_after():
    beats: list[int] = []
    twice = threading.Event()

    def beat():
        beats.append(1)
        if len(beats) >= 2:
            twice.set()

    with heartbeat(beat, every=0.01):
        assert twice.wait(timeout=10), "no heartbeat while the block ran"
    stopped_at = len(beats)
    assert not threading.Event().wait(0.05)  # a moment for a stray beat to show
    assert len(beats) == stopped_at


@pytest.mark.django_db
def test_a_chunk_whose_run_another_worker_moved_rolls_back_and_stops(monkeypatch):
    version = make_version(number=1, threshold=500)
    rule(version, "behaviour", "Page view", activity_kind="page_view", points=60)
    leads = [LeadFactory() for _ in range(3)]
    for lead in leads:
        ActivityFactory(lead=lead, kind="page_view")
    run_row = services.rescore_run_start(version=version, reason="test")
    real_chunk = services.rescore_chunk

    def chunk_then_taken_over(**kwargs):
        out = real_chunk(**kwargs)
        # A second worker (its claim thought this one dead) committed this chunk meanwhile.
        RescoreRun.objects.filter(pk=run_row.pk).update(cursor=kwargs["hi"])
        return out

    monkeypatch.setattr(services, "rescore_chunk", chunk_then_taken_over)
    assert services.rescore_run_execute(run_id=run_row.pk) is None
    run_row.refresh_from_db()
    # Rolled back whole: no score, no cursor from this worker, and not marked failed.
    assert run_row.status == RescoreRun.Status.RUNNING and run_row.cursor == 0
    assert not Lead.objects.filter(total_score__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_a_slow_chunk_keeps_its_claim_fresh_so_no_sweep_takes_it(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the heartbeat writes from a second connection")
    version = make_version(number=1, threshold=500)
    LeadFactory()
    run_row = services.rescore_run_start(version=version, reason="test")
    monkeypatch.setattr(services, "HEARTBEAT_EVERY", 0.05)
    real_chunk = services.rescore_chunk
    seen: dict[str, object] = {}

    def slow_chunk(**kwargs):
        started = timezone.now()
        # Wait (bounded) until the heartbeat, from its own connection, renews the claim.
        renewed = threading.Event()
        for _ in range(200):
            beat = RescoreRun.objects.get(pk=run_row.pk).heartbeat_at
            if beat and beat > started:
                renewed.set()
                break
            renewed.wait(0.05)
        seen["renewed"] = renewed.is_set()
        # A second worker's claim fails: the run is alive.
        seen["claimed"] = services._claim_run(run_row.pk)
        seen["resumed"] = services.stale_runs_resume()
        return real_chunk(**kwargs)

    monkeypatch.setattr(services, "rescore_chunk", slow_chunk)
    done = services.rescore_run_execute(run_id=run_row.pk)
    assert seen == {"renewed": True, "claimed": False, "resumed": []}
    assert done is not None and done.status == RescoreRun.Status.DONE


@pytest.mark.django_db
def test_a_large_import_refreshes_the_planner_statistics(tmp_path, monkeypatch):
    from leads.importing import writing

    monkeypatch.setattr(writing, "ANALYZE_AFTER_ROWS", 2)
    with CaptureQueriesContext(connection) as queries:
        run(tmp_path, HEADER + "a@x.jp,A,JP,1,yes\r\nb@x.jp,B,JP,1,yes\r\n")
    assert any(q["sql"].startswith("ANALYZE") for q in queries.captured_queries)


@pytest.mark.django_db
def test_a_small_import_does_not(tmp_path):
    with CaptureQueriesContext(connection) as queries:
        run(tmp_path, HEADER + "a@x.jp,A,JP,1,yes\r\n")
    assert not any(q["sql"].startswith("ANALYZE") for q in queries.captured_queries)


@pytest.mark.django_db
def test_seeding_the_demo_refreshes_the_planner_statistics():
    import datetime as dt

    from demo.seed import demo_seed

    with CaptureQueriesContext(connection) as queries:
        demo_seed(leads=20, months=1, seed=3, today=dt.date(2026, 11, 2))
    analyzed = [i for i, q in enumerate(queries.captured_queries) if q["sql"].startswith("ANALYZE")]
    rescored = [
        i for i, q in enumerate(queries.captured_queries) if "scoring_rescorerun" in q["sql"]
    ]
    # Before the rescore, so its chunks are planned with the real sizes.
    assert analyzed and analyzed[0] < rescored[0]
