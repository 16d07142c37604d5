import pytest
from rest_framework.test import APIClient

from leads.models import Stage
from scoring import services
from scoring.models import Approval, RuleSetVersion

from ..factories import ActivityFactory, LeadFactory
from .helpers import make_version, rule

pytestmark = pytest.mark.django_db


def api(user=None):
    client = APIClient()
    if user:
        client.force_authenticate(user)
    return client


def test_draft_lifecycle_through_the_api(
    alice, carol, celery_eager, django_capture_on_commit_callbacks
):
    make_version(number=1, threshold=50)
    lead = LeadFactory(title="CTO")
    assert api(alice).get("/api/v1/scoring/draft/").status_code == 404
    response = api(alice).post("/api/v1/scoring/draft/")
    assert response.status_code == 201 and response.json()["number"] == 2
    assert api(carol).post("/api/v1/scoring/draft/").status_code == 200

    response = api(alice).patch("/api/v1/scoring/draft/", {"mql_threshold": 30}, format="json")
    assert response.status_code == 200 and response.json()["mql_threshold"] == 30
    response = api(alice).post(
        "/api/v1/scoring/draft/rules/",
        {
            "kind": "fit",
            "name": "CTO",
            "field": "title",
            "operator": "equals",
            "value": "cto",
            "points": 40,
        },
        format="json",
    )
    assert response.status_code == 201
    rule_id = response.json()["id"]
    api(carol).post("/api/v1/scoring/draft/approve/")
    response = api(alice).patch(
        f"/api/v1/scoring/draft/rules/{rule_id}/", {"points": 35}, format="json"
    )
    assert response.status_code == 200 and response.json()["points"] == 35
    assert not Approval.objects.exists()  # the edit withdrew carol's approval

    preview = api(carol).get("/api/v1/scoring/draft/preview/").json()
    assert preview["would_become_mql"] == 1 and len(preview["backtest"]["draft"]) == 12

    api(alice).post("/api/v1/scoring/draft/approve/")
    response = api(alice).post("/api/v1/scoring/draft/publish/")
    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"] == ["Approval still needed from: Sales."]
    api(carol).post("/api/v1/scoring/draft/approve/")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(carol).post("/api/v1/scoring/draft/publish/")
    assert response.status_code == 202
    run = api(carol).get(f"/api/v1/scoring/runs/{response.json()['id']}/").json()
    assert run["status"] == "done" and run["done"] == run["total"] == 1
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL and lead.fit_score == 35


@pytest.mark.parametrize(
    "body,field",
    [
        (
            {"kind": "fit", "name": "x", "field": "nope", "operator": "equals", "value": "a"},
            "field",
        ),
        ({"kind": "fit", "name": "x", "field": "title", "operator": "equals", "value": 3}, "value"),
        (
            {
                "kind": "fit",
                "name": "x",
                "field": "title",
                "operator": "equals",
                "value": "a",
                "colour": 1,
            },
            "colour",
        ),
        (
            {"kind": "behaviour", "name": "x", "activity_kind": "page_view", "points": "many"},
            "points",
        ),
        ({"kind": "wizardry", "name": "x"}, "kind"),
        ({"kind": "behaviour", "name": "x", "activity_kind": "page_view", "cap": -1}, "cap"),
        ({"name": "x"}, "kind"),
        (
            {"kind": "fit", "name": "x", "field": "title", "operator": "equals", "value": "a\x00"},
            "value",
        ),
        (
            {
                "kind": "behaviour",
                "name": "x",
                "activity_kind": "page_view",
                "property_conditions": {"url\x00": "x"},
            },
            "property_conditions.url\x00",
        ),
    ],
)
def test_bad_rules_get_a_400_naming_the_field_and_write_nothing(alice, body, field):
    draft = services.draft_get_or_create(user=alice)
    response = api(alice).post("/api/v1/scoring/draft/rules/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not draft.rules.exists()


def test_bad_settings_and_malformed_json_are_refused(alice):
    services.draft_get_or_create(user=alice)
    client = api(alice)
    response = client.patch("/api/v1/scoring/draft/", {"mql_threshold": "high"}, format="json")
    assert response.status_code == 400 and "mql_threshold" in response.json()["errors"]
    response = client.patch("/api/v1/scoring/draft/", {"status": "published"}, format="json")
    assert response.status_code == 400 and "status" in response.json()["errors"]
    response = client.patch("/api/v1/scoring/draft/", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert RuleSetVersion.objects.get().status == "draft"


def test_published_rules_cannot_be_edited(alice):
    live = make_version(number=1)
    live_rule = rule(live, "behaviour", "Views", activity_kind="page_view", points=5)
    services.draft_get_or_create(user=alice)
    response = api(alice).patch(
        f"/api/v1/scoring/draft/rules/{live_rule.pk}/", {"points": 9}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize("persona,status", [("bob", 403), ("mallory", 403)])
def test_reps_and_outsiders_cannot_touch_the_draft(request, alice, persona, status):
    services.draft_get_or_create(user=alice)
    user = request.getfixturevalue(persona)
    assert (
        api(user).patch("/api/v1/scoring/draft/", {"mql_threshold": 1}, format="json").status_code
        == status
    )
    assert api(user).post("/api/v1/scoring/draft/approve/").status_code == status
    assert api().get("/api/v1/scoring/draft/").status_code == 401


def test_a_lead_score_comes_with_its_explanation(alice, bob, dave):
    version = make_version(number=4, threshold=15)
    rule(version, "fit", "CTO", field="title", operator="equals", value="cto", points=10)
    rule(version, "behaviour", "Views", activity_kind="page_view", points=5)
    lead = LeadFactory(title="CTO", owner=bob)
    activity = ActivityFactory(lead=lead, kind="page_view")
    services.lead_rescore(lead_id=lead.pk)
    body = api(bob).get(f"/api/v1/leads/{lead.pk}/score/").json()
    assert (body["fit"], body["engagement"], body["total"], body["ruleset_version"]) == (
        10,
        5,
        15,
        4,
    )
    behaviour = next(e for e in body["explanation"] if e["kind"] == "behaviour")
    assert behaviour["activity_ids"] == [activity.pk]
    [frozen] = body["mql_explanations"]
    assert frozen["ruleset_version"] == 4 and frozen["total"] == 15
    assert api(dave).get(f"/api/v1/leads/{lead.pk}/score/").status_code == 404


def test_the_schema_says_property_conditions_is_a_list_of_conditions(tmp_path):
    import io

    import yaml
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", file=str(out), stdout=io.StringIO())
    schema = yaml.safe_load(out.read_text())["components"]["schemas"]["RuleInputRequest"]
    conditions = schema["properties"]["property_conditions"]
    assert conditions["type"] == "array" and "nullable" not in conditions
    assert conditions["items"]["required"] == ["property", "operator"]
