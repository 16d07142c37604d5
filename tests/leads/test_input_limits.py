"""Input limits on every way in (core.validation): NUL and lone surrogates refused naming the
field, custom attributes and properties capped, e-mails normalised so a mailbox is one lead,
batches that keep the good items when one is bad. Also run on PostgreSQL in .ci/run."""

import json

import pytest

from core import validation
from leads.models import Activity, Lead

from .test_api import (
    ACTIVITIES,
    ACTIVITIES_BATCH,
    LEADS,
    LEADS_BATCH,
    activity,
    assert_errors,
    integration,  # noqa: F401 - the fixture
)
from .test_import import HEADER, run
from .test_mautic_webhook import _contact, _hit, _post, secret  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
# Raw JSON, because json.dumps of a lone surrogate escapes it the same way.
SURROGATE_JSON = '"x\\ud800y"'


def raw_post(client, url: str, body: str):
    return client.post(url, data=body.encode(), content_type="application/json")


# NUL and lone surrogates --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,field",
    [
        ('{"email": "ann@acme.example", "custom": {"plan": %s}}', "custom.plan"),
        ('{"email": "ann@acme.example", "custom": {%s: 1}}', "custom.x\\ud800y"),
        ('{"email": "ann@acme.example", "first_name": %s}', "first_name"),
        ('{"email": "ann@acme.example", "company_name": %s}', "company_name"),
    ],
)
def test_a_lone_surrogate_in_a_lead_is_a_400_naming_the_field(integration, body, field):  # noqa: F811
    response = raw_post(integration, LEADS, body % SURROGATE_JSON)
    assert_errors(response, 400, field)
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "data,field",
    [
        ({"custom": {"plan": NUL}}, "custom.plan"),
        ({"custom": {NUL: 1}}, "custom.a\x00b"),
        ({"title": NUL}, "title"),
    ],
)
def test_a_nul_in_a_lead_is_a_400_naming_the_field(integration, data, field):  # noqa: F811
    response = integration.post(LEADS, {"email": "ann@acme.example", **data}, format="json")
    errors = assert_errors(response, 400)
    assert field in errors, errors
    assert not Lead.objects.exists()


def test_nul_and_surrogates_in_activity_properties_are_refused(integration, lead):  # noqa: F811
    response = integration.post(
        ACTIVITIES, activity(lead_id=lead.id, properties={"url": NUL}), format="json"
    )
    assert_errors(response, 400, "properties.url")
    body = json.dumps(activity(lead_id=lead.id)).replace(
        '"properties": {', f'"properties": {{"form": {{"results": {{"msg": {SURROGATE_JSON}}}}}, '
    )
    response = raw_post(integration, ACTIVITIES, body)
    assert_errors(response, 400, "properties.form.results.msg")
    assert not Activity.objects.exists()


# Sizes -------------------------------------------------------------------------------------


@pytest.fixture
def lead(db):
    from ..factories import LeadFactory

    return LeadFactory(email="known@acme.example")


@pytest.mark.parametrize(
    "custom,field",
    [
        ({"notes": "x" * (validation.MAX_CUSTOM_TEXT + 1)}, "custom.notes"),
        ({f"k{i}": i for i in range(validation.MAX_CUSTOM_KEYS + 1)}, "custom"),
        ({f"k{i}": "x" * 1_900 for i in range(10)}, "custom"),  # 19 KB in all
        ({"k" * 101: 1}, "custom." + "k" * 100),
    ],
    ids=["long-text", "too-many-keys", "too-large", "long-key"],
)
def test_custom_attributes_are_capped(integration, custom, field):  # noqa: F811
    response = integration.post(
        LEADS, {"email": "ann@acme.example", "custom": custom}, format="json"
    )
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors, errors
    assert not Lead.objects.exists()


def test_a_ten_megabyte_custom_value_is_never_stored(integration):  # noqa: F811
    response = integration.post(
        LEADS, {"email": "ann@acme.example", "custom": {"blob": "x" * 10_000_000}}, format="json"
    )
    assert_errors(response, 413 if response.status_code == 413 else 400)
    assert not Lead.objects.exists()


def test_properties_are_capped(integration, lead):  # noqa: F811
    too_long = activity(
        lead_id=lead.id, properties={"msg": "x" * (validation.MAX_PROPERTY_TEXT + 1)}
    )
    assert_errors(integration.post(ACTIVITIES, too_long, format="json"), 400, "properties.msg")
    deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    assert_errors(
        integration.post(ACTIVITIES, activity(lead_id=lead.id, properties=deep), format="json"),
        400,
        "properties.a",
    )
    big = {f"k{i}": "x" * 9_000 for i in range(8)}  # 72 KB
    assert_errors(
        integration.post(ACTIVITIES, activity(lead_id=lead.id, properties=big), format="json"),
        400,
        "properties",
    )
    assert not Activity.objects.exists()


def test_a_body_over_the_cap_is_a_413(integration, settings):  # noqa: F811
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = integration.post(
        LEADS, {"email": "ann@acme.example", "custom": {"n": "x" * 2000}}, format="json"
    )
    assert_errors(response, 413, "non_field_errors")


# E-mails -----------------------------------------------------------------------------------


def test_a_unicode_domain_sent_twice_is_one_lead(integration):  # noqa: F811
    first = integration.post(LEADS, {"email": "x@İstanbul.com"}, format="json")
    second = integration.post(LEADS, {"email": "x@İstanbul.com", "title": "CEO"}, format="json")
    assert (first.status_code, second.status_code) == (201, 200), second.content
    lead = Lead.objects.get()
    assert lead.email == "x@" + "İstanbul.com".encode("idna").decode()
    assert lead.title == "CEO"


def test_punycode_and_unicode_spellings_of_a_mailbox_are_one_lead(integration):  # noqa: F811
    puny = "bücher.example".encode("idna").decode()
    assert (
        integration.post(LEADS, {"email": "ann@bücher.example"}, format="json").status_code == 201
    )
    second = integration.post(LEADS, {"email": f"ANN@{puny.upper()}"}, format="json")
    assert second.status_code == 200, second.content
    assert Lead.objects.count() == 1
    response = integration.post(ACTIVITIES, activity(email="Ann@BÜCHER.example"), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["lead_id"] == Lead.objects.get().id


def test_a_non_ascii_local_part_is_refused_naming_the_field(integration):  # noqa: F811
    # Django's validator takes only ASCII before the @, so case-folding there is ASCII's,
    # on which Python and every database agree.
    response = integration.post(LEADS, {"email": "İrem@acme.example"}, format="json")
    assert_errors(response, 400, "email")
    assert not Lead.objects.exists()


def test_email_normalize():
    assert validation.email_normalize(" Ann@Acme.Example ") == "Ann@acme.example"
    assert validation.email_normalize("a@bücher.de") == "a@xn--bcher-kva.de"
    with pytest.raises(ValueError):
        validation.email_normalize("a@" + "x" * 64 + ".com")


# Batches -----------------------------------------------------------------------------------


def test_a_bad_item_in_a_lead_batch_fails_alone(integration):  # noqa: F811
    items = [{"email": f"p{i}@acme.example", "custom": {"n": i}} for i in range(10)]
    items[5]["custom"] = {"n": NUL}
    items[7]["email"] = "x@İstanbul.com"
    items.append({"email": "X@İSTANBUL.com", "title": "CEO"})
    response = integration.post(LEADS_BATCH, {"leads": items}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["counts"] == {"created": 9, "updated": 1, "error": 1}
    assert body["results"][5]["status"] == "error"
    assert "custom.n" in body["results"][5]["errors"]
    assert Lead.objects.count() == 9


def test_a_bad_item_in_an_activity_batch_never_loses_the_good_ones(integration, lead):  # noqa: F811
    items = [activity(lead_id=lead.id, source_system="t", external_id=str(i)) for i in range(100)]
    body = json.dumps({"activities": items}).replace(
        '"external_id": "42"}', f'"external_id": "42", "properties": {{"u": {SURROGATE_JSON}}}}}'
    )
    # The replace above also dropped the original properties of item 42; check it landed.
    assert "\\ud800" in body
    response = raw_post(integration, ACTIVITIES_BATCH, body)
    assert response.status_code == 200, response.content
    out = response.json()
    assert out["counts"] == {"created": 99, "duplicate": 0, "error": 1}
    assert out["results"][42]["status"] == "error"
    assert "properties.u" in out["results"][42]["errors"]
    assert Activity.objects.count() == 99


# CSV and Mautic ----------------------------------------------------------------------------


def test_a_csv_row_with_a_nul_is_rejected_naming_the_field(tmp_path):
    mapping = {
        "columns": [
            {"column": "Email", "to": "email"},
            {"column": "First", "to": "first_name"},
            {"column": "Country", "to": "country"},
            {"column": "Visits", "to": "custom.visits"},
            {"column": "Newsletter", "to": "custom.newsletter"},
        ]
    }
    out, _err = run(
        tmp_path,
        HEADER
        + "hana@example.jp,Hana,Japan,5,yes\r\n"
        + "ken@example.jp,Ken,Japan,a\x00b,no\r\n"
        + "x@İstanbul.com,Ken,Japan,1,no\r\n"
        + "X@İSTANBUL.COM,Ken,Japan,2,no\r\n",
        mapping=mapping,
    )
    assert "rejected: 1" in out
    line = next(text for text in out.splitlines() if text.startswith("Line 3"))
    assert "custom.visits: Text must not contain NUL characters." in line
    assert Lead.objects.count() == 2
    assert Lead.objects.get(email__startswith="x@").custom["visits"] == "2"


def test_a_mautic_delivery_with_a_lone_surrogate_is_a_400_naming_the_path():
    payload = json.dumps({"mautic.page_on_hit": [_hit()]}).replace(
        '"title": "Pricing"', f'"title": {SURROGATE_JSON}'
    )
    response = _post(payload.encode())
    assert response.status_code == 400
    assert "mautic.page_on_hit[0].hit.page.title" in response.json()["errors"]
    assert not Lead.objects.exists()


def test_a_mautic_contact_with_an_oversized_field_is_a_400_naming_it():
    contact = _contact("ann@acme.example", notes="x" * (validation.MAX_CUSTOM_TEXT + 1))
    response = _post({"mautic.lead_post_save_new": [{"contact": contact}]})
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert any("mautic.lead_post_save_new[0].contact" in path for path in errors), errors
    assert not Lead.objects.exists()


def test_a_mautic_contact_in_unicode_and_punycode_is_one_lead():
    for email in ("ann@bücher.example", "ann@xn--bcher-kva.example"):
        response = _post({"mautic.lead_post_save_update": [{"contact": _contact(email)}]})
        assert response.status_code == 200, response.content
    assert Lead.objects.count() == 1
