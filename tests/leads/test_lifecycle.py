import datetime as dt

import pytest
from django.utils import timezone

from leads.models import ALLOWED_TRANSITIONS, Lead, Stage, StageEvent
from leads.services import TransitionError, lead_transition

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db

PATH = [Stage.MQL, Stage.SAL, Stage.SQL]


def test_the_happy_path_writes_one_event_per_change(bob):
    lead = LeadFactory()
    for stage in PATH:
        lead_transition(lead=lead, to_stage=stage, actor=bob)
    lead.refresh_from_db()
    assert lead.stage == Stage.SQL
    events = list(lead.stage_events.values_list("from_stage", "to_stage"))
    assert events == [("lead", "mql"), ("mql", "sal"), ("sal", "sql")]
    assert all(e.actor == bob for e in lead.stage_events.all())


@pytest.mark.parametrize(
    "path",
    [
        [Stage.MQL, Stage.REJECTED, Stage.RECYCLED, Stage.MQL],
        [Stage.MQL, Stage.SAL, Stage.RECYCLED, Stage.MQL, Stage.SAL, Stage.SQL],
        [Stage.MQL, Stage.SAL, Stage.DISQUALIFIED],
    ],
)
def test_every_agreed_path_is_allowed(path):
    lead = LeadFactory()
    for stage in path:
        lead_transition(lead=lead, to_stage=stage)
    assert StageEvent.objects.filter(lead=lead).count() == len(path)


@pytest.mark.parametrize(
    "from_stage,to_stage",
    [(s, t) for s in Stage.values for t in Stage.values if t not in ALLOWED_TRANSITIONS[s]],
)
def test_every_other_move_is_refused_and_writes_nothing(from_stage, to_stage):
    lead = LeadFactory(stage=from_stage)
    with pytest.raises(TransitionError):
        lead_transition(lead=lead, to_stage=to_stage)
    assert Lead.objects.get(pk=lead.pk).stage == from_stage
    assert not StageEvent.objects.exists()


def test_a_stale_action_loses_with_a_clear_message(bob, dave):
    lead = LeadFactory(stage=Stage.MQL)
    shown_to_dave = Lead.objects.get(pk=lead.pk)
    lead_transition(lead=lead, to_stage=Stage.SAL, actor=bob, expected_stage=Stage.MQL)
    with pytest.raises(TransitionError) as excinfo:
        lead_transition(
            lead=shown_to_dave, to_stage=Stage.REJECTED, actor=dave, expected_stage=Stage.MQL
        )
    assert "someone else changed it first" in str(excinfo.value)
    assert list(lead.stage_events.values_list("to_stage", flat=True)) == ["sal"]


def test_history_cannot_be_dated_before_the_previous_change():
    lead = LeadFactory()
    when = timezone.now() - dt.timedelta(days=3)
    lead_transition(lead=lead, to_stage=Stage.MQL, at=when)
    with pytest.raises(TransitionError):
        lead_transition(lead=lead, to_stage=Stage.SAL, at=when - dt.timedelta(hours=1))
    lead_transition(lead=lead, to_stage=Stage.SAL, at=when + dt.timedelta(hours=1))
    assert lead.stage_events.count() == 2


def test_system_changes_have_no_actor_and_say_where_they_came_from():
    lead = LeadFactory()
    event = lead_transition(lead=lead, to_stage=Stage.MQL, origin=StageEvent.Origin.SYSTEM)
    assert event.actor is None
    assert str(event.actor_label) == "System"


@pytest.mark.parametrize(
    "start,to_stage",
    [
        ([Stage.MQL], Stage.SQL),
        ([], Stage.SQL),
        ([Stage.MQL], Stage.DISQUALIFIED),
    ],
)
def test_history_may_skip_implied_steps_but_live_actions_may_not(start, to_stage):
    lead = LeadFactory()
    for stage in start:
        lead_transition(lead=lead, to_stage=stage)
    with pytest.raises(TransitionError):
        lead_transition(lead=lead, to_stage=to_stage)
    event = lead_transition(lead=lead, to_stage=to_stage, history=True)
    assert event.skipped and event.from_stage == (start[-1] if start else Stage.LEAD)


def test_history_never_implies_a_rejection_nor_goes_backwards():
    lead = LeadFactory()
    lead_transition(lead=lead, to_stage=Stage.MQL)
    lead_transition(lead=lead, to_stage=Stage.SAL)
    for to_stage in (Stage.REJECTED, Stage.MQL, Stage.LEAD):
        with pytest.raises(TransitionError):
            lead_transition(lead=lead, to_stage=to_stage, history=True)
    event = lead_transition(lead=lead, to_stage=Stage.SQL, history=True)
    assert not event.skipped
