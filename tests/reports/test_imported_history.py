"""Imported history that skips steps: MQL → SQL with no SAL counts in its cohort's
conversion and stays out of acceptance rate and latency, shown as "not recorded".

The file (UTC; reports in UTC), imported on 2024-06-01:
- a: MQL Jan 10, SQL Feb 5, no SAL          -> January; reached SQL; acceptance not recorded
- b: MQL Jan 15 09:00, SAL 12:00, SQL Jan 20 -> January; accepted (3 h clock); reached SQL
- c: MQL Jan 20                              -> January; undecided
- d: MQL Feb 3, SQL Feb 1 (won before MQL)   -> February; SQL left out (line 5); undecided
January: 3 MQLs, 1 accepted, 0 rejected, 1 not recorded, 1 undecided, acceptance 1/1,
2 reached SQL (2/3). February: 1 MQL, undecided. Funnel: 4 MQLs, SAL 1 (+1 not
recorded), SQL 2 = 2 of the 2 that passed SAL.
"""

import datetime as dt
import io
import json

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from leads.models import StageEvent
from reports import selectors
from reports.selectors import Filters

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
JAN_FEB = Filters(start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 29))
MAPPING = {
    "columns": [
        {"column": "Email", "to": "email"},
        {"column": "MQL date", "to": "mql_at"},
        {"column": "SAL date", "to": "sal_at"},
        {"column": "Won date", "to": "sql_at"},
    ]
}
CSV = (
    "Email,MQL date,SAL date,Won date\n"
    "a@example.com,2024-01-10T09:00:00Z,,2024-02-05T09:00:00Z\n"
    "b@example.com,2024-01-15T09:00:00Z,2024-01-15T12:00:00Z,2024-01-20T09:00:00Z\n"
    "c@example.com,2024-01-20T09:00:00Z,,\n"
    "d@example.com,2024-02-03T09:00:00Z,,2024-02-01T09:00:00Z\n"
)


@pytest.fixture
def imported(settings, tmp_path):
    settings.REPORTS_TIME_ZONE = "UTC"
    (tmp_path / "h.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "m.json").write_text(json.dumps(MAPPING), encoding="utf-8")
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command(
            "import_leads",
            str(tmp_path / "h.csv"),
            mapping=str(tmp_path / "m.json"),
            stdout=out,
            stderr=io.StringIO(),
        )
    return out.getvalue()


def test_the_import_keeps_every_lead_and_reports_the_win_before_its_mql(imported):
    assert "Created: 4, updated: 0, rejected: 0" in imported
    assert (
        'Line 5, column "Won date": sql_at: The change cannot be dated before the lead\'s '
        "previous stage change (2024-02-03T09:00:00+00:00)." in imported
    )
    skipped = StageEvent.objects.filter(skipped=True)
    assert list(skipped.values_list("lead__email", "from_stage", "to_stage")) == [
        ("a@example.com", "mql", "sql")
    ]


def test_an_mql_that_reached_sql_without_a_recorded_sal_counts_in_conversion_only(imported):
    with time_machine.travel(NOW, tick=False):
        conversion = {m["month"]: m for m in selectors.conversion_by_cohort(JAN_FEB)["months"]}
        latency = {m["month"]: m for m in selectors.latency_by_month(JAN_FEB)["months"]}
        funnel = {s["stage"]: s for s in selectors.funnel(JAN_FEB)["steps"]}
        targets = {m["month"]: m for m in selectors.marketing_targets(JAN_FEB)["months"]}
    jan = conversion["2024-01"]
    assert (jan["mqls"], jan["accepted"], jan["rejected"]) == (3, 1, 0)
    assert (jan["acceptance_not_recorded"], jan["undecided"]) == (1, 1)
    assert jan["acceptance_rate"] == 1.0
    assert (jan["reached_sql"], jan["sql_rate"]) == (2, pytest.approx(2 / 3))
    feb = conversion["2024-02"]
    assert (feb["mqls"], feb["acceptance_not_recorded"], feb["undecided"]) == (1, 0, 1)
    assert (feb["reached_sql"], feb["acceptance_rate"]) == (0, None)
    # Latency: b's 3 hours only; a's acceptance is a count, never zero hours.
    assert (latency["2024-01"]["n"], latency["2024-01"]["not_recorded"]) == (1, 1)
    assert latency["2024-01"]["median_clock_h"] == pytest.approx(3)
    assert funnel["mql"]["count"] == 4
    assert (funnel["sal"]["count"], funnel["sal"]["not_recorded"]) == (1, 1)
    assert (funnel["sql"]["count"], funnel["sql"]["rate_from_previous"]) == (2, 1.0)
    assert targets["2024-01"]["acceptance_rate"] == 1.0


def test_page_api_and_csv_show_the_not_recorded_count(imported, alice):
    client = Client()
    client.force_login(alice)
    api = APIClient()
    api.force_authenticate(alice)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/dashboard/", {"from": "2024-01-01", "to": "2024-02-29"})
        body = api.get("/api/v1/metrics/conversion/", {"from": "2024-01-01", "to": "2024-02-29"})
        review = client.get("/review/2024-01/")
        review_csv = client.get("/review/2024-01/export.csv")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<td class="num" data-not-recorded="2024-01">1</td>' in html
    assert "1 acceptance not recorded" in html
    assert body.status_code == 200
    assert body.json()["data"]["months"][0]["acceptance_not_recorded"] == 1
    assert "Reached SQL with no acceptance recorded (imported history)" in review.content.decode()
    assert review_csv.status_code == 200
    assert "Reached SQL with no acceptance recorded (imported history)" in (
        review_csv.content.decode()
    )
