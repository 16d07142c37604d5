import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from bench import reports as reports_bench
from leads.models import Lead, StageEvent
from reports import selectors
from reports.models import MqlFact
from sla.models import Handoff

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime(2026, 11, 1, 3, tzinfo=dt.UTC)


def test_the_bench_seeds_builds_the_facts_times_every_chart_and_cleans_up(settings):
    settings.REPORTS_TIME_ZONE = "Asia/Tokyo"
    out = io.StringIO()
    result = reports_bench.bench_reports(leads=60, runs=1, now=NOW, out=out)
    assert result.leads == 60 and result.stage_events > 60
    assert result.facts == result.mqls == result.handoffs > 0
    assert [t.metric for t in result.timings] == list(selectors.METRICS)
    assert all(t.default_ms and t.full_ms for t in result.timings)
    text = out.getvalue()
    assert "score-calibration" in text and "every chart within 300 ms" in text
    assert not Lead.objects.exists() and not StageEvent.objects.exists()
    assert not MqlFact.objects.exists() and not Handoff.objects.exists()


def test_the_bench_refuses_a_database_with_leads(db):
    LeadFactory()
    with pytest.raises(CommandError, match="already holds leads"):
        call_command("bench_reports", leads=10, stdout=io.StringIO())
