"""The team view a sales manager runs: a row per rep, a filter by rep, bulk reassign with a
required target, breach and escalation markers."""

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from leads.models import Stage
from leads.services import lead_transition
from sla import services
from sla.models import Breach, Handoff

from ..factories import LeadFactory
from .conftest import TOKYO

pytestmark = pytest.mark.django_db
MONDAY_10 = dt.datetime(2026, 11, 16, 10, 0, tzinfo=TOKYO)
TEAM = reverse("sla:queue") + "?scope=team"


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_10, tick=False) as traveller:
        yield traveller


def mql(owner, **kw):
    lead = LeadFactory(owner=owner, **kw)
    lead_transition(lead=lead, to_stage=Stage.MQL)
    lead.refresh_from_db()
    return lead


def manager(carol) -> Client:
    client = Client()
    client.force_login(carol)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_row_per_rep_with_open_due_soon_overdue_breached_and_accepted_today(
    sla, clock, bob, dave, carol
):
    accepted = mql(bob)
    services.lead_accept(lead=accepted, user=bob)
    mql(bob)
    late = mql(dave, first_name="Late", last_name="Lead")
    # 13:30 Tokyo: the accept deadlines (14:00) are due soon; Dave's lead breached earlier.
    clock.move_to(MONDAY_10 + dt.timedelta(hours=3, minutes=30))
    handoff = Handoff.objects.get(lead=late)
    Breach.objects.create(handoff=handoff, kind="accept", due_at=MONDAY_10, escalated_at=MONDAY_10)
    response = manager(carol).get(TEAM)
    summary = {s["rep"].username: s for s in response.context["summary"]}
    assert summary["bob"]["open"] == 2 and summary["bob"]["accepted_today"] == 1
    assert summary["bob"]["due_soon"] == 1 and summary["bob"]["overdue"] == 0
    assert summary["dave"]["open"] == 1 and summary["dave"]["breached_month"] == 1
    text = response.content.decode()
    assert 'id="team-summary"' in text
    row = text.split(f'data-lead="{late.pk}"')[1].split("</tr>")[0]
    assert "Escalated" in row


def test_the_manager_filters_by_rep(sla, clock, bob, dave, carol):
    mine = mql(bob, first_name="Bob's", last_name="Lead")
    theirs = mql(dave, first_name="Dave's", last_name="Lead")
    response = manager(carol).get(TEAM + f"&rep={dave.pk}")
    leads = [h.lead_id for h in response.context["rows"]]
    assert leads == [theirs.pk]
    assert mine.pk not in leads
    # The rows' forms and the live updates keep the filter.
    assert response.context["back"] == TEAM + f"&rep={dave.pk}"
    assert response.context["live_url"].endswith(f"?scope=team&rep={dave.pk}")


def test_bulk_reassign_moves_the_ticked_leads_to_the_chosen_rep(sla, clock, bob, dave, carol):
    one, two, stay = mql(bob), mql(bob), mql(bob)
    response = manager(carol).post(
        reverse("sla:bulk_reassign"),
        {"leads": [one.pk, two.pk], "to_user": dave.pk, "next": TEAM},
    )
    assert response["Location"] == TEAM
    assert texts(response) == ["2 leads reassigned to Dave Rep."]
    for lead in (one, two, stay):
        lead.refresh_from_db()
    assert one.owner == dave and two.owner == dave and stay.owner == bob


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to_user": ""}, "Reassign to: choose the rep who takes the ticked leads."),
        ({"to_user": "999999"}, "Reassign to: choose the rep who takes the ticked leads."),
        ({"to_user": "x"}, "Reassign to: choose the rep who takes the ticked leads."),
        ({}, "Reassign to: choose the rep who takes the ticked leads."),
    ],
)
def test_bulk_reassign_without_a_target_is_an_error_and_changes_nothing(
    sla, clock, bob, carol, data, message
):
    lead = mql(bob)
    response = manager(carol).post(
        reverse("sla:bulk_reassign"), {"leads": [lead.pk], "next": TEAM, **data}
    )
    assert response.status_code == 302 and texts(response) == [message]
    lead.refresh_from_db()
    assert lead.owner == bob


def test_bulk_reassign_without_ticked_leads_says_so(sla, clock, bob, dave, carol):
    response = manager(carol).post(reverse("sla:bulk_reassign"), {"to_user": dave.pk})
    assert texts(response) == ["Tick the leads to reassign."]


def test_reps_cannot_bulk_reassign(sla, clock, bob, dave):
    lead = mql(bob)
    client = Client()
    client.force_login(bob)
    response = client.post(reverse("sla:bulk_reassign"), {"leads": [lead.pk], "to_user": dave.pk})
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.owner == bob
