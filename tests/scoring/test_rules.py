"""Each rule kind at its edges, through the real single-lead path (lead_rescore)."""

import datetime as dt

import pytest
import time_machine

from leads.models import ActivityKind, Lead, Stage, StageEvent
from scoring import engine
from scoring.services import lead_explain, lead_rescore

from ..factories import ActivityFactory, CompanyFactory, LeadFactory
from .helpers import make_version, rule

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def pricing_view(lead, days_ago=0, url="https://x.example/pricing", kind=ActivityKind.PAGE_VIEW):
    return ActivityFactory(
        lead=lead, kind=kind, occurred_at=NOW - dt.timedelta(days=days_ago), properties={"url": url}
    )


def scored(lead):
    lead_rescore(lead_id=lead.pk, now=NOW)
    return Lead.objects.get(pk=lead.pk)


def test_fit_rules_on_lead_company_and_custom_attributes():
    v = make_version(threshold=1000)
    rule(
        v,
        "fit",
        "Director+",
        field="seniority",
        operator="in",
        value=["director", "c_level"],
        points=15,
    )
    rule(
        v,
        "fit",
        "Mid-size",
        field="company.employees",
        operator="between",
        value=[100, 1000],
        points=10,
    )
    rule(v, "fit", "Visits", field="custom.visits", operator="gte", value=5, points=5)
    rule(v, "fit", "Free mail", field="email", operator="free_mail", points=-20)
    rule(v, "fit", "Title says head", field="title", operator="starts_with", value="head", points=3)
    lead = LeadFactory(
        seniority="c_level",
        company=CompanyFactory(employees=1000),
        custom={"visits": 5},
        email="x@gmail.com",
        title="Head of IT",
    )
    assert scored(lead).fit_score == 15 + 10 + 5 - 20 + 3
    lead.company.employees, lead.custom = 1001, {"visits": "5"}
    lead.company.save()
    lead.save()
    # 1001 is past the range; the text "5" is not a number.
    assert scored(lead).fit_score == 15 - 20 + 3


def test_is_empty_and_not_empty_treat_missing_custom_attributes_as_empty():
    v = make_version(threshold=1000)
    rule(v, "fit", "No industry", field="company.industry", operator="is_empty", points=-5)
    rule(v, "fit", "Has phone", field="custom.phone", operator="not_empty", points=4)
    lead = LeadFactory(company=None, custom={})
    assert scored(lead).fit_score == -5
    lead.custom = {"phone": "03-1234"}
    lead.save()
    assert scored(lead).fit_score == -1


def test_behaviour_points_per_occurrence_with_a_cap():
    v = make_version(threshold=1000)
    rule(
        v,
        "behaviour",
        "Pricing",
        activity_kind="page_view",
        property_conditions=[{"property": "url", "operator": "contains", "value": "/pricing"}],
        points=10,
        cap=25,
    )
    lead = LeadFactory()
    pricing_view(lead)
    pricing_view(lead, url="https://x.example/blog")
    assert scored(lead).engagement_score == 10
    pricing_view(lead)
    pricing_view(lead)
    assert scored(lead).engagement_score == 25


def test_at_least_k_times_gives_nothing_below_k():
    v = make_version(threshold=1000)
    rule(
        v,
        "behaviour",
        "Pricing 3+",
        activity_kind="page_view",
        points=5,
        min_count=3,
        property_conditions=[{"property": "url", "operator": "contains", "value": "/pricing"}],
    )
    lead = LeadFactory()
    pricing_view(lead)
    pricing_view(lead)
    assert scored(lead).engagement_score == 0
    pricing_view(lead)
    assert scored(lead).engagement_score == 15


def test_window_includes_the_boundary_and_excludes_older():
    v = make_version(threshold=1000)
    rule(v, "behaviour", "Recent", activity_kind="page_view", points=7, window_days=30)
    lead = LeadFactory()
    pricing_view(lead, days_ago=30)
    ActivityFactory(lead=lead, occurred_at=NOW - dt.timedelta(days=30, seconds=1))
    assert scored(lead).engagement_score == 7


def test_decay_halves_points_every_half_life_under_time_machine():
    v = make_version(threshold=1000, half_life=10)
    rule(v, "behaviour", "Download", activity_kind="content_download", points=40)
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind="content_download", occurred_at=NOW)
    with time_machine.travel(NOW, tick=False):
        lead_rescore(lead_id=lead.pk)
        assert Lead.objects.get(pk=lead.pk).engagement_score == 40
    with time_machine.travel(NOW + dt.timedelta(days=10), tick=False):
        lead_rescore(lead_id=lead.pk)
        assert Lead.objects.get(pk=lead.pk).engagement_score == 20
    with time_machine.travel(NOW + dt.timedelta(days=30), tick=False):
        lead_rescore(lead_id=lead.pk)
        assert Lead.objects.get(pk=lead.pk).engagement_score == 5


def test_a_future_dated_activity_does_not_grow_beyond_its_points():
    v = make_version(threshold=1000, half_life=10)
    rule(v, "behaviour", "Download", activity_kind="content_download", points=40)
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind="content_download", occurred_at=NOW + dt.timedelta(days=5))
    assert scored(lead).engagement_score == 40


def test_negative_rules_can_make_the_total_negative():
    v = make_version(threshold=10)
    rule(
        v,
        "fit",
        "Competitor",
        field="email",
        operator="email_domain_in",
        value=["rival.example"],
        points=-50,
    )
    rule(
        v,
        "behaviour",
        "Careers",
        activity_kind="page_view",
        points=-10,
        cap=15,
        property_conditions=[{"property": "url", "operator": "contains", "value": "/careers"}],
    )
    lead = LeadFactory(email="spy@rival.example")
    for _ in range(3):
        pricing_view(lead, url="https://x.example/careers")
    lead = scored(lead)
    assert (lead.fit_score, lead.engagement_score, lead.total_score) == (-50, -15, -65)
    assert lead.stage == Stage.LEAD


def test_crossing_the_threshold_makes_one_mql_with_a_frozen_explanation():
    v = make_version(number=3, threshold=20, min_fit=5)
    rule(v, "fit", "Manager", field="seniority", operator="equals", value="manager", points=5)
    rule(v, "behaviour", "Pricing", activity_kind="page_view", points=10)
    lead = LeadFactory(seniority="manager")
    pricing_view(lead)
    assert scored(lead).stage == Stage.LEAD
    pricing_view(lead)
    lead = scored(lead)
    assert lead.stage == Stage.MQL
    event = StageEvent.objects.get(lead=lead, to_stage=Stage.MQL)
    assert event.ruleset_version == 3 and event.actor is None
    assert event.context["total"] == 25
    assert {e["rule"] for e in event.context["explanation"]} == {"Manager", "Pricing"}
    assert next(e for e in event.context["explanation"] if e["rule"] == "Pricing")["count"] == 2
    scored(lead)
    assert StageEvent.objects.filter(lead=lead, to_stage=Stage.MQL).count() == 1


def test_min_fit_keeps_an_engaged_but_unfit_lead_out():
    v = make_version(threshold=10, min_fit=5)
    rule(v, "behaviour", "Pricing", activity_kind="page_view", points=50)
    lead = LeadFactory()
    pricing_view(lead)
    assert scored(lead).stage == Stage.LEAD


def test_fast_track_makes_an_mql_on_its_own():
    v = make_version(threshold=1000)
    rule(v, "fast_track", "Demo request", activity_kind="demo_request")
    lead = LeadFactory()
    pricing_view(lead, kind="demo_request")
    lead = scored(lead)
    assert lead.stage == Stage.MQL and lead.fast_tracked
    assert StageEvent.objects.get(lead=lead).reason == "fast_track"


def test_exclusion_beats_fast_track_and_says_why():
    v = make_version(threshold=0)
    rule(v, "exclusion", "Student", field="title", operator="contains", value="student")
    rule(v, "fast_track", "Demo request", activity_kind="demo_request")
    lead = LeadFactory(title="Graduate student")
    pricing_view(lead, kind="demo_request")
    lead = scored(lead)
    assert lead.stage == Stage.LEAD
    assert lead.excluded_reason == "Student"
    result = lead_explain(lead=lead, ruleset=engine.compile_ruleset(v), now=NOW)
    assert {"rule": "Student", "kind": "exclusion"}.items() <= result.explanation[
        -1
    ].items() or any(e["kind"] == "exclusion" for e in result.explanation)


def test_a_recycled_lead_needs_new_activity_to_become_mql_again():
    v = make_version(threshold=10)
    rule(v, "behaviour", "Pricing", activity_kind="page_view", points=50)
    rule(v, "fast_track", "Demo", activity_kind="demo_request")
    lead = LeadFactory(stage=Stage.RECYCLED, stage_changed_at=NOW - dt.timedelta(days=2))
    pricing_view(lead, days_ago=5)
    pricing_view(lead, days_ago=4, kind="demo_request")
    lead = scored(lead)
    assert lead.stage == Stage.RECYCLED and not lead.fast_tracked
    pricing_view(lead, days_ago=1)
    assert scored(lead).stage == Stage.MQL


def test_bad_rules_are_refused_with_the_field_and_reason():
    v = make_version(status="draft")
    from django.core.exceptions import ValidationError

    from scoring.models import Rule

    cases = [
        (dict(kind="fit", field="nope", operator="equals", value="x"), "field"),
        (dict(kind="fit", field="company.employees", operator="contains", value="x"), "operator"),
        (dict(kind="fit", field="title", operator="between", value=[1, 2]), "operator"),
        (dict(kind="fit", field="company.employees", operator="between", value=[5, 1]), "value"),
        (dict(kind="fit", field="title", operator="in", value="x"), "value"),
        (dict(kind="behaviour", activity_kind="teleport"), "activity_kind"),
        (
            dict(
                kind="behaviour",
                activity_kind="page_view",
                property_conditions=[{"property": "url", "operator": "gt", "value": 1}],
            ),
            "property_conditions",
        ),
        (dict(kind="exclusion", field="title", operator="equals", value="x", points=5), "points"),
        (dict(kind="fast_track", activity_kind="demo_request", points=5), "kind"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as excinfo:
            Rule(version=v, name="bad", **kwargs).full_clean()
        assert field in excinfo.value.message_dict, (kwargs, excinfo.value.message_dict)
