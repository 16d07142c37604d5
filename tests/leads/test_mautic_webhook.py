import base64
import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.test import Client

from leads.mautic import form_activity_kind
from leads.models import Activity, ActivityKind, Lead, LeadIdentity, Stage, StageEvent
from leads.services import lead_transition

from ..conftest import realdata_path

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/mautic/"
SECRET = "mautic-shared-secret"


@pytest.fixture(autouse=True)
def secret(settings):
    settings.MAUTIC_WEBHOOK_SECRET = SECRET


def _sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _post(payload, *, signature: str | None = None, sign: bool = True):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if signature is not None:
        headers["Webhook-Signature"] = signature
    elif sign:
        headers["Webhook-Signature"] = _sign(body)
    # CSRF checks on, no login: the signature alone must be enough.
    client = Client(enforce_csrf_checks=True)
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def _real(name: str):
    return json.loads(realdata_path(f"mautic/{name}").read_bytes())


def _events(event_type: str) -> list:
    """The real sample for `event_type` as a list of events (most files hold one bare event)."""
    body = _real(f"{event_type}.json")
    return body if isinstance(body, list) else [body]


def _envelope(*event_types: str) -> dict:
    return {event_type: _events(event_type) for event_type in event_types}


def _contact(email: str, contact_id: int = 7, **core) -> dict:
    fields = {"email": email, **core}
    return {
        "id": contact_id,
        "points": 3,
        "fields": {"core": {alias: {"alias": alias, "value": v} for alias, v in fields.items()}},
    }


def _hit(email: str = "ann@acme.example", **hit) -> dict:
    return {
        "hit": {
            "dateHit": "2024-05-01T09:00:00+09:00",
            "url": "https://handoff.example/pricing",
            "page": {"id": 3, "title": "Pricing"},
            "lead": _contact(email),
            **hit,
        }
    }


def _counts() -> tuple[int, int, int]:
    return Lead.objects.count(), Activity.objects.count(), LeadIdentity.objects.count()


# Real bodies ------------------------------------------------------------------------------


@pytest.mark.realdata
def test_a_new_mautic_contact_becomes_a_lead_with_its_fields_mapped():
    response = _post(_envelope("mautic.lead_post_save_new"))

    assert response.status_code == 200, response.json()
    assert response.json()["processed"] == {"mautic.lead_post_save_new": 1}
    assert response.json()["created"] == {"leads": 1, "activities": 0, "duplicates": 0}
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.last_name) == ("john@doe.name", "John", "Doe")
    assert lead.country == "Czech Republic"
    assert lead.custom["mautic_points"] == 0
    # Salutation, city and custom fields keep their Mautic alias; blank ones are left out.
    assert lead.custom["mautic_title"] == "Mr."
    assert lead.custom["mautic_city"] == "Prague"
    assert lead.custom["mautic_multiselect"] == "php|js"
    assert lead.custom["mautic_attribution"] == 32
    assert "mautic_fax" not in lead.custom and "mautic_datetime" not in lead.custom
    assert lead.identities.get().external_id == "52"


@pytest.mark.realdata
def test_the_delivered_envelope_file_is_accepted_byte_for_byte():
    body = realdata_path("mautic/DERIVED_mautic.lead_post_save_new.delivered_envelope.json")

    response = _post(body.read_bytes())

    assert response.status_code == 200, response.json()
    assert Lead.objects.get().email == "john@doe.name"


@pytest.mark.realdata
def test_a_contact_update_fills_the_company_and_uses_the_mobile_as_phone():
    _post(_envelope("mautic.lead_post_save_new"))

    response = _post(_envelope("mautic.lead_post_save_update"))

    assert response.status_code == 200, response.json()
    assert response.json()["created"]["leads"] == 0
    lead = Lead.objects.get()
    assert lead.company.name == "Mautic"
    assert lead.phone == "333444555"
    assert "mautic_mobile" not in lead.custom


@pytest.mark.realdata
def test_an_email_change_in_mautic_updates_the_same_lead():
    _post(_envelope("mautic.lead_post_save_new"))
    payload = _envelope("mautic.lead_post_save_update")
    payload["mautic.lead_post_save_update"][0]["contact"]["fields"]["core"]["email"]["value"] = (
        "john.doe@newjob.example"
    )

    _post(payload)

    assert Lead.objects.get().email == "john.doe@newjob.example"


@pytest.mark.realdata
def test_a_page_hit_records_a_page_view_at_its_time_in_utc():
    response = _post(_envelope("mautic.page_on_hit"))

    assert response.status_code == 200, response.json()
    activity = Activity.objects.get()
    assert activity.kind == ActivityKind.PAGE_VIEW
    assert activity.lead.email == "email@formsubmit.com"
    assert activity.lead.custom["mautic_points"] == 10
    assert activity.occurred_at == dt.datetime(2015, 8, 26, 1, 32, 39, tzinfo=dt.UTC)
    assert activity.properties == {
        "url": "http://mautic-gh.com/pagehit",
        "title": "PageHit",
        "mautic_page_id": 1,
    }
    # The sample hit has no id of its own, so its identity is a hash of what it says.
    assert activity.source_system == "mautic"
    assert activity.external_id.startswith("sha256:")


@pytest.mark.realdata
def test_a_form_submission_records_the_form_its_page_and_its_results():
    response = _post(_envelope("mautic.form_on_submit"))

    assert response.status_code == 200, response.json()
    activity = Activity.objects.get()
    assert activity.kind == ActivityKind.FORM_SUBMIT
    assert activity.external_id == "submission:13"
    assert activity.occurred_at == dt.datetime(2015, 8, 26, 1, 30, 34, tzinfo=dt.UTC)
    assert activity.properties["form_name"] == "lead points"
    assert activity.properties["form_alias"] == "leadpoints"
    assert activity.properties["url"] == "http://mautic-gh.com/s/forms/preview/4"
    assert activity.properties["results"] == {"email": "email@formsubmit.com"}
    assert activity.lead.email == "email@formsubmit.com"


@pytest.mark.realdata
def test_a_demo_request_form_is_recorded_as_a_demo_request():
    payload = _envelope("mautic.form_on_submit")
    payload["mautic.form_on_submit"][0]["submission"]["form"].update(
        name="Request a demo", alias="requestademo"
    )

    _post(payload)

    assert Activity.objects.get().kind == ActivityKind.DEMO_REQUEST


@pytest.mark.parametrize(
    "name,alias,kind",
    [
        ("Request a demo", "requestademo", ActivityKind.DEMO_REQUEST),
        ("Book a Demo!", "book_a_demo", ActivityKind.DEMO_REQUEST),
        ("", "demorequest", ActivityKind.DEMO_REQUEST),
        ("Contact sales", "contactsales", ActivityKind.CONTACT_SALES),
        ("Talk to our sales team", "talk", ActivityKind.CONTACT_SALES),
        ("Demographics survey", "demographicssurvey", ActivityKind.FORM_SUBMIT),
        ("Contact us", "contactus", ActivityKind.FORM_SUBMIT),
        ("Newsletter", "newsletter", ActivityKind.FORM_SUBMIT),
    ],
)
def test_only_forms_that_clearly_ask_for_sales_are_fast_track_kinds(name, alias, kind):
    assert form_activity_kind(name=name, alias=alias) == kind


@pytest.mark.realdata
def test_an_email_open_records_the_email_name_and_subject():
    response = _post(_envelope("mautic.email_on_open"))

    assert response.status_code == 200, response.json()
    activity = Activity.objects.get()
    assert activity.kind == ActivityKind.EMAIL_OPEN
    assert activity.external_id == "stat:8"
    assert activity.occurred_at == dt.datetime(2015, 8, 26, 1, 35, 53, tzinfo=dt.UTC)
    assert activity.properties == {"email_id": 5, "email_name": "Email", "email_subject": "Email"}
    assert activity.lead.email == "test@test.com"


@pytest.mark.realdata
def test_a_time_with_a_negative_offset_is_converted_to_utc():
    payload = _envelope("mautic.page_on_hit")
    payload["mautic.page_on_hit"][0]["hit"]["dateHit"] = "2015-08-25T19:32:39-06:00"

    _post(payload)

    assert Activity.objects.get().occurred_at == dt.datetime(2015, 8, 26, 1, 32, 39, tzinfo=dt.UTC)
    # The same moment written with another offset is the same hit.
    payload["mautic.page_on_hit"][0]["hit"]["dateHit"] = "2015-08-26T01:32:39+00:00"
    assert _post(payload).json()["created"]["duplicates"] == 1
    assert Activity.objects.count() == 1


@pytest.mark.realdata
def test_several_event_types_in_one_request_are_all_applied():
    payload = _envelope(
        "mautic.lead_post_save_new",
        "mautic.page_on_hit",
        "mautic.form_on_submit",
        "mautic.email_on_open",
        "mautic.lead_channel_subscription_changed",
    )

    response = _post(payload)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "processed": {
            "mautic.lead_post_save_new": 1,
            "mautic.page_on_hit": 1,
            "mautic.form_on_submit": 1,
            "mautic.email_on_open": 1,
        },
        "created": {"leads": 2, "activities": 3, "duplicates": 0},
        "deleted": 0,
        "ignored": ["mautic.lead_channel_subscription_changed"],
        "skipped": [],
    }
    # The samples give Mautic contact 26 two addresses: the later one (the e-mail open)
    # wins, on the same lead, which keeps all three activities.
    assert set(Lead.objects.values_list("email", flat=True)) == {"john@doe.name", "test@test.com"}
    assert Lead.objects.get(email="test@test.com").activities.count() == 3


@pytest.mark.realdata
def test_a_resent_delivery_creates_nothing_and_says_so():
    payload = _envelope(
        "mautic.lead_post_save_new",
        "mautic.page_on_hit",
        "mautic.form_on_submit",
        "mautic.email_on_open",
    )
    _post(payload)
    before = _counts()

    response = _post(payload)

    assert response.status_code == 200
    assert response.json()["created"] == {"leads": 0, "activities": 0, "duplicates": 3}
    assert _counts() == before


@pytest.mark.realdata
def test_deleting_a_contact_marks_the_lead_deleted_and_keeps_its_history():
    _post(_envelope("mautic.lead_post_save_new"))
    lead = Lead.objects.get()
    lead_transition(lead=lead, to_stage=Stage.MQL)

    # Mautic sends the deleted contact with contact.id null and the id beside it.
    response = _post(_envelope("mautic.lead_post_delete"))

    assert response.status_code == 200, response.json()
    assert response.json()["deleted"] == 1
    lead.refresh_from_db()
    assert lead.deleted_at is not None
    assert lead.stage == Stage.MQL
    assert StageEvent.objects.filter(lead=lead).count() == 1


@pytest.mark.realdata
def test_deleting_a_contact_never_received_is_skipped():
    response = _post(_envelope("mautic.lead_post_delete"))

    assert response.status_code == 200
    assert response.json()["skipped"] == [
        {"path": "mautic.lead_post_delete[0]", "reason": "Unknown contact."}
    ]
    assert not Lead.objects.exists()


@pytest.mark.realdata
def test_a_points_change_updates_the_mautic_points():
    # The sample lacks "points", so the contact's own total is used.
    _post(_envelope("mautic.lead_points_change"))
    assert Lead.objects.get().custom["mautic_points"] == 5

    payload = _envelope("mautic.lead_points_change")
    payload["mautic.lead_points_change"][0]["points"] = {"old_points": 5, "new_points": 25}
    response = _post(payload)

    assert response.status_code == 200, response.json()
    assert response.json()["processed"] == {"mautic.lead_points_change": 1}
    assert Lead.objects.get().custom["mautic_points"] == 25


# Anonymous contacts -------------------------------------------------------------------------


def test_an_anonymous_visitor_is_skipped_rather_than_rejected():
    response = _post({"mautic.page_on_hit": [_hit(email="")]})

    assert response.status_code == 200, response.json()
    assert response.json()["skipped"] == [
        {"path": "mautic.page_on_hit[0]", "reason": "Anonymous contact: no e-mail yet."}
    ]
    assert _counts() == (0, 0, 0)


def test_a_hit_without_an_email_joins_the_lead_known_by_its_mautic_id():
    _post({"mautic.lead_post_save_new": [{"contact": _contact("ann@acme.example")}]})

    response = _post({"mautic.page_on_hit": [_hit(email="")]})

    assert response.status_code == 200, response.json()
    assert Activity.objects.get().lead.email == "ann@acme.example"


# Signature ----------------------------------------------------------------------------------


def test_a_delivery_without_a_signature_is_refused_and_writes_nothing():
    response = _post({"mautic.page_on_hit": [_hit()]}, sign=False)

    assert response.status_code == 401
    assert response.json() == {"errors": {"Webhook-Signature": ["Missing signature."]}}
    assert _counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "signature",
    [
        _sign(b"{}"),
        _sign(json.dumps({"mautic.page_on_hit": [_hit()]}).encode(), secret="another-secret"),
        "not base64 at all ✓",
    ],
    ids=["other-body", "other-secret", "garbage"],
)
def test_a_delivery_with_a_wrong_signature_is_refused_and_writes_nothing(signature):
    response = _post({"mautic.page_on_hit": [_hit()]}, signature=signature)

    assert response.status_code == 401
    assert list(response.json()["errors"]) == ["Webhook-Signature"]
    assert _counts() == (0, 0, 0)


def test_without_a_configured_secret_nothing_is_accepted(settings):
    settings.MAUTIC_WEBHOOK_SECRET = ""
    body = json.dumps({"mautic.page_on_hit": [_hit()]}).encode()

    response = _post(body, signature=_sign(body, secret=""))

    assert response.status_code == 503
    assert "not set up" in response.json()["errors"]["non_field_errors"][0]
    assert _counts() == (0, 0, 0)


def test_the_secret_is_read_at_request_time(settings):
    settings.MAUTIC_WEBHOOK_SECRET = "rotated"
    body = json.dumps({"mautic.page_on_hit": [_hit()]}).encode()

    assert _post(body).status_code == 401
    assert _post(body, signature=_sign(body, secret="rotated")).status_code == 200


# Bad deliveries -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,path",
    [
        (b"{not json", "body"),
        (b'{"mautic.page_on_hit": [\xff]}', "body"),
        (b'{"mautic.page_on_hit": [NaN]}', "body"),
        (b"[" * 100_000, "body"),
        (b'{"x": "nul \\u0000"}', "x"),
        (b"[]", "body"),
        (b'"mautic.page_on_hit"', "body"),
        (b'{"mautic.page_on_hit": {}}', "mautic.page_on_hit"),
        (b'{"mautic.page_on_hit": ["hit"]}', "mautic.page_on_hit[0]"),
        (b'{"mautic.page_on_hit": [{"hit": {"url": "/"}}]}', "mautic.page_on_hit[0].hit.lead"),
        (b'{"mautic.form_on_submit": [{}]}', "mautic.form_on_submit[0].submission.lead"),
        (
            b'{"mautic.lead_post_save_new": [{"contact": 7}]}',
            "mautic.lead_post_save_new[0].contact",
        ),
    ],
    ids=[
        "malformed-json",
        "not-utf8",
        "nan",
        "too-deep",
        "nul",
        "list-body",
        "string-body",
        "type-not-a-list",
        "event-not-an-object",
        "hit-without-contact",
        "submission-without-contact",
        "contact-not-an-object",
    ],
)
def test_a_malformed_delivery_is_a_400_naming_the_path(body, path):
    response = _post(body)

    assert response.status_code == 400
    assert path in response.json()["errors"]
    assert _counts() == (0, 0, 0)


def test_an_invalid_email_rejects_the_whole_delivery():
    payload = {
        "mautic.lead_post_save_new": [{"contact": _contact("ann@acme.example")}],
        "mautic.page_on_hit": [_hit(), _hit(email="not-an-email")],
    }

    response = _post(payload)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["mautic.page_on_hit[1].hit.lead.fields.core.email"]
    assert _counts() == (0, 0, 0)


def test_a_field_too_long_for_a_lead_is_named_by_its_mautic_alias():
    contact = _contact("ann@acme.example", position="x" * 201)

    response = _post({"mautic.lead_post_save_update": [{"contact": contact}]})

    assert response.status_code == 400
    assert (
        "mautic.lead_post_save_update[0].contact.fields.core.position"
        in (response.json()["errors"])
    )


def test_an_unreadable_time_is_a_400_naming_it():
    response = _post({"mautic.page_on_hit": [_hit(dateHit="yesterday")]})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["mautic.page_on_hit[0].hit.dateHit"]
    assert _counts() == (0, 0, 0)


def test_a_website_becomes_the_company_domain():
    contact = _contact("ann@acme.example", company="Acme", website="https://www.acme.example/x")

    _post({"mautic.lead_post_save_new": [{"contact": contact}]})

    company = Lead.objects.get().company
    assert (company.name, company.domain) == ("Acme", "acme.example")


def test_only_unknown_event_types_is_not_an_error():
    response = _post({"mautic.lead_company_change": [{"whatever": True}]})

    assert response.status_code == 200
    assert response.json()["ignored"] == ["mautic.lead_company_change"]
    assert _counts() == (0, 0, 0)
