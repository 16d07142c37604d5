import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from leads.models import Stage, StageEvent
from leads.services import TransitionError, lead_transition
from notifications.models import Notification
from sla import services
from sla.models import Assignment, Handoff, SlaVersion

from ..factories import LeadFactory
from .conftest import TOKYO

pytestmark = pytest.mark.django_db
# Friday 20 November 2026, 17:00 in Tokyo; Monday the 23rd is a public holiday there.
FRIDAY_5PM = dt.datetime(2026, 11, 20, 17, 0, tzinfo=TOKYO)


def make_mql(lead, at=FRIDAY_5PM, **kw):
    return lead_transition(lead=lead, to_stage=Stage.MQL, at=at, **kw)


def test_an_mql_gets_a_handoff_with_business_time_deadlines(sla, bob):
    lead = LeadFactory(owner=bob)
    with time_machine.travel(FRIDAY_5PM, tick=False):
        event = make_mql(lead)
    handoff = Handoff.objects.get(mql_event=event)
    assert handoff.rep == bob and handoff.sla_version == sla and not handoff.hot
    # 1 h on Friday, Monday is Labour Thanksgiving Day, 3 h on Tuesday.
    assert handoff.accept_due_at == dt.datetime(2026, 11, 24, 12, 0, tzinfo=TOKYO)
    # 8 h: 1 h Friday + 7 h Tuesday.
    assert handoff.first_contact_due_at == dt.datetime(2026, 11, 24, 16, 0, tzinfo=TOKYO)


def test_hot_and_fast_tracked_leads_get_the_tight_first_contact_deadline(sla, bob):
    hot = LeadFactory(owner=bob, total_score=85)
    fast = LeadFactory(owner=bob, fast_tracked=True)
    with time_machine.travel(FRIDAY_5PM, tick=False):
        make_mql(hot)
        make_mql(fast, reason="fast_track")
    for lead in (hot, fast):
        handoff = Handoff.objects.get(lead=lead)
        assert handoff.hot
        assert handoff.first_contact_due_at == dt.datetime(2026, 11, 20, 17, 30, tzinfo=TOKYO)


def test_the_sla_in_force_at_mql_time_governs_the_handoff(sla, alice, carol, bob):
    first = LeadFactory(owner=bob)
    with time_machine.travel(FRIDAY_5PM, tick=False):
        make_mql(first)
    draft = services.sla_draft_get_or_create(user=alice)
    SlaVersion.objects.filter(pk=draft.pk).update(accept_within_hours=1)
    services.sla_approve(version=draft, user=alice)
    services.sla_approve(version=draft, user=carol)
    # Published (and so in force) an hour before the second MQL.
    with time_machine.travel(FRIDAY_5PM - dt.timedelta(hours=1), tick=False):
        services.sla_publish(version=draft, user=carol)
    second = LeadFactory(owner=bob)
    with time_machine.travel(FRIDAY_5PM, tick=False):
        make_mql(second)
    old, new = Handoff.objects.get(lead=first), Handoff.objects.get(lead=second)
    assert old.sla_version.number == 1 and old.accept_due_at.astimezone(TOKYO).hour == 12
    assert new.sla_version.number == 2
    assert new.accept_due_at == dt.datetime(2026, 11, 20, 18, 0, tzinfo=TOKYO)


def test_sla_sign_off_needs_both_sides_and_an_edit_withdraws_it(sla, alice, carol, bob):
    draft = services.sla_draft_get_or_create(user=alice)
    services.sla_draft_update(version=draft, data={"accept_within_hours": 2}, user=alice)
    with pytest.raises(PermissionDenied):
        services.sla_approve(version=draft, user=bob)
    services.sla_approve(version=draft, user=alice)
    with pytest.raises(ValidationError, match="Sales"):
        services.sla_publish(version=draft, user=alice)
    services.sla_approve(version=draft, user=carol)
    assert services.sla_draft_edited(version=draft, user=alice) == 2
    with pytest.raises(ValidationError):
        services.sla_publish(version=draft, user=alice)


def test_an_invalid_calendar_cannot_be_approved(sla, alice):
    draft = services.sla_draft_get_or_create(user=alice)
    SlaVersion.objects.filter(pk=draft.pk).update(day_end=dt.time(8), time_zone="Mars/Base")
    draft.refresh_from_db()
    with pytest.raises(ValidationError) as excinfo:
        services.sla_approve(version=draft, user=alice)
    assert "time_zone" in excinfo.value.message_dict


def test_the_rep_accepts_logs_a_call_and_qualifies_with_bant(sla, bob):
    lead = LeadFactory(owner=bob)
    make_mql(lead, at=FRIDAY_5PM)
    with time_machine.travel(dt.datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO), tick=False):
        services.lead_accept(lead=lead, user=bob)
        services.contact_log(
            lead=lead, user=bob, channel="call", at=dt.datetime(2026, 11, 24, 9, 45, tzinfo=TOKYO)
        )
        services.lead_qualify(
            lead=lead,
            user=bob,
            bant={"budget": "¥5M", "authority": "CTO", "need": "SLA tracking", "timeline": "Q1"},
        )
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.status == Handoff.Status.CLOSED and handoff.outcome == Stage.SQL
    assert handoff.first_contact_at == dt.datetime(2026, 11, 24, 9, 45, tzinfo=TOKYO)
    # 10 business days of 9 h from Tuesday 10:00, skipping weekends.
    assert handoff.qualify_due_at == dt.datetime(2026, 12, 8, 10, 0, tzinfo=TOKYO)
    sql = StageEvent.objects.get(lead=lead, to_stage=Stage.SQL)
    assert sql.context["bant"]["authority"] == "CTO" and sql.actor == bob


def test_qualifying_needs_all_of_bant(sla, bob):
    lead = LeadFactory(owner=bob)
    make_mql(lead)
    services.lead_accept(lead=lead, user=bob)
    with pytest.raises(ValidationError) as excinfo:
        services.lead_qualify(lead=lead, user=bob, bant={"budget": "yes", "need": " "})
    assert set(excinfo.value.message_dict) == {"authority", "need", "timeline"}


def test_rejection_needs_a_reason_from_the_list_and_marketing_sees_it(sla, bob):
    lead = LeadFactory(owner=bob)
    make_mql(lead)
    with pytest.raises(ValidationError):
        services.lead_reject(lead=lead, user=bob, reason="meh")
    services.lead_reject(lead=lead, user=bob, reason="student", note="Thesis research")
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.status == Handoff.Status.REJECTED and handoff.outcome == "student"
    event = StageEvent.objects.get(lead=lead, to_stage=Stage.REJECTED)
    assert (event.reason, event.note) == ("student", "Thesis research")


@pytest.mark.parametrize(
    "persona,allowed",
    [
        ("bob", True),
        ("carol", True),
        ("dave", False),
        ("erin", False),
        ("alice", False),
        ("mallory", False),
    ],
)
def test_permission_matrix_for_acting_on_a_lead(request, sla, bob, persona, allowed):
    lead = LeadFactory(owner=bob)
    make_mql(lead)
    user = request.getfixturevalue(persona)
    if allowed:
        services.lead_accept(lead=lead, user=user)
        assert Handoff.objects.get(lead=lead).status == Handoff.Status.ACCEPTED
    else:
        with pytest.raises(PermissionDenied):
            services.lead_accept(lead=lead, user=user)
        with pytest.raises(PermissionDenied):
            services.contact_log(lead=lead, user=user, channel="call", at=FRIDAY_5PM)


def test_two_people_acting_at_once_one_wins_the_other_is_told(sla, bob, carol):
    lead = LeadFactory(owner=bob)
    make_mql(lead)
    seen_by_carol = type(lead).objects.get(pk=lead.pk)
    services.lead_accept(lead=lead, user=bob)
    with pytest.raises(TransitionError, match="someone else changed it first"):
        services.lead_reject(lead=seen_by_carol, user=carol, reason="no_budget")
    assert list(lead.stage_events.values_list("to_stage", flat=True)) == ["mql", "sal"]


def test_a_contact_cannot_be_in_the_future_or_before_the_mql(sla, bob):
    lead = LeadFactory(owner=bob)
    with time_machine.travel(FRIDAY_5PM, tick=False):
        make_mql(lead)
        with pytest.raises(ValidationError) as excinfo:
            services.contact_log(
                lead=lead, user=bob, channel="call", at=FRIDAY_5PM + dt.timedelta(hours=1)
            )
        assert "at" in excinfo.value.message_dict
        with pytest.raises(ValidationError):
            services.contact_log(
                lead=lead, user=bob, channel="call", at=FRIDAY_5PM - dt.timedelta(hours=1)
            )
        with pytest.raises(ValidationError):
            services.contact_log(lead=lead, user=bob, channel="pigeon", at=FRIDAY_5PM)


def test_a_manager_reassigns_and_it_is_recorded(sla, bob, dave, carol, erin):
    lead = LeadFactory(owner=bob)
    make_mql(lead)
    services.lead_reassign(lead=lead, to_user=dave, by=carol, note="Bob is on leave")
    lead.refresh_from_db()
    assert lead.owner == dave and Handoff.objects.get(lead=lead).rep == dave
    last = Assignment.objects.filter(lead=lead).last()
    assert (last.user, last.assigned_by, last.reason) == (dave, carol, "Bob is on leave")
    with pytest.raises(PermissionDenied):
        services.lead_reassign(lead=lead, to_user=bob, by=bob)
    with pytest.raises(ValidationError):
        services.lead_reassign(lead=lead, to_user=carol, by=carol)


def test_imported_history_fills_handoffs_without_notifying(sla, bob, mailoutbox):
    lead = LeadFactory(owner=bob)
    origin = StageEvent.Origin.IMPORT
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO)
    lead_transition(lead=lead, to_stage=Stage.MQL, at=start, origin=origin)
    lead_transition(lead=lead, to_stage=Stage.SAL, at=start + dt.timedelta(hours=6), origin=origin)
    lead_transition(lead=lead, to_stage=Stage.SQL, at=start + dt.timedelta(days=3), origin=origin)
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.accepted_at == start + dt.timedelta(hours=6)
    assert handoff.status == Handoff.Status.CLOSED
    assert not Notification.objects.filter(about=f"handoff:{handoff.pk}").exists()
