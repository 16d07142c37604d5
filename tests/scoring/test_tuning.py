import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from scoring import tuning

from .tuning_history import NOW, plant_history, planted_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted():
    version = planted_model()
    plant_history(leads=3000)
    return version


def _by_name(rows):
    return {r["name"]: r for r in rows}


def test_wilson_interval_matches_the_textbook_values():
    lo, hi = tuning.wilson(10, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.0552, 0.1744)
    assert tuning.wilson(0, 0) is None
    lo, hi = tuning.wilson(0, 20)
    assert lo == 0.0 and 0.16 < hi < 0.17


def test_default_period_is_the_last_six_calendar_months():
    with time_machine.travel(NOW, tick=False):
        period = tuning.default_period()
    assert period.start == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    assert period.end == NOW
    assert tuning.months_labels(period) == [
        "2026-02",
        "2026-03",
        "2026-04",
        "2026-05",
        "2026-06",
        "2026-07",
    ]


def test_evidence_counts_fire_rates_sql_rates_and_flags(planted):
    period = tuning.period_from_dates(dt.date(2026, 1, 1), dt.date(2026, 7, 10))
    ev = tuning.evidence(version=planted, period=period)
    assert ev["mqls"] == 3000
    rules = _by_name(ev["rules"])
    assert rules["Fax number"]["fired"] == 0
    assert rules["Fax number"]["flags"] == ["never_fires"]
    # Careers-page visitors never convert, yet the rule gives points.
    careers = rules["Careers page"]
    assert careers["fired_sqls"] == 0 and careers["fired"] > 200
    assert "sign_disagrees" in careers["flags"]
    assert careers["rejected_share"] > 0.4
    pricing = rules["Pricing page"]
    assert pricing["flags"] == []
    assert pricing["fired_sql_rate"] > pricing["not_fired_sql_rate"]
    lo, hi = pricing["fired_ci"]
    assert lo < pricing["fired_sql_rate"] < hi
    assert pricing["fired"] + pricing["not_fired"] == 3000
    assert pricing["fired_sqls"] + pricing["not_fired_sqls"] == ev["sqls"]


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_evidence_page_shows_each_rule_and_its_flags(planted, client, alice):
    client.force_login(alice)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/scoring/tuning/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Careers page" in body and "points disagree with the evidence in sign" in body
    assert response.context["evidence"]["mqls"] == 3000
    # The overview links to it.
    assert "/scoring/tuning/" in client.get("/scoring/").content.decode()


def test_the_evidence_page_refuses_a_bad_period_naming_the_field(planted, client, alice):
    client.force_login(alice)
    response = client.get("/scoring/tuning/", {"start": "2026-05-01", "end": "2026-04-01"})
    assert response.status_code == 400
    assert "The end must not be before the start." in response.content.decode()
    response = client.get("/scoring/tuning/", {"start": "yesterday", "end": "2026-04-01"})
    assert response.status_code == 400 and "Enter a valid date." in response.content.decode()


def test_people_without_the_scoring_permission_cannot_see_the_evidence(planted, client, mallory):
    client.force_login(mallory)
    assert client.get("/scoring/tuning/").status_code == 403
    assert api(mallory).get("/api/v1/scoring/tuning/evidence/").status_code == 403


def test_evidence_api_answers_per_rule_and_refuses_bad_input(planted, alice, carol):
    response = api(carol).get(
        "/api/v1/scoring/tuning/evidence/", {"start": "2026-01-01", "end": "2026-07-10"}
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["mqls"] == 3000 and data["version"] == 1
    careers = next(r for r in data["rules"] if r["name"] == "Careers page")
    assert "sign_disagrees" in careers["flags"] and len(careers["fired_ci"]) == 2
    bad = api(alice).get("/api/v1/scoring/tuning/evidence/", {"start": "2026-01-01"})
    assert bad.status_code == 400 and "end" in bad.json()["errors"]
    bad = api(alice).get("/api/v1/scoring/tuning/evidence/", {"start": "2020-01-01", "end": "x"})
    assert bad.status_code == 400 and "end" in bad.json()["errors"]
    bad = api(alice).get("/api/v1/scoring/tuning/evidence/", {"months": "3"})
    assert bad.status_code == 400 and "months" in bad.json()["errors"]
    bad = api(alice).get(
        "/api/v1/scoring/tuning/evidence/", {"start": "2020-01-01", "end": "2026-01-01"}
    )
    assert bad.status_code == 400 and "start" in bad.json()["errors"]


def test_without_a_live_version_the_page_says_so_and_the_api_answers_404(client, alice):
    client.force_login(alice)
    response = client.get("/scoring/tuning/")
    assert response.status_code == 200 and "Nothing is live yet" in response.content.decode()
    assert api(alice).get("/api/v1/scoring/tuning/evidence/").status_code == 404


def test_the_evidence_is_kept_until_the_history_moves(planted, django_assert_max_num_queries):
    from leads.models import Lead, Stage, StageEvent
    from scoring.models import EvidenceSnapshot
    from scoring.tasks import evidence_snapshot_task

    with time_machine.travel(NOW, tick=False):
        assert evidence_snapshot_task() is True
        assert evidence_snapshot_task() is False  # nothing moved
        period = tuning.default_period()
        with django_assert_max_num_queries(8):
            first = tuning.evidence(version=planted, period=period)
        assert first["mqls"] == 3000
        lead = Lead.objects.filter(stage=Stage.SAL).first()
        StageEvent.objects.create(lead=lead, from_stage="sal", to_stage="sql", at=NOW)
        after = tuning.evidence(version=planted, period=period)
    assert after["sqls"] == first["sqls"] + 1
    assert EvidenceSnapshot.objects.count() == 1
