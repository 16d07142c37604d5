"""The BANT answers a rep gives when qualifying stay visible: on the lead page (with who and
when), in the team view and in the API's lead detail."""

import datetime as dt
from html import unescape

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from leads.models import Stage
from leads.services import lead_transition
from sla import services

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 11, 16, 2, 30, tzinfo=dt.UTC)
BANT = {
    "budget": "¥5M this fiscal year",
    "authority": "Hana decides with the CFO",
    "need": "Replace spreadsheets",
    "timeline": "Go live in April",
}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(AT - dt.timedelta(hours=2), tick=False) as traveller:
        yield traveller


@pytest.fixture
def qualified(sla, bob, clock):
    lead = LeadFactory(owner=bob, first_name="Hana", last_name="Sato")
    lead_transition(lead=lead, to_stage=Stage.MQL)
    lead.refresh_from_db()
    services.lead_accept(lead=lead, user=bob)
    lead.refresh_from_db()
    clock.move_to(AT)
    services.lead_qualify(lead=lead, user=bob, bant=BANT, note="Demo went well")
    lead.refresh_from_db()
    clock.move_to(AT + dt.timedelta(days=3))
    return lead


def page(user, url: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_the_lead_page_shows_bant_with_who_qualified_and_when(qualified, bob, carol):
    for viewer in (bob, carol):
        text = page(viewer, reverse("leads:detail", args=[qualified.pk]))
        section = text.split('id="bant"')[1].split("</section>")[0]
        assert "Qualified to SQL by Bob Rep" in section
        assert "11/16/2026 2:30 a.m." in section
        for label, answer in zip(
            ("Budget", "Authority", "Need", "Timeline"), BANT.values(), strict=True
        ):
            assert label in section and answer in section
        # The SQL event in the history carries them too.
        history = text.split('class="history"')[1].split("</ol>")[0]
        assert "SAL → SQL" in history and "Bob Rep" in history and BANT["need"] in history


def test_a_lead_never_qualified_has_no_bant_section(sla, bob):
    lead = LeadFactory(owner=bob)
    assert 'id="bant"' not in page(bob, reverse("leads:detail", args=[lead.pk]))


def test_the_team_view_lists_recent_qualifications_with_bant(qualified, carol):
    text = page(carol, reverse("sla:queue") + "?scope=team")
    table = text.split('id="team-qualified"')[1].split("</table>")[0]
    assert "Hana Sato" in table and "Bob Rep" in table
    for answer in BANT.values():
        assert answer in table


def test_the_api_lead_detail_has_the_qualification_and_bant_on_the_sql_event(qualified, bob):
    client = APIClient()
    client.force_authenticate(bob)
    data = client.get(f"/api/v1/leads/{qualified.pk}/").json()
    assert data["qualification"] == {
        **BANT,
        "qualified_by": "bob",
        "qualified_at": "2026-11-16T02:30:00Z",
    }
    sql = [e for e in data["history"] if e["to_stage"] == "sql"]
    assert sql[0]["bant"] == BANT and sql[0]["actor"] == "bob"
    assert all(e["bant"] is None for e in data["history"] if e["to_stage"] != "sql")


def test_the_api_says_null_for_a_lead_never_qualified(sla, bob):
    lead = LeadFactory(owner=bob)
    client = APIClient()
    client.force_authenticate(bob)
    assert client.get(f"/api/v1/leads/{lead.pk}/").json()["qualification"] is None
