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


def _suggest(version, commitment=None):
    with time_machine.travel(NOW, tick=False):
        period = tuning.default_period()
        return tuning.suggestions(version=version, period=period, commitment=commitment)


def test_outcomes_find_the_careers_page_and_the_overweighted_webinar(planted):
    result = _suggest(planted, commitment=400)
    assert not result["too_few"]
    items = {i.get("rule", i["kind"]): i for i in result["items"]}
    print({k: (v.get("current"), v.get("suggested")) for k, v in items.items()})
    assert items["Careers page"]["suggested"] < 0
    assert items["Webinar"]["suggested"] < 20
    assert "Pricing page" not in items or items["Pricing page"]["suggested"] > 0
    for item in result["items"]:
        months = item["backtest"]["months"]
        assert len(months) == 6 and months[-1]["maturing"] and not months[0]["maturing"]
    threshold = items["threshold"]
    assert threshold["with_points"] and threshold["backtest"]["totals"]["mqls_per_month"] >= 400
    t = threshold["backtest"]["totals"]
    assert t["sql_rate"] > t["base_sql_rate"]


def test_pure_noise_suggests_nothing():
    version = planted_model()
    plant_history(leads=3000, noise=True, seed=7)
    result = _suggest(version)
    assert not result["too_few"] and result["items"] == []


def test_too_few_outcomes_suggest_nothing_and_say_so():
    version = planted_model()
    plant_history(leads=60, seed=3)
    result = _suggest(version, commitment=10)
    assert result["too_few"] and result["items"] == [] and result["mature_sqls"] < 30


def test_marketing_moves_two_suggestions_into_the_draft_with_their_evidence(planted, client, alice):
    from scoring.models import Rule, RuleSetVersion

    client.force_login(alice)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/scoring/tuning/", {"commitment": 400})
        items = page.context["suggestions"]["items"]
        keys = [i["key"] for i in items if i["kind"] == "points"][:2]
        assert len(keys) == 2 and 'id="apply-form"' in page.content.decode()
        period = page.context["period"]
        response = client.post(
            "/scoring/tuning/apply/",
            {
                "start": period.start.date().isoformat(),
                "end": "2026-07-10",
                "commitment": 400,
                "key": keys,
            },
        )
    assert response.status_code == 302 and response.url.endswith("/scoring/#draft")
    draft = RuleSetVersion.objects.get(status="draft")
    chosen = [i for i in items if i["key"] in keys]
    for item in chosen:
        rule = draft.rules.get(name=item["rule"])
        assert rule.points == item["suggested"]
        record = Rule.history.filter(id=rule.pk).order_by("-history_id").first()
        assert record.history_change_reason.startswith(f"Tuning suggestion {item['number']}")
    comment = draft.comments.get()
    assert comment.author == alice and "backtest" in comment.text and "fired for" in comment.text
    # The live model did not change; the draft waits for both sign-offs.
    assert planted.rules.get(name=chosen[0]["rule"]).points == chosen[0]["current"]
    assert not draft.approvals.exists()


def test_applying_refuses_unknown_suggestions_and_people_who_cannot_edit(
    planted, client, alice, carol, bob
):
    from scoring.models import RuleSetVersion

    client.force_login(alice)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            "/scoring/tuning/apply/", {"start": "2026-02-01", "end": "2026-07-10", "key": "x"}
        )
        assert response.status_code == 302
        assert not RuleSetVersion.objects.filter(status="draft").exists()
        client.force_login(bob)
        response = client.post(
            "/scoring/tuning/apply/", {"start": "2026-02-01", "end": "2026-07-10", "key": "x"}
        )
        assert response.status_code == 403


def test_suggestions_api(planted, carol):
    with time_machine.travel(NOW, tick=False):
        response = api(carol).get("/api/v1/scoring/tuning/suggestions/", {"commitment": 400})
        assert response.status_code == 200, response.json()
        data = response.json()
        assert [i["number"] for i in data["items"]] == list(range(1, len(data["items"]) + 1))
        assert all("backtest" in i for i in data["items"])
        bad = api(carol).get("/api/v1/scoring/tuning/suggestions/", {"commitment": "0"})
        assert bad.status_code == 400 and "commitment" in bad.json()["errors"]


def test_rejections_find_student_domains_and_careers_page_visits(planted):
    result = _suggest(planted, commitment=400)
    rules = [i for i in result["items"] if i["kind"] == "rule"]
    print([(i["title"], i["explanation"]) for i in rules])
    by_trait = {i["trait"]: i for i in rules}
    assert "E-mail address ends with .ac.jp" in by_trait
    assert "E-mail address ends with .edu" in by_trait
    assert all(i["reason"] == "student" for i in rules)
    assert by_trait["E-mail address ends with .ac.jp"]["rule_data"]["kind"] == "exclusion"
    careers = by_trait["Visited a page whose address contains /careers"]
    assert careers["rule_data"]["kind"] == "behaviour" and careers["rule_data"]["points"] < 0
    t = by_trait["E-mail address ends with .edu"]["backtest"]["totals"]
    assert t["rejected_avoided"] > 0 and t["sqls_lost"] == 0
