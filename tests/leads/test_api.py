"""The REST API under /api/v1/: input checking, permissions, visibility, idempotency."""

import datetime as dt
import io
import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leads import api, roles, services
from leads.models import Activity, Company, Lead, Stage, StageEvent

from ..factories import ActivityFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
LEADS_BATCH = "/api/v1/leads/batch/"
ACTIVITIES = "/api/v1/activities/"
ACTIVITIES_BATCH = "/api/v1/activities/batch/"


def detail_url(lead_id: int) -> str:
    return f"/api/v1/leads/{lead_id}/"


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def make_token(name: str = "mautic") -> str:
    out = io.StringIO()
    call_command("create_api_token", name, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def integration(db) -> APIClient:
    """A client signed in with a token from create_api_token (the Integration role)."""
    return token_client(make_token("integration"))


@pytest.fixture
def changed(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Lead ids passed to the lead-changed followers, one list per call."""
    calls: list[list[int]] = []
    monkeypatch.setattr(services, "_followers", lambda change: (calls.append,))
    return calls


def activity(**extra) -> dict:
    return {
        "kind": "page_view",
        "occurred_at": "2024-05-01T10:00:00Z",
        "properties": {"url": "https://example.com/pricing"},
        **extra,
    }


def assert_errors(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"errors"}
    for field in fields:
        assert field in body["errors"], body
        assert all(isinstance(reason, str) and reason for reason in body["errors"][field])
    return body["errors"]


# Upserting one lead ----------------------------------------------------------------------


def test_a_marketing_manager_creates_a_lead_and_gets_it_back(alice, bob):
    response = client_for(alice).post(
        LEADS,
        {
            "email": "Ann@Acme.example",
            "first_name": "Ann",
            "title": "CTO",
            "seniority": "c_level",
            "company_name": "Acme",
            "company_domain": "acme.example",
            "employees": 250,
            "annual_revenue": "1200000.50",
            "listed": False,
            "custom": {"plan": "pro"},
            "owner_email": bob.email,
            "utm_source": "newsletter",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    lead = Lead.objects.get()
    assert body["id"] == lead.id
    assert body["email"] == "Ann@acme.example"  # the domain is normalised, the local part kept
    assert body["owner"] == bob.email
    assert body["stage"] == Stage.LEAD
    assert body["utm_source"] == "newsletter"
    assert body["custom"] == {"plan": "pro"}
    assert body["company"] == {
        "name": "Acme",
        "domain": "acme.example",
        "industry": "",
        "employees": 250,
        "annual_revenue": "1200000.50",
        "listed": False,
    }
    assert {"fit_score", "engagement_score", "total_score", "created_at", "updated_at"} <= set(body)


def test_upserting_the_same_email_in_another_case_updates_the_lead(alice):
    client = client_for(alice)
    first = client.post(LEADS, {"email": "ann@acme.example", "title": "CTO"}, format="json")
    second = client.post(LEADS, {"email": "ANN@ACME.EXAMPLE", "title": "CEO"}, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert Lead.objects.get().title == "CEO"


def test_blank_or_missing_values_do_not_overwrite_known_ones(alice):
    LeadFactory(email="ann@acme.example", first_name="Ann", title="CTO", custom={"a": 1})
    response = client_for(alice).post(
        LEADS,
        {"email": "ann@acme.example", "first_name": "", "custom": {"b": 2}, "listed": None},
        format="json",
    )
    assert response.status_code == 200
    lead = Lead.objects.get()
    assert (lead.first_name, lead.title) == ("Ann", "CTO")
    assert lead.custom == {"a": 1, "b": 2}


def test_unknown_fields_are_refused_by_name_and_nothing_is_written(alice):
    response = client_for(alice).post(
        LEADS, {"email": "ann@acme.example", "frist_name": "Ann", "age": 3}, format="json"
    )
    errors = assert_errors(response, 400, "frist_name", "age")
    assert "email" not in errors
    assert Lead.objects.count() == 0


@pytest.mark.parametrize(
    "field,value",
    [
        ("email", "not an e-mail"),
        ("email", 42),
        ("employees", "many"),
        ("employees", -1),
        ("listed", "perhaps"),
        ("annual_revenue", "a lot"),
        ("custom", ["a", "list"]),
        ("custom", {"nested": {"no": 1}}),
        ("seniority", "emperor"),
        ("first_name", "x" * 101),
        ("owner_email", "nobody@nowhere.example"),
    ],
)
def test_a_wrong_value_is_a_400_naming_its_field(alice, field, value):
    data = {"email": "ann@acme.example", field: value}
    response = client_for(alice).post(LEADS, data, format="json")
    errors = assert_errors(response, 400)
    # The field itself, or the key inside it (custom.nested).
    assert any(name == field or name.startswith(f"{field}.") for name in errors), errors
    assert Lead.objects.count() == 0
    assert Company.objects.count() == 0


def test_a_lead_without_email_is_refused(alice):
    assert_errors(client_for(alice).post(LEADS, {"title": "CTO"}, format="json"), 400, "email")


@pytest.mark.parametrize("url", [LEADS, LEADS_BATCH, ACTIVITIES, ACTIVITIES_BATCH])
def test_malformed_json_is_a_400_in_the_error_format(integration, url):
    response = integration.post(url, data='{"email": ', content_type="application/json")
    assert_errors(response, 400, "non_field_errors")


@pytest.mark.parametrize("url", [LEADS, LEADS_BATCH, ACTIVITIES, ACTIVITIES_BATCH])
@pytest.mark.parametrize("body", ["[]", '[{"email": "a@b.example"}]', '"text"', "1", "null"])
def test_a_body_that_is_not_an_object_names_non_field_errors(integration, url, body):
    response = integration.post(url, data=body, content_type="application/json")
    assert_errors(response, 400, "non_field_errors")
    assert Lead.objects.count() == 0


@pytest.mark.parametrize("url", [LEADS, LEADS_BATCH, ACTIVITIES, ACTIVITIES_BATCH])
def test_json_nested_too_deep_is_a_400_not_a_crash(integration, url):
    body = "[" * 100_000 + "]" * 100_000
    response = integration.post(url, data=body, content_type="application/json")
    assert_errors(response, 400, "non_field_errors")


@pytest.mark.parametrize("url", [LEADS, LEADS_BATCH, ACTIVITIES, ACTIVITIES_BATCH])
@pytest.mark.parametrize(
    "content_type,body",
    [
        ("text/plain", "email=a@b.example"),
        ("application/x-www-form-urlencoded", "email=a%40b.example"),
        ("application/xml", "<lead/>"),
    ],
)
def test_a_body_that_is_not_json_is_a_415(integration, url, content_type, body):
    response = integration.post(url, data=body, content_type=content_type)
    assert_errors(response, 415, "non_field_errors")
    assert Lead.objects.count() == 0


def test_json_with_nan_is_refused(alice):
    response = client_for(alice).post(
        LEADS, data='{"email": "a@b.example", "employees": NaN}', content_type="application/json"
    )
    assert_errors(response, 400, "non_field_errors")


def test_a_body_over_the_upload_limit_is_a_413_in_the_error_format(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = json.dumps({"email": "a@b.example", "title": "x" * 200})
    response = client_for(alice).post(LEADS, data=body, content_type="application/json")
    assert_errors(response, 413, "non_field_errors")
    assert Lead.objects.count() == 0


# Permissions and authentication -----------------------------------------------------------


@pytest.mark.parametrize("persona", ["bob", "carol", "mallory"])
@pytest.mark.parametrize("url", [LEADS, LEADS_BATCH])
def test_only_roles_that_may_change_leads_can_upsert_them(request, persona, url):
    user = request.getfixturevalue(persona)
    body = {"email": "a@b.example"} if url == LEADS else {"leads": [{"email": "a@b.example"}]}
    response = client_for(user).post(url, body, format="json")
    assert_errors(response, 403, "non_field_errors")
    assert Lead.objects.count() == 0


def test_a_rep_cannot_upsert_leads(bob):
    response = client_for(bob).post(LEADS, {"email": "a@b.example"}, format="json")
    assert response.status_code == 403
    assert Lead.objects.count() == 0


@pytest.mark.parametrize("persona", ["alice", "bob", "carol", "mallory"])
@pytest.mark.parametrize("url", [ACTIVITIES, ACTIVITIES_BATCH])
def test_people_cannot_post_activities_only_integrations_can(request, persona, url):
    lead = LeadFactory(owner=request.getfixturevalue("bob"))
    user = request.getfixturevalue(persona)
    item = activity(lead_id=lead.id)
    body = item if url == ACTIVITIES else {"activities": [item]}
    response = client_for(user).post(url, body, format="json")
    assert_errors(response, 403, "non_field_errors")
    assert Activity.objects.count() == 0


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", LEADS),
        ("post", LEADS),
        ("post", LEADS_BATCH),
        ("get", detail_url(1)),
        ("post", ACTIVITIES),
        ("post", ACTIVITIES_BATCH),
    ],
)
def test_anonymous_requests_get_a_401_in_the_error_format(method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert_errors(response, 401, "non_field_errors")
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_a_401(db):
    response = token_client("0" * 40).get(LEADS)
    assert_errors(response, 401, "non_field_errors")


def test_an_outsider_cannot_read_leads(mallory):
    lead = LeadFactory(owner=mallory)
    assert_errors(client_for(mallory).get(LEADS), 403, "non_field_errors")
    assert_errors(client_for(mallory).get(detail_url(lead.id)), 403, "non_field_errors")


def test_a_session_login_works_too(client, alice):
    client.force_login(alice)
    response = client.post(LEADS, {"email": "a@b.example"}, content_type="application/json")
    assert response.status_code == 201


# Tokens -----------------------------------------------------------------------------------


def test_create_api_token_prints_only_a_key_that_authenticates_an_integration_user():
    key = make_token("mautic")
    assert len(key) == 40 and "\n" not in key
    user = Token.objects.get(key=key).user
    assert user.username == "mautic"
    assert user.is_active and not user.has_usable_password()
    assert list(user.groups.values_list("name", flat=True)) == [roles.INTEGRATION]

    client = token_client(key)
    assert client.post(LEADS, {"email": "a@b.example"}, format="json").status_code == 201
    assert client.post(ACTIVITIES, activity(email="A@B.example"), format="json").status_code == 201
    assert client.get(LEADS).json()["count"] == 1


def test_running_create_api_token_again_rotates_the_key():
    old = make_token("mautic")
    new = make_token("mautic")
    assert old != new
    assert Token.objects.count() == 1
    assert token_client(old).get(LEADS).status_code == 401
    assert token_client(new).get(LEADS).status_code == 200


def test_create_api_token_reuses_an_existing_user_without_touching_its_password(db):
    user = UserFactory(username="crm")
    make_token("crm")
    user.refresh_from_db()
    assert user.check_password("password")
    assert user.groups.filter(name=roles.INTEGRATION).exists()


def test_create_api_token_refuses_to_revive_a_deactivated_user(db):
    UserFactory(username="old-crm", is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        make_token("old-crm")
    assert Token.objects.count() == 0


@pytest.mark.parametrize("name", ["", "   ", "x" * 151, "two words", "semi;colon"])
def test_create_api_token_refuses_a_bad_name(db, name):
    with pytest.raises(CommandError):
        make_token(name)
    assert Token.objects.count() == 0


def test_a_token_of_a_deactivated_user_stops_working():
    key = make_token("mautic")
    Token.objects.get(key=key).user.__class__.objects.filter(username="mautic").update(
        is_active=False
    )
    assert token_client(key).get(LEADS).status_code == 401


# Batch upsert -----------------------------------------------------------------------------


def test_a_lead_batch_writes_each_item_on_its_own(integration):
    LeadFactory(email="known@acme.example", title="CTO")
    response = integration.post(
        LEADS_BATCH,
        {
            "leads": [
                {"email": "new@acme.example"},
                {"email": "KNOWN@acme.example", "title": "CEO"},
                {"email": "bad"},
                {"email": "typo@acme.example", "tittle": "x"},
                "not an object",
                None,
                {"email": "other@acme.example", "company_name": "Other", "employees": "many"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "created",
        "updated",
        "error",
        "error",
        "error",
        "error",
        "error",
    ]
    assert [r["index"] for r in body["results"]] == list(range(7))
    assert body["counts"] == {"created": 1, "updated": 1, "error": 5}
    results = body["results"]
    assert results[0]["id"] == Lead.objects.get(email="new@acme.example").id
    assert results[1]["id"] == Lead.objects.get(email="known@acme.example").id
    assert "errors" not in results[0]
    assert set(results[2]["errors"]) == {"email"}
    assert set(results[3]["errors"]) == {"tittle"}
    assert set(results[4]["errors"]) == {"non_field_errors"}
    assert set(results[5]["errors"]) == {"non_field_errors"}
    assert set(results[6]["errors"]) == {"employees"}
    assert results[6]["id"] is None
    # The failed items wrote nothing: no lead, no company.
    assert Lead.objects.count() == 2
    assert not Company.objects.filter(name="Other").exists()
    assert Lead.objects.get(email="known@acme.example").title == "CEO"


def test_the_same_email_twice_in_a_batch_creates_then_updates(alice):
    response = client_for(alice).post(
        LEADS_BATCH,
        {
            "leads": [
                {"email": "a@b.example", "title": "CTO"},
                {"email": "A@B.example", "phone": "1"},
            ]
        },
        format="json",
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "updated"]
    assert results[0]["id"] == results[1]["id"]
    lead = Lead.objects.get()
    assert (lead.title, lead.phone) == ("CTO", "1")


def test_an_oversized_lead_batch_is_refused_whole(integration, settings):
    settings.API_LEAD_BATCH_MAX = 3
    leads = [{"email": f"l{i}@b.example"} for i in range(4)]
    response = integration.post(LEADS_BATCH, {"leads": leads}, format="json")
    errors = assert_errors(response, 400, "leads")
    assert "3" in errors["leads"][0]
    assert Lead.objects.count() == 0
    response = integration.post(LEADS_BATCH, {"leads": leads[:3]}, format="json")
    assert response.json()["counts"]["created"] == 3


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "leads"),
        ({"leads": {"email": "a@b.example"}}, "leads"),
        ({"leads": "a@b.example"}, "leads"),
        ({"leads": None}, "leads"),
        ({"leads": [], "dry_run": True}, "dry_run"),
    ],
)
def test_a_malformed_lead_batch_names_the_field(integration, body, field):
    assert_errors(integration.post(LEADS_BATCH, body, format="json"), 400, field)


def test_an_empty_lead_batch_is_fine(integration):
    response = integration.post(LEADS_BATCH, {"leads": []}, format="json")
    assert response.json() == {"results": [], "counts": {"created": 0, "updated": 0, "error": 0}}


def test_a_batch_item_that_loses_a_race_fails_alone(integration, monkeypatch):
    real = services.lead_upsert

    def flaky(*, data, **kwargs):
        if data["email"] == "race@b.example":
            raise IntegrityError("duplicate key")
        return real(data=data, **kwargs)

    monkeypatch.setattr(services, "lead_upsert", flaky)
    body = {"leads": [{"email": "race@b.example"}, {"email": "ok@b.example"}]}
    results = integration.post(LEADS_BATCH, body, format="json").json()["results"]
    assert [r["status"] for r in results] == ["error", "created"]
    assert set(results[0]["errors"]) == {"non_field_errors"}


# Listing ----------------------------------------------------------------------------------


def test_a_rep_lists_only_their_own_leads(bob, dave):
    mine = LeadFactory(owner=bob)
    LeadFactory(owner=dave)
    LeadFactory()
    body = client_for(bob).get(LEADS).json()
    assert body["count"] == 1
    assert [lead["id"] for lead in body["results"]] == [mine.id]
    assert body["results"][0]["owner"] == bob.email


def test_a_sales_manager_lists_their_team_but_not_other_teams(carol, bob, dave, erin):
    ids = {LeadFactory(owner=bob).id, LeadFactory(owner=dave).id}
    LeadFactory(owner=erin)
    body = client_for(carol).get(LEADS).json()
    assert {lead["id"] for lead in body["results"]} == ids


def test_marketing_lists_every_lead_page_by_page(alice, monkeypatch):
    monkeypatch.setattr(api.LeadCollectionApi.pagination_class, "page_size", 2)
    created = LeadFactory.create_batch(3)
    client = client_for(alice)
    first = client.get(LEADS).json()
    assert first["count"] == 3
    second = client.get(first["next"]).json()
    assert second["next"] is None
    seen = [lead["id"] for lead in first["results"] + second["results"]]
    assert seen == [lead.id for lead in reversed(created)]  # newest first
    assert_errors(client.get(LEADS, {"page": 99}), 400, "page")


def test_the_list_skips_deleted_leads(alice):
    LeadFactory(deleted_at=timezone.now())
    kept = LeadFactory()
    assert [lead["id"] for lead in client_for(alice).get(LEADS).json()["results"]] == [kept.id]


def test_the_list_filters(alice, bob):
    now = timezone.now()
    hot = LeadFactory(
        email="hot@acme.example",
        stage=Stage.MQL,
        source="webinar",
        owner=bob,
        total_score=80,
        updated_at=now,
    )
    LeadFactory(
        email="cold@other.example",
        stage=Stage.LEAD,
        source="ads",
        total_score=10,
        updated_at=now - dt.timedelta(days=10),
    )
    client = client_for(alice)

    def ids(**params):
        response = client.get(LEADS, params)
        assert response.status_code == 200, response.content
        return [lead["id"] for lead in response.json()["results"]]

    assert ids(stage="mql") == [hot.id]
    assert ids(source="webinar") == [hot.id]
    assert ids(owner=bob.id) == [hot.id]
    assert ids(q="HOT@") == [hot.id]
    assert ids(min_score=50) == [hot.id]
    assert ids(updated_since=(now - dt.timedelta(days=1)).isoformat()) == [hot.id]
    assert len(ids(stage="", source="", q="")) == 2


@pytest.mark.parametrize(
    "param,value",
    [
        ("updated_since", "yesterday"),
        ("updated_since", "2024-13-45T99:00:00"),
        ("min_score", "high"),
        ("min_score", "nan"),
        ("min_score", "inf"),
        ("owner", "bob"),
        ("owner", "0"),
        ("owner", str(10**30)),
        ("stage", "won"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(alice, param, value):
    response = client_for(alice).get(LEADS, {param: value})
    assert_errors(response, 400, param)


# Detail -----------------------------------------------------------------------------------


def test_the_detail_has_activities_and_stage_history(alice, bob):
    lead = LeadFactory(owner=bob)
    ActivityFactory(lead=lead, kind="demo_request", external_id="e1", source_system="mautic")
    services.lead_transition(
        lead=lead,
        to_stage=Stage.MQL,
        origin=StageEvent.Origin.SYSTEM,
        ruleset_version=3,
        note="score 80",
    )
    services.lead_transition(lead=lead, to_stage=Stage.SAL, actor=bob)

    body = client_for(alice).get(detail_url(lead.id)).json()
    assert body["id"] == lead.id
    assert body["stage"] == Stage.SAL
    assert [a["kind"] for a in body["activities"]] == ["demo_request"]
    assert body["activities"][0]["external_id"] == "e1"
    assert body["activities"][0]["source_system"] == "mautic"
    first, second = body["history"]
    assert first["from_stage"] == "lead" and first["to_stage"] == "mql"
    assert first["actor"] is None and first["origin"] == "system"
    assert first["ruleset_version"] == 3 and first["note"] == "score 80"
    assert second["actor"] == "bob" and second["to_stage"] == "sal"
    assert set(second) == {
        "from_stage",
        "to_stage",
        "at",
        "actor",
        "origin",
        "reason",
        "note",
        "ruleset_version",
        "bant",
    }
    assert second["bant"] is None and body["qualification"] is None


def test_the_detail_shows_the_latest_200_activities(alice):
    lead = LeadFactory()
    start = timezone.now() - dt.timedelta(days=1)
    Activity.objects.bulk_create(
        Activity(lead=lead, kind="page_view", occurred_at=start + dt.timedelta(minutes=i))
        for i in range(205)
    )
    activities = client_for(alice).get(detail_url(lead.id)).json()["activities"]
    assert len(activities) == 200
    newest = Activity.objects.order_by("-occurred_at").first()
    assert activities[0]["id"] == newest.id


def test_a_rep_gets_a_404_for_a_lead_that_is_not_theirs(bob, dave):
    theirs = LeadFactory(owner=dave)
    mine = LeadFactory(owner=bob)
    client = client_for(bob)
    assert_errors(client.get(detail_url(theirs.id)), 404, "non_field_errors")
    assert client.get(detail_url(mine.id)).status_code == 200


@pytest.mark.parametrize("lead_id", [999999, 10**30])
def test_an_unknown_lead_is_a_404(alice, lead_id):
    assert_errors(client_for(alice).get(detail_url(lead_id)), 404, "non_field_errors")


# One activity -----------------------------------------------------------------------------


def test_an_activity_is_recorded_for_a_lead_found_by_email_ignoring_case(integration):
    lead = LeadFactory(email="ann@acme.example")
    response = integration.post(
        ACTIVITIES,
        activity(email="ANN@Acme.Example", source_system="mautic", external_id="42"),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    stored = Activity.objects.get()
    assert body["status"] == "created"
    assert body["id"] == stored.id and body["lead_id"] == lead.id
    assert body["kind"] == "page_view"
    assert body["properties"] == {"url": "https://example.com/pricing"}
    assert (stored.source_system, stored.external_id) == ("mautic", "42")


def test_an_activity_is_recorded_for_a_lead_found_by_id(integration):
    lead = LeadFactory()
    response = integration.post(ACTIVITIES, activity(lead_id=lead.id), format="json")
    assert response.status_code == 201
    assert Activity.objects.get().lead == lead
    assert Activity.objects.get().source_system == "api"


def test_resending_an_activity_is_a_duplicate_that_writes_nothing(integration):
    LeadFactory(email="ann@acme.example")
    item = activity(email="ann@acme.example", source_system="mautic", external_id="42")
    first = integration.post(ACTIVITIES, item, format="json")
    again = integration.post(ACTIVITIES, {**item, "kind": "email_open"}, format="json")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["kind"] == "page_view"
    assert Activity.objects.count() == 1


def test_the_same_external_id_from_another_source_is_a_new_activity(integration):
    LeadFactory(email="ann@acme.example")
    for source in ("mautic", "hubspot"):
        item = activity(email="ann@acme.example", source_system=source, external_id="42")
        assert integration.post(ACTIVITIES, item, format="json").status_code == 201
    assert Activity.objects.count() == 2


def test_an_activity_for_an_unknown_email_is_refused_and_no_lead_is_created(integration):
    response = integration.post(ACTIVITIES, activity(email="who@nowhere.example"), format="json")
    errors = assert_errors(response, 400, "email")
    assert errors["email"] == ["No lead with this e-mail."]
    assert Lead.objects.count() == 0
    assert Activity.objects.count() == 0


def test_an_activity_for_an_unknown_lead_id_names_lead_id(integration):
    response = integration.post(ACTIVITIES, activity(lead_id=987654), format="json")
    assert_errors(response, 400, "lead_id")
    huge = integration.post(ACTIVITIES, activity(lead_id=10**30), format="json")
    assert_errors(huge, 400, "lead_id")


def test_an_activity_whose_email_and_lead_id_disagree_is_refused(integration):
    lead = LeadFactory(email="ann@acme.example")
    LeadFactory(email="bob@acme.example")
    response = integration.post(
        ACTIVITIES, activity(lead_id=lead.id, email="bob@acme.example"), format="json"
    )
    assert_errors(response, 400, "email")
    same = integration.post(
        ACTIVITIES, activity(lead_id=lead.id, email="ANN@acme.example"), format="json"
    )
    assert same.status_code == 201


def test_an_activity_for_a_lead_the_sender_cannot_see_is_an_unknown_lead(bob, erin):
    bob.user_permissions.add(Permission.objects.get(codename="add_activity"))
    mine = LeadFactory(owner=bob, email="mine@acme.example")
    LeadFactory(owner=erin, email="erins@acme.example")
    client = client_for(bob)
    refused = client.post(ACTIVITIES, activity(email="erins@acme.example"), format="json")
    assert_errors(refused, 400, "email")
    assert client.post(ACTIVITIES, activity(lead_id=mine.id), format="json").status_code == 201
    assert Activity.objects.count() == 1


@pytest.mark.parametrize(
    "item,field",
    [
        (activity(), "email"),
        (activity(email="a@b.example", kind="telepathy"), "kind"),
        (activity(email="a@b.example", occurred_at="last tuesday"), "occurred_at"),
        (activity(email="a@b.example", occurred_at=12), "occurred_at"),
        (activity(email="a@b.example", properties=["x"]), "properties"),
        (activity(email="a@b.example", source_system="Not Valid!"), "source_system"),
        (activity(email="a@b.example", external_id="x" * 201), "external_id"),
        (activity(email="a@b.example", external_id=""), "external_id"),
        (activity(lead_id="seven"), "lead_id"),
        (activity(lead_id=0), "lead_id"),
        (activity(email="a@b.example", colour="red"), "colour"),
    ],
)
def test_a_bad_activity_is_a_400_naming_its_field(integration, item, field):
    LeadFactory(email="a@b.example")
    assert_errors(integration.post(ACTIVITIES, item, format="json"), 400, field)
    assert Activity.objects.count() == 0


def test_recording_an_activity_tells_scoring_which_lead_changed(
    integration, changed, django_capture_on_commit_callbacks
):
    lead = LeadFactory(email="ann@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        integration.post(ACTIVITIES, activity(email="ann@acme.example"), format="json")
    assert changed == [[lead.id]]


# Activity batches -------------------------------------------------------------------------


def test_an_activity_batch_records_new_events_and_reports_every_kind_of_duplicate(
    integration, changed, django_capture_on_commit_callbacks
):
    ann = LeadFactory(email="ann@acme.example")
    ben = LeadFactory(email="ben@acme.example")
    stored = ActivityFactory(lead=ann, source_system="mautic", external_id="old")
    items = [
        activity(email="ANN@acme.example", source_system="mautic", external_id="new-1"),
        activity(email="ann@acme.example", source_system="mautic", external_id="old"),
        activity(lead_id=ben.id, source_system="mautic", external_id="new-2"),
        activity(email="ann@acme.example", source_system="mautic", external_id="new-1"),
        activity(email="ben@acme.example"),  # no external id: never a duplicate
        activity(email="ben@acme.example"),
        activity(email="nobody@acme.example", external_id="x"),
        activity(email="ann@acme.example", kind="telepathy"),
        ["not", "an", "object"],
        activity(email="ann@acme.example", hue="blue"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = integration.post(ACTIVITIES_BATCH, {"activities": items}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    results = body["results"]
    assert [r["status"] for r in results] == [
        "created",
        "duplicate",
        "created",
        "duplicate",
        "created",
        "created",
        "error",
        "error",
        "error",
        "error",
    ]
    assert body["counts"] == {"created": 4, "duplicate": 2, "error": 4}
    assert results[1]["id"] == stored.id
    assert results[3]["id"] == results[0]["id"]
    assert Activity.objects.get(id=results[0]["id"]).lead == ann
    assert Activity.objects.get(id=results[2]["id"]).lead == ben
    assert results[6]["errors"] == {"email": ["No lead with this e-mail."]}
    assert set(results[7]["errors"]) == {"kind"}
    assert set(results[8]["errors"]) == {"non_field_errors"}
    assert set(results[9]["errors"]) == {"hue"}
    assert Activity.objects.count() == 5  # the stored one and four new
    assert Lead.objects.count() == 2
    assert changed == [sorted([ann.id, ben.id])]


def test_resending_an_activity_batch_creates_nothing(integration):
    LeadFactory(email="ann@acme.example")
    items = [
        activity(email="ann@acme.example", source_system="mautic", external_id=str(i))
        for i in range(5)
    ]
    first = integration.post(ACTIVITIES_BATCH, {"activities": items}, format="json").json()
    again = integration.post(ACTIVITIES_BATCH, {"activities": items}, format="json").json()
    assert first["counts"] == {"created": 5, "duplicate": 0, "error": 0}
    assert again["counts"] == {"created": 0, "duplicate": 5, "error": 0}
    assert [r["id"] for r in again["results"]] == [r["id"] for r in first["results"]]
    assert Activity.objects.count() == 5


def test_an_activity_batch_takes_a_fixed_number_of_queries(
    integration, django_assert_max_num_queries
):
    leads = LeadFactory.create_batch(20)
    items = [
        activity(email=lead.email.upper(), source_system="mautic", external_id=f"{lead.id}-{n}")
        for lead in leads
        for n in range(10)
    ]
    # Authentication and permissions, one query for the leads, one for stored events, the
    # insert and its transaction: not one per item.
    with django_assert_max_num_queries(12):
        response = integration.post(ACTIVITIES_BATCH, {"activities": items}, format="json")
    assert response.json()["counts"]["created"] == 200
    assert Activity.objects.count() == 200


def test_an_activity_batch_that_races_another_writer_falls_back_to_one_by_one(
    integration, monkeypatch
):
    lead = LeadFactory(email="ann@acme.example")
    stored = ActivityFactory(lead=lead, source_system="mautic", external_id="raced")
    # As if the other request stored "raced" between our check and our insert.
    monkeypatch.setattr(services, "_stored_activity_ids", lambda keys: {})
    items = [
        activity(email="ann@acme.example", source_system="mautic", external_id="fresh"),
        activity(email="ann@acme.example", source_system="mautic", external_id="raced"),
    ]
    results = integration.post(ACTIVITIES_BATCH, {"activities": items}, format="json").json()
    assert [r["status"] for r in results["results"]] == ["created", "duplicate"]
    assert results["results"][1]["id"] == stored.id
    assert Activity.objects.count() == 2


def test_an_oversized_activity_batch_is_refused_whole(integration, settings):
    settings.API_ACTIVITY_BATCH_MAX = 3
    LeadFactory(email="ann@acme.example")
    items = [activity(email="ann@acme.example") for _ in range(4)]
    response = integration.post(ACTIVITIES_BATCH, {"activities": items}, format="json")
    errors = assert_errors(response, 400, "activities")
    assert "3" in errors["activities"][0]
    assert Activity.objects.count() == 0


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "activities"),
        ({"activities": {"kind": "page_view"}}, "activities"),
        ({"activities": [], "leads": []}, "leads"),
    ],
)
def test_a_malformed_activity_batch_names_the_field(integration, body, field):
    assert_errors(integration.post(ACTIVITIES_BATCH, body, format="json"), 400, field)


# Schema and docs --------------------------------------------------------------------------


def test_the_schema_documents_every_endpoint(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = response.content.decode()
    for path in [LEADS, LEADS_BATCH, "/api/v1/leads/{lead_id}/", ACTIVITIES, ACTIVITIES_BATCH]:
        assert f"{path}:" in schema
    for operation in [
        "leads_list",
        "leads_upsert",
        "leads_batch_upsert",
        "leads_retrieve",
        "activities_create",
        "activities_batch_create",
    ]:
        assert f"operationId: {operation}" in schema


def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(out))
    assert "/api/v1/activities/batch/" in out.read_text()


def test_the_api_docs_page_loads_its_assets_from_our_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert cdn not in html


def test_roles_are_in_place_for_the_api(db):
    integration_perms = set(
        Group.objects.get(name=roles.INTEGRATION).permissions.values_list("codename", flat=True)
    )
    assert {"add_lead", "change_lead", "add_activity", "view_all_leads"} <= integration_perms


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    "path", ["/api/v1/leads/abc/", "/api/v1/leads/null%2Cnull/", "/api/v1/nope/"]
)
def test_an_unmatched_api_address_is_a_json_404_in_the_error_shape(
    integration, settings, debug, path
):
    settings.DEBUG = debug
    response = integration.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"errors": {"non_field_errors": ["Not found."]}}


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99"])
def test_a_page_that_does_not_exist_is_a_400_naming_page(alice, page):
    LeadFactory()
    response = client_for(alice).get(LEADS, {"page": page})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page"]


def test_the_schema_says_request_bodies_refuse_unknown_fields(alice):
    response = client_for(alice).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schemas = response.json()["components"]["schemas"]
    assert schemas["LeadInputRequest"]["additionalProperties"] is False


def test_the_schema_says_the_server_refuses_an_overlong_address(alice):
    """gunicorn answers 414 before Django sees a request line over 4,094 bytes."""
    response = client_for(alice).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert "414" in response.json()["paths"]["/api/v1/leads/"]["get"]["responses"]


@pytest.mark.parametrize("since", ["1495-10-02T11:30:54.6-21:33", "0001-01-01T00:00:00+21:00"])
def test_updated_since_with_an_offset_postgresql_lacks_is_no_500(alice, since):
    lead = LeadFactory()
    response = client_for(alice).get(LEADS, {"updated_since": since})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [lead.id]
