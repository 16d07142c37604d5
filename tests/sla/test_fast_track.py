"""A fast-track activity on a lead that is already an open MQL: the hand-off turns hot, its
first-contact deadline tightens to the hot one (never loosens), and the rep is told."""

import datetime as dt

import pytest
import time_machine

from leads.models import Stage
from leads.services import lead_transition
from notifications.models import Notification
from scoring import services as scoring
from sla import services
from sla.models import Handoff

from ..factories import ActivityFactory, LeadFactory
from ..scoring.helpers import make_version, rule
from .conftest import TOKYO

pytestmark = pytest.mark.django_db
MONDAY_10 = dt.datetime(2026, 11, 16, 10, 0, tzinfo=TOKYO)


@pytest.fixture
def ruleset(db):
    version = make_version(threshold=50)
    rule(version, "fast_track", "Demo request", activity_kind="demo_request")
    return version


def open_mql(bob):
    with time_machine.travel(MONDAY_10, tick=False):
        lead = LeadFactory(owner=bob, first_name="Hana", last_name="Sato", total_score=55)
        lead_transition(lead=lead, to_stage=Stage.MQL)
    handoff = Handoff.objects.get(lead=lead)
    assert not handoff.hot
    # 8 business hours: Monday 18:00 Tokyo.
    assert handoff.first_contact_due_at == dt.datetime(2026, 11, 16, 18, 0, tzinfo=TOKYO)
    return lead


def demo_request(lead, at):
    with time_machine.travel(at, tick=False):
        ActivityFactory(lead=lead, kind="demo_request", occurred_at=at)
        scoring.lead_rescore(lead_id=lead.pk)


def test_a_demo_request_makes_the_open_mql_hot_and_tightens_first_contact(sla, ruleset, bob):
    lead = open_mql(bob)
    demo_request(lead, MONDAY_10 + dt.timedelta(hours=1))
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.hot
    # 30 business minutes from the demo request at 11:00.
    assert handoff.first_contact_due_at == dt.datetime(2026, 11, 16, 11, 30, tzinfo=TOKYO)
    note = Notification.objects.get(kind=Notification.Kind.HOT, user=bob)
    assert note.subject.startswith("Now hot: Hana Sato")
    assert "make first contact by 2026-11-16 11:30" in note.body
    # A second fast-track changes nothing and tells nobody again.
    demo_request(lead, MONDAY_10 + dt.timedelta(hours=2))
    assert Notification.objects.filter(kind=Notification.Kind.HOT).count() == 1


def test_a_deadline_already_tighter_is_never_loosened(sla, bob):
    lead = open_mql(bob)
    tight = MONDAY_10 + dt.timedelta(minutes=10)
    Handoff.objects.filter(lead=lead).update(first_contact_due_at=tight)
    with time_machine.travel(MONDAY_10 + dt.timedelta(minutes=5), tick=False):
        from django.db import transaction

        with transaction.atomic():
            services.handoff_make_hot(lead.pk, MONDAY_10 + dt.timedelta(minutes=5))
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.hot and handoff.first_contact_due_at == tight


def test_a_lead_already_contacted_keeps_its_hand_off(sla, ruleset, bob):
    lead = open_mql(bob)
    with time_machine.travel(MONDAY_10 + dt.timedelta(minutes=20), tick=False):
        lead.refresh_from_db()
        services.lead_accept(lead=lead, user=bob)
        services.contact_log(
            lead=lead, user=bob, channel="call", at=MONDAY_10 + dt.timedelta(minutes=20)
        )
    demo_request(lead, MONDAY_10 + dt.timedelta(hours=1))
    assert not Notification.objects.filter(kind=Notification.Kind.HOT).exists()
