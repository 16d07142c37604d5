from collections import Counter

import pytest
from django.contrib.auth.models import Group

from leads import roles
from leads.models import Stage
from leads.services import lead_transition
from sla import services
from sla.models import Assignment, Handoff, RoutingRule

from ..factories import CompanyFactory, LeadFactory, ProfileFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def rep(name, team, weight=1, away=False):
    user = UserFactory(username=name)
    ProfileFactory(user=user, team=team, routing_weight=weight, is_away=away)
    user.groups.add(Group.objects.get(name=roles.SALES_REP))
    return user


def route_many(n, **lead_kwargs):
    owners = []
    for _ in range(n):
        lead = LeadFactory(**lead_kwargs)
        lead_transition(lead=lead, to_stage=Stage.MQL)
        owners.append(Handoff.objects.get(lead=lead).rep.username)
    return Counter(owners)


def route_directly(n: int) -> Counter:
    """Routing alone, n times, for a lead without an owner (hand-offs are tested elsewhere)."""
    lead = LeadFactory.create()
    counts: Counter = Counter()
    for i in range(n):
        _team, chosen = services.route(lead)
        counts[chosen.username] += 1
        # Never more than one apart, at every step, not only at the end.
        assert max(counts.values()) - min(counts.values()) <= 1 or i < 7, counts
    return counts


def test_round_robin_is_fair_within_one_lead_at_every_step_of_700_assignments(sla):
    team = TeamFactory(name="Inside")
    for name in ("r1", "r2", "r3", "r4", "r5", "r6", "r7"):
        rep(name, team)
    counts = route_directly(700)
    assert sum(counts.values()) == 700 and len(counts) == 7
    assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_routing_a_handoff_counts_it_for_the_rep(sla):
    team = TeamFactory(name="Inside")
    rep("r1", team)
    rep("r2", team)
    assert route_many(4) == {"r1": 2, "r2": 2}


def test_weights_share_in_proportion_and_reps_away_get_nothing(sla):
    team = TeamFactory(name="Inside")
    rep("heavy", team, weight=2)
    rep("light", team, weight=1)
    rep("gone", team, away=True)
    lead = LeadFactory()
    counts = Counter(services.route(lead)[1].username for _ in range(300))
    assert counts == {"heavy": 200, "light": 100}


def test_routing_rules_pick_the_team_by_country_industry_or_size(sla):
    domestic, enterprise, default = (
        TeamFactory(name="B Japan"),
        TeamFactory(name="C Big"),
        TeamFactory(name="A Default"),
    )
    rep("jp", domestic)
    rep("big", enterprise)
    rep("any", default)
    RoutingRule.objects.create(
        position=1, name="Japan", field="country", values=["Japan"], team=domestic
    )
    RoutingRule.objects.create(
        position=2, name="Large", field="employees", min_employees=1000, team=enterprise
    )
    assert route_many(1, country="japan", company=CompanyFactory(employees=5000)) == {"jp": 1}
    assert route_many(1, country="US", company=CompanyFactory(employees=5000)) == {"big": 1}
    assert route_many(1, country="US", company=CompanyFactory(employees=10)) == {"any": 1}


def test_an_owner_who_is_a_rep_keeps_the_lead(sla, bob):
    team = TeamFactory(name="Other")
    rep("someone", team)
    lead = LeadFactory(owner=bob)
    lead_transition(lead=lead, to_stage=Stage.MQL)
    assert Handoff.objects.get(lead=lead).rep == bob
    assert Assignment.objects.get(lead=lead).assigned_by is None


def test_no_rep_available_leaves_the_handoff_unassigned(sla):
    lead = LeadFactory()
    lead_transition(lead=lead, to_stage=Stage.MQL)
    assert Handoff.objects.get(lead=lead).rep is None
    assert services.route(lead) == (None, None)
