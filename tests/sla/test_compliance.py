"""Reps read the live SLA and their own compliance (this month and last); managers see
their team's, marketing everyone's."""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from leads.models import Stage
from leads.services import lead_transition
from sla import services
from sla.models import SlaVersion

from ..factories import LeadFactory
from .conftest import TOKYO

pytestmark = pytest.mark.django_db
OCT = dt.datetime(2026, 10, 19, 10, 0, tzinfo=TOKYO)
NOV = dt.datetime(2026, 11, 16, 10, 0, tzinfo=TOKYO)


def mql(owner, at):
    with time_machine.travel(at, tick=False):
        lead = LeadFactory(owner=owner)
        lead_transition(lead=lead, to_stage=Stage.MQL)
        lead.refresh_from_db()
    return lead


@pytest.fixture
def history(sla, bob, dave):
    # October: Bob accepts one in time and misses one; November: one in time so far.
    on_time = mql(bob, OCT)
    with time_machine.travel(OCT + dt.timedelta(hours=1), tick=False):
        services.lead_accept(lead=on_time, user=bob)
    mql(bob, OCT)
    services.breach_sweep(now=OCT + dt.timedelta(days=1))
    mql(bob, NOV)
    mql(dave, NOV)


def page(user):
    client = Client()
    client.force_login(user)
    with time_machine.travel(NOV + dt.timedelta(hours=1), tick=False):
        response = client.get(reverse("sla:overview"))
    assert response.status_code == 200
    return response


def test_a_rep_reads_the_live_sla_and_only_their_own_compliance(history, bob, dave):
    response = page(bob)
    text = response.content.decode()
    assert 'id="live"' in text and "My compliance" in text
    this, last = response.context["compliance"]
    assert [r["rep"] for r in this["rows"]] == [bob]
    assert this["rows"][0]["mqls"] == 1 and this["rows"][0]["rate"] == 100
    assert last["rows"][0]["mqls"] == 2 and last["rows"][0]["accepted_in_time"] == 1
    assert last["rows"][0]["rate"] == 50 and last["rows"][0]["breaches"] >= 1
    assert "Dave Rep" not in text.split('id="compliance"')[1].split("</section>")[0]


def test_a_rep_does_not_see_the_draft_or_its_controls(history, bob, alice):
    services.sla_draft_get_or_create(user=alice)
    assert SlaVersion.objects.filter(status=SlaVersion.Status.DRAFT).exists()
    text = page(bob).content.decode()
    assert 'name="approve"' not in text and 'name="publish"' not in text
    assert "Draft: version" not in text


def test_the_manager_sees_each_rep_of_the_team(history, carol, bob, dave):
    this, _last = page(carol).context["compliance"]
    assert {r["rep"] for r in this["rows"]} == {bob, dave}
    assert "Compliance by rep" in page(carol).content.decode()


def test_the_nav_shows_the_sla_to_reps(history, bob):
    text = page(bob).content.decode()
    assert (
        f'href="{reverse("sla:overview")}"' in text.split('class="mainnav"')[1].split("</nav>")[0]
    )
