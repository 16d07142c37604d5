"""The lead list: one FilterSet behind the page, its CSV export and the API."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from leads.models import Stage
from leads.services import lead_transition
from sla import services as sla_services

from ..factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db

LEADS_API = "/api/v1/leads/"


def page_ids(client, **params) -> list[int]:
    response = client.get(reverse("leads:list"), params)
    assert response.status_code == 200
    return [lead.id for lead in response.context["page"]]


def api_ids(user, **params) -> list[int]:
    api = APIClient()
    api.force_authenticate(user)
    response = api.get(LEADS_API, params)
    assert response.status_code == 200, response.content
    return [lead["id"] for lead in response.json()["results"]]


def export_rows(client, **params) -> list[list[str]]:
    response = client.get(reverse("leads:export"), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.fixture
def world(alice, bob, dave):
    """Four leads that differ in every filtered attribute."""
    acme = CompanyFactory(name="Acme Robotics", industry="Manufacturing")
    soft = CompanyFactory(name="Soft KK", industry="Software")
    with time_machine.travel(dt.datetime(2026, 3, 10, 3, tzinfo=dt.UTC), tick=False):
        aoki = LeadFactory(
            first_name="Hiroki",
            last_name="Aoki",
            email="h.aoki@acme.example",
            company=acme,
            source="Webinar",
            owner=bob,
            total_score=85,
        )
        lead_transition(lead=aoki, to_stage=Stage.MQL)
    with time_machine.travel(dt.datetime(2026, 4, 20, 3, tzinfo=dt.UTC), tick=False):
        sato = LeadFactory(
            first_name="Hana",
            last_name="Sato",
            email="hana@soft.example",
            company=soft,
            source="webinar",
            owner=dave,
            total_score=40,
        )
        lead_transition(lead=sato, to_stage=Stage.MQL)
    with time_machine.travel(dt.datetime(2026, 5, 2, 3, tzinfo=dt.UTC), tick=False):
        kim = LeadFactory(
            first_name="Min",
            last_name="Kim",
            email="kim@soft.example",
            company=soft,
            source="paid_search",
            owner=None,
            total_score=10,
        )
        nobody = LeadFactory(
            first_name="",
            last_name="",
            email="x@nowhere.example",
            company=None,
            source="",
            owner=None,
            total_score=0,
        )
    return {"aoki": aoki, "sato": sato, "kim": kim, "nobody": nobody}


FILTER_CASES = [
    ({"q": "Hiroki Aoki"}, ["aoki"]),
    ({"q": "aoki hiroki"}, ["aoki"]),
    ({"q": "AokiHiroki"}, ["aoki"]),
    ({"q": "hana@"}, ["sato"]),
    ({"q": "acme"}, ["aoki"]),
    ({"q": "soft kk"}, ["kim", "sato"]),
    ({"source": "Webinar"}, ["aoki", "sato"]),
    ({"source": "WEBINAR"}, ["aoki", "sato"]),
    ({"source": "webinar"}, ["aoki", "sato"]),
    ({"industry": "software"}, ["kim", "sato"]),
    ({"stage": "mql"}, ["aoki", "sato"]),
    ({"stage": "lead"}, ["kim", "nobody"]),
    ({"owner": "none"}, ["kim", "nobody"]),
    ({"min_score": "40"}, ["aoki", "sato"]),
    ({"min_score": "5", "max_score": "50"}, ["kim", "sato"]),
    ({"created_from": "2026-04-01"}, ["kim", "nobody", "sato"]),
    ({"created_from": "2026-04-01", "created_to": "2026-04-30"}, ["sato"]),
    ({"mql_from": "2026-04-01"}, ["sato"]),
    ({"mql_to": "2026-03-31"}, ["aoki"]),
    ({"mql_from": "2026-03-01", "mql_to": "2026-04-30"}, ["aoki", "sato"]),
    ({"stage": "", "source": "", "q": ""}, ["aoki", "kim", "nobody", "sato"]),
]


@pytest.mark.parametrize("params,expected", FILTER_CASES)
def test_the_page_the_api_and_the_export_filter_alike(client, alice, world, params, expected):
    client.force_login(alice)
    want = sorted(world[name].id for name in expected)
    assert sorted(page_ids(client, **params)) == want
    assert sorted(api_ids(alice, **params)) == want
    assert sorted(int(row[0]) for row in export_rows(client, **params)[1:]) == want


def test_owner_filter_by_id(client, alice, bob, world):
    client.force_login(alice)
    assert page_ids(client, owner=bob.id) == [world["aoki"].id]
    assert api_ids(alice, owner=bob.id) == [world["aoki"].id]


def test_a_rep_filters_only_within_their_own_leads(client, bob, world):
    client.force_login(bob)
    assert page_ids(client, source="webinar") == [world["aoki"].id]
    assert api_ids(bob, source="webinar") == [world["aoki"].id]


@pytest.mark.parametrize(
    "ordering,expected",
    [
        ("score", ["nobody", "kim", "sato", "aoki"]),
        ("-score", ["aoki", "sato", "kim", "nobody"]),
        ("-created", ["nobody", "kim", "sato", "aoki"]),
        ("company", None),
    ],
)
def test_sorting_is_the_same_on_the_page_and_in_the_api(client, alice, world, ordering, expected):
    client.force_login(alice)
    on_page = page_ids(client, ordering=ordering)
    assert on_page == api_ids(alice, ordering=ordering)
    exported = [int(row[0]) for row in export_rows(client, ordering=ordering)[1:]]
    assert exported == on_page
    if expected:
        assert on_page == [world[name].id for name in expected]


def test_the_page_sorts_by_score_by_default_and_the_api_newest_first(client, alice, world):
    client.force_login(alice)
    assert page_ids(client)[0] == world["aoki"].id
    assert api_ids(alice)[-1] == world["aoki"].id


def test_column_headers_link_to_the_other_direction_and_keep_the_filters(client, alice, world):
    client.force_login(alice)
    html = client.get(reverse("leads:list"), {"source": "webinar", "ordering": "name"})
    headers = {h["param"]: h for h in html.context["headers"]}
    assert headers["name"]["sort"] == "ascending"
    assert "ordering=-name" in headers["name"]["url"]
    assert "source=webinar" in headers["name"]["url"]
    assert "ordering=-score" in headers["score"]["url"]


@pytest.mark.parametrize(
    "param,value",
    [
        ("ordering", "password"),
        ("owner", "bob"),
        ("min_score", "nan"),
        ("created_from", "yesterday"),
        ("mql_to", "2026-02-30"),
        ("stage", "won"),
        ("q", "x" * 201),
    ],
)
def test_a_bad_filter_is_named_on_the_page_in_the_api_and_in_the_export(
    client, alice, world, param, value
):
    client.force_login(alice)
    response = client.get(reverse("leads:list"), {param: value})
    assert response.status_code == 200
    assert param in response.context["form"].errors
    assert response.context["page"].paginator.count == 0
    api = APIClient()
    api.force_authenticate(alice)
    answer = api.get(LEADS_API, {param: value})
    assert answer.status_code == 400
    assert param in answer.json()["errors"]
    export = client.get(reverse("leads:export"), {param: value})
    assert export.status_code == 400
    assert param in export.content.decode()


def test_source_and_industry_are_chosen_from_the_values_present(client, alice, world):
    client.force_login(alice)
    form = client.get(reverse("leads:list")).context["form"]
    sources = [value for value, _label in form.fields["source"].widget.choices]
    assert sources == ["", "paid_search", "Webinar"] or sources == ["", "paid_search", "webinar"]
    industries = [value for value, _label in form.fields["industry"].widget.choices]
    assert industries == ["", "Manufacturing", "Software"]


def test_the_page_counts_and_pages(client, alice):
    LeadFactory.create_batch(55)
    client.force_login(alice)
    first = client.get(reverse("leads:list"))
    assert "1–50 of 55 leads" in first.content.decode()
    second = client.get(reverse("leads:list"), {"page": 2})
    assert "51–55 of 55 leads" in second.content.decode()
    assert len(second.context["page"]) == 5


def test_the_export_has_every_filtered_lead_with_readable_values(client, alice, world):
    client.force_login(alice)
    rows = export_rows(client, source="webinar", ordering="-score")
    assert rows[0][:4] == ["ID", "E-mail", "First name", "Last name"]
    aoki = dict(zip(rows[0], rows[1], strict=True))
    assert aoki["Company"] == "Acme Robotics"
    assert aoki["Stage"] == "MQL"
    assert aoki["Score"] == "85"
    assert aoki["Owner"] == "Bob Rep"
    assert aoki["Created"] == "2026-03-10 03:00"
    assert len(rows) == 3


def test_the_export_speaks_japanese_in_japanese(client, alice, world):
    alice.profile.language = "ja"
    alice.profile.time_zone = "Asia/Tokyo"
    alice.profile.save()
    client.force_login(alice)
    rows = export_rows(client, q="Hiroki Aoki")
    assert rows[0][1] == "メール"
    assert rows[1][-2] == "2026-03-10 12:00"


def test_the_url_carries_the_view_into_the_export_link(client, alice, world):
    client.force_login(alice)
    html = client.get(reverse("leads:list"), {"source": "webinar", "ordering": "-score"})
    assert 'href="/leads/export.csv?source=webinar&amp;ordering=-score"' in html.content.decode()


# Bulk actions -------------------------------------------------------------------------------


def bulk(client, **data):
    return client.post(reverse("sla:leads_bulk"), {"next": "/leads/?stage=mql", **data})


def test_a_sales_manager_reassigns_several_leads(client, carol, bob, dave, sla):
    leads = LeadFactory.create_batch(3, owner=bob)
    client.force_login(carol)
    response = bulk(client, action="reassign", to_user=dave.pk, leads=[lead.pk for lead in leads])
    assert response.status_code == 302
    assert response.url == "/leads/?stage=mql"
    assert all(lead.owner_id == dave.pk for lead in type(leads[0]).objects.all())
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["3 leads reassigned to Dave Rep."]


def test_a_bulk_reassign_names_each_lead_it_could_not_move(client, carol, bob, dave, erin, sla):
    mine = LeadFactory(owner=bob, first_name="Ok", last_name="One")
    already = LeadFactory(owner=dave, first_name="Already", last_name="Dave")
    other_team = LeadFactory(owner=erin, first_name="Far", last_name="Away")
    client.force_login(carol)
    response = bulk(
        client,
        action="reassign",
        to_user=dave.pk,
        leads=[mine.pk, already.pk, other_team.pk, 999999],
    )
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages[0] == "1 lead reassigned to Dave Rep."
    assert messages[1].startswith("3 leads were left as they were:")
    assert "Already Dave: The lead is already theirs." in messages[1]
    assert "Lead 999999: no such lead" in messages[1]
    assert f"Lead {other_team.pk}: no such lead" in messages[1]  # not visible to carol


def test_a_bulk_reassign_without_a_rep_is_refused_by_name(client, carol, bob, sla):
    lead = LeadFactory(owner=bob)
    client.force_login(carol)
    response = bulk(client, action="reassign", leads=[lead.pk])
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Reassign to: Choose the rep to hand the leads to."]
    response = bulk(client, action="reassign", to_user=bob.pk, leads=[])
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages[-1] == "Leads: Tick at least one lead."
    response = bulk(client, action="reassign", to_user=bob.pk, leads=["x"])
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages[-1] == "Leads: A lead id must be a whole number."


def test_marketing_cannot_reassign_and_a_rep_cannot_bulk_at_all(client, alice, bob, dave, sla):
    lead = LeadFactory(owner=bob)
    client.force_login(alice)
    assert bulk(client, action="reassign", to_user=dave.pk, leads=[lead.pk]).status_code == 403
    client.force_login(bob)
    assert bulk(client, action="reassign", to_user=dave.pk, leads=[lead.pk]).status_code == 403
    assert bulk(client, action="recycle", leads=[lead.pk]).status_code == 403


def test_marketing_recycles_rejected_leads_and_is_told_about_the_others(client, alice, bob, sla):
    rejected = LeadFactory(owner=bob, first_name="Was", last_name="Rejected")
    lead_transition(lead=rejected, to_stage=Stage.MQL)
    sla_services.lead_reject(lead=rejected, user=bob, reason="no_budget")
    fresh = LeadFactory(owner=bob, first_name="Still", last_name="New")
    client.force_login(alice)
    response = bulk(
        client,
        action="recycle",
        reason="nurture",
        note="Budget cycle starts in April",
        leads=[rejected.pk, fresh.pk],
    )
    rejected.refresh_from_db()
    assert rejected.stage == Stage.RECYCLED
    event = rejected.stage_events.order_by("-at", "-id").first()
    assert (event.actor, event.reason, event.note) == (
        alice,
        "nurture",
        "Budget cycle starts in April",
    )
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages[0] == "1 lead went back to marketing for nurturing."
    assert "Still New: This lead is not yours to act on." in messages[1]


def test_the_bulk_bar_shows_only_what_the_user_may_do(client, alice, carol, bob, world):
    client.force_login(bob)
    assert client.get(reverse("leads:list")).context["bulk"] is None
    client.force_login(alice)
    assert client.get(reverse("leads:list")).context["bulk"] == {
        "reassign": False,
        "recycle": True,
    }
    client.force_login(carol)
    context = client.get(reverse("leads:list")).context
    assert context["bulk"] == {"reassign": True, "recycle": True}
    assert bob in list(context["reps"])


def test_a_bulk_action_never_redirects_off_site(client, carol, bob, sla):
    lead = LeadFactory(owner=bob)
    client.force_login(carol)
    response = client.post(
        reverse("sla:leads_bulk"),
        {"next": "https://evil.example/", "action": "reassign", "leads": [lead.pk]},
    )
    assert response.url == reverse("leads:list")
