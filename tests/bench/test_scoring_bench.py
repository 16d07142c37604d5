"""The bench at tiny N on the test database (the command itself would prepare a database)."""

import io
import random

import pytest

from bench import scoring as scoring_bench
from bench.common import BenchError
from leads.models import Activity, Lead
from scoring.models import RuleSetVersion

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_the_bench_seeds_rescores_prints_the_figures_and_cleans_up():
    out = io.StringIO()
    result = scoring_bench.bench_run(
        leads=200, activities_per_lead=10, rules=30, samples=10, seed=7, out=out
    )
    text = out.getvalue()
    for label in (
        "First scoring (all leads new)",
        "Publish a rule edit",
        "Rescore, nothing changed",
        "Nightly rescore (+1 day)",
        "Single lead median / p95",
        "Memory (peak RSS growth)",
        "leads/s",
        "Targets:",
    ):
        assert label in text
    first, edit, unchanged, _nightly = result.rescores
    assert result.leads == 200 and result.activities > 0 and result.rules == 30
    assert first.changed > 100 and first.leads == 200
    assert unchanged.changed == 0 and unchanged.new_mqls == 0
    assert unchanged.py_peak_mb is not None and edit.py_peak_mb is None
    assert len(result.single_ms) == 10 and result.single_p95_ms > 0
    assert not Lead.objects.exists() and not Activity.objects.exists()
    assert not RuleSetVersion.objects.exists()


def test_the_bench_refuses_a_database_that_holds_leads():
    LeadFactory()
    with pytest.raises(BenchError, match="empty"):
        scoring_bench.bench_run(
            leads=10, activities_per_lead=1, rules=5, samples=1, seed=1, out=io.StringIO()
        )
    assert Lead.objects.count() == 1


@pytest.mark.parametrize("mean", [2, 10, 25])
def test_activity_counts_are_skewed_around_the_requested_mean(mean):
    shape = scoring_bench.count_shape(mean)
    rng = random.Random(1)
    counts = [scoring_bench._count_py(shape, rng.random(), rng.random()) for _ in range(100_000)]
    assert abs(sum(counts) / len(counts) - mean) < mean * 0.1
    if mean >= 10:
        assert sum(c <= 5 for c in counts) / len(counts) > 0.75
        assert max(counts) >= 300
