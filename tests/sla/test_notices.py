"""In-app notices the SLA writes beyond assignment and breaches: a lead reassigned away,
a deadline coming near."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from leads.models import Stage
from leads.services import lead_transition
from notifications.models import Notification
from sla import services
from sla.models import Handoff

from ..factories import LeadFactory
from .conftest import TOKYO

pytestmark = pytest.mark.django_db
MONDAY_10 = dt.datetime(2026, 11, 16, 10, 0, tzinfo=TOKYO)


def mql(lead, at=MONDAY_10):
    with time_machine.travel(at, tick=False):
        lead_transition(lead=lead, to_stage=Stage.MQL)
    return Handoff.objects.get(lead=lead)


def test_a_reassignment_tells_the_new_rep_and_the_one_who_had_it(sla, bob, dave, carol):
    handoff = mql(LeadFactory(owner=bob, first_name="Hana", last_name="Sato"))
    services.lead_reassign(lead=handoff.lead, to_user=dave, by=carol)
    away = Notification.objects.get(user=bob, kind=Notification.Kind.REASSIGNED_AWAY)
    assert away.subject == "Hana Sato was reassigned to Dave Rep"
    assert "Carol Boss" in away.body
    assert away.url == f"/leads/{handoff.lead_id}/"
    to_me = Notification.objects.filter(user=dave, kind=Notification.Kind.ASSIGNED).get()
    assert "Reassigned to you by Carol Boss." in to_me.body


def test_the_rep_is_warned_once_before_each_deadline(sla, bob):
    handoff = mql(LeadFactory(owner=bob, first_name="Hana", last_name="Sato"))
    # Accept by 14:00 Tokyo: nothing at 13:30, a warning at 13:50, none again at 13:55.
    assert services.deadline_near_sweep(now=dt.datetime(2026, 11, 16, 13, 30, tzinfo=TOKYO)) == 0
    assert services.deadline_near_sweep(now=dt.datetime(2026, 11, 16, 13, 50, tzinfo=TOKYO)) == 1
    assert services.deadline_near_sweep(now=dt.datetime(2026, 11, 16, 13, 55, tzinfo=TOKYO)) == 0
    note = Notification.objects.get(kind=Notification.Kind.DEADLINE_NEAR)
    assert note.user == bob and note.subject == "Deadline near: Accept or reject for Hana Sato"
    # Accepted at 13:56: the first-contact deadline gets its own warning when it nears.
    with time_machine.travel(dt.datetime(2026, 11, 16, 13, 56, tzinfo=TOKYO), tick=False):
        services.lead_accept(lead=handoff.lead, user=bob)
    handoff.refresh_from_db()
    near = handoff.first_contact_due_at - dt.timedelta(minutes=5)
    assert services.deadline_near_sweep(now=near) == 1
    assert services.deadline_near_sweep(now=near) == 0
    assert Notification.objects.filter(kind=Notification.Kind.DEADLINE_NEAR).count() == 2


def test_no_warning_for_a_rep_who_already_acted(sla, bob):
    handoff = mql(LeadFactory(owner=bob))
    with time_machine.travel(MONDAY_10 + dt.timedelta(minutes=5), tick=False):
        services.lead_accept(lead=handoff.lead, user=bob)
        services.contact_log(lead=handoff.lead, user=bob, channel="call", at=timezone.now())
    handoff.refresh_from_db()
    near = handoff.first_contact_due_at - dt.timedelta(minutes=5)
    assert services.deadline_near_sweep(now=near) == 0
