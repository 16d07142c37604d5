"""The queue's live address: count, rows and a fingerprint that changes with them."""

import pytest
from django.test import Client
from django.urls import reverse

from leads.models import Stage
from leads.services import lead_transition
from sla import services

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db


def live(user, scope: str = "") -> dict:
    client = Client()
    client.force_login(user)
    url = reverse("sla:queue_live") + (f"?scope={scope}" if scope else "")
    response = client.get(url)
    assert response.status_code == 200
    return response.json()


def test_the_live_queue_counts_and_renders_the_reps_rows(sla, bob, dave):
    empty = live(bob)
    assert empty["count"] == 0 and empty["unread"] == 0
    lead = LeadFactory(owner=bob, first_name="Hana", last_name="Sato")
    lead_transition(lead=lead, to_stage=Stage.MQL)
    lead_transition(lead=LeadFactory(owner=dave), to_stage=Stage.MQL)
    data = live(bob)
    assert data["count"] == 1 and data["unread"] == 1
    assert f'data-lead="{lead.pk}"' in data["rows"] and "Hana Sato" in data["rows"]
    assert data["fingerprint"] != empty["fingerprint"]
    # The rows' forms come back to the queue page, not to the live address.
    assert f'name="next" value="{reverse("sla:queue")}"' in data["rows"]
    assert live(bob)["fingerprint"] == data["fingerprint"]
    lead.refresh_from_db()
    services.lead_accept(lead=lead, user=bob)
    assert live(bob)["fingerprint"] != data["fingerprint"]


def test_the_team_scope_is_for_managers(sla, bob, carol):
    lead = LeadFactory(owner=bob)
    lead_transition(lead=lead, to_stage=Stage.MQL)
    assert live(carol, "team")["count"] == 1
    client = Client()
    client.force_login(bob)
    assert client.get(reverse("sla:queue_live") + "?scope=team").status_code == 403


def test_the_queue_page_title_shows_the_count(sla, bob):
    lead_transition(lead=LeadFactory(owner=bob), to_stage=Stage.MQL)
    client = Client()
    client.force_login(bob)
    text = client.get(reverse("sla:queue")).content.decode()
    assert "<title>(1) My queue · Handoff</title>" in text
    assert 'data-live="/sla/queue/live/"' in text and "js/queue-live.js" in text
