"""A click on a page that went stale says what changed, who did it and when."""

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from leads.models import Stage
from leads.services import lead_transition
from sla import services

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 11, 16, 1, 0, tzinfo=dt.UTC)


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_rep_clicking_a_lead_reassigned_away_is_told_to_whom_and_by_whom(sla, bob, dave, carol):
    with time_machine.travel(AT, tick=False):
        lead = LeadFactory(owner=bob, first_name="Hana", last_name="Sato")
        lead_transition(lead=lead, to_stage=Stage.MQL)
        lead.refresh_from_db()
        services.lead_reassign(lead=lead, to_user=dave, by=carol, note="")
    client = Client()
    client.force_login(bob)
    response = client.post(
        reverse("sla:lead_accept", args=[lead.pk]),
        {"expected_stage": "mql", "next": reverse("sla:queue")},
        follow=True,
    )
    assert response.redirect_chain == [(reverse("sla:queue"), 302)]
    assert texts(response) == [
        "This lead was reassigned to Dave Rep by Carol Boss (11/16/2026 1 a.m.)."
    ]
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL and lead.owner == dave
    # From the lead page, which is no longer his to see, he lands on his queue too.
    response = client.post(
        reverse("sla:lead_reject", args=[lead.pk]), {"expected_stage": "mql", "reason": "student"}
    )
    assert response["Location"] == reverse("sla:queue")


def test_someone_who_never_had_the_lead_still_gets_404(sla, bob, dave, erin):
    lead = LeadFactory(owner=dave)
    lead_transition(lead=lead, to_stage=Stage.MQL)
    client = Client()
    client.force_login(erin)
    response = client.post(reverse("sla:lead_accept", args=[lead.pk]), {"expected_stage": "mql"})
    assert response.status_code == 404
