"""The draft's rule editor in the app: managers (not staff) edit, reps read what is live."""

import re

import pytest
from django.urls import reverse

from scoring import selectors, services
from scoring.models import Rule

from ..factories import ActivityFactory, LeadFactory
from .helpers import make_version, rule

pytestmark = pytest.mark.django_db

ADMIN_LINK = re.compile(r'href="/admin/')


@pytest.fixture
def draft(alice):
    live = make_version(number=1, threshold=50)
    rule(live, "fit", "CTO", field="title", operator="contains", value="cto", points=20)
    return services.draft_get_or_create(user=alice)


def _fit(**over):
    data = {
        "kind": "fit",
        "name": "Big company",
        "field": "company.employees",
        "operator": "gte",
        "number": "500",
        "points": "15",
    }
    data.update(over)
    return data


@pytest.mark.parametrize("persona", ["alice", "carol"])
def test_managers_who_are_not_staff_edit_the_draft_without_the_admin(
    client, request, draft, persona
):
    user = request.getfixturevalue(persona)
    assert not user.is_staff
    client.force_login(user)
    for url in (
        reverse("scoring:overview"),
        reverse("scoring:draft_edit"),
        reverse("scoring:rule_add") + "?kind=behaviour",
        reverse("scoring:rule_edit", args=[draft.rules.get().pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert not ADMIN_LINK.search(response.content.decode()), url
    response = client.post(reverse("scoring:rule_add"), _fit())
    assert response.status_code == 302
    created = draft.rules.get(name="Big company")
    assert (created.field, created.operator, created.value, created.points) == (
        "company.employees",
        "gte",
        500,
        15,
    )


def test_a_rep_reads_the_live_rule_set_but_not_the_draft_or_its_editor(client, bob, draft):
    client.force_login(bob)
    page = client.get(reverse("scoring:overview"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Live: version 1" in html and "CTO" in html
    assert "Draft: version" not in html and not ADMIN_LINK.search(html)
    assert client.get(reverse("scoring:draft_edit")).status_code == 403
    assert client.get(reverse("scoring:draft_counts")).status_code == 403
    assert client.post(reverse("scoring:rule_add"), _fit()).status_code == 403
    assert client.get(reverse("scoring:version", args=[draft.number])).status_code == 403
    assert client.get(reverse("scoring:version", args=[1])).status_code == 200
    assert client.get(reverse("scoring:preview")).status_code == 403


def test_an_outsider_sees_nothing(client, mallory, draft):
    client.force_login(mallory)
    assert client.get(reverse("scoring:overview")).status_code == 403
    assert client.get(reverse("scoring:draft_edit")).status_code == 403


def test_behaviour_rule_with_property_conditions_and_tags(client, alice, draft):
    client.force_login(alice)
    response = client.post(
        reverse("scoring:rule_add"),
        {
            "kind": "behaviour",
            "name": "Pricing page",
            "activity_kind": "page_view",
            "c0_property": "url",
            "c0_operator": "contains",
            "c0_value": "/pricing",
            "c1_property": "form_name",
            "c1_operator": "in",
            "c1_value": "trial, demo",
            "points": "10",
            "cap": "30",
            "window_days": "30",
            "min_count": "2",
            # Inputs of another kind are ignored, whatever they hold.
            "field": "title",
            "text": "x",
        },
    )
    assert response.status_code == 302
    r = draft.rules.get(name="Pricing page")
    assert r.property_conditions == [
        {"property": "url", "operator": "contains", "value": "/pricing"},
        {"property": "form_name", "operator": "in", "value": ["trial", "demo"]},
    ]
    assert (r.points, r.cap, r.window_days, r.min_count, r.field) == (10, 30, 30, 2, "")
    page = client.get(reverse("scoring:rule_edit", args=[r.pk])).content.decode()
    assert 'value="trial, demo"' in page
    listing = client.get(reverse("scoring:draft_edit")).content.decode()
    assert "url contains /pricing; form_name is one of trial, demo" in listing
    assert "[" not in listing.split("<main>")[1].split("</main>")[0].replace("[hidden]", "")


def test_list_and_range_values_are_built_from_tags_and_two_numbers(client, alice, draft):
    client.force_login(alice)
    client.post(
        reverse("scoring:rule_add"),
        {
            "kind": "exclusion",
            "name": "Students",
            "field": "email",
            "operator": "email_domain_in",
            "tags": "uni.example\nschool.example, ac.jp",
        },
    )
    client.post(
        reverse("scoring:rule_add"),
        _fit(name="Mid size", operator="between", low="50", high="499.5"),
    )
    client.post(
        reverse("scoring:rule_add"),
        _fit(name="Listed", field="company.listed", operator="equals", flag="true"),
    )
    assert draft.rules.get(name="Students").value == ["uni.example", "school.example", "ac.jp"]
    assert draft.rules.get(name="Mid size").value == [50, 499.5]
    assert draft.rules.get(name="Listed").value == "true"


@pytest.mark.parametrize(
    "data,field_label,message",
    [
        (_fit(field=""), "Field", "Choose a field."),
        (
            _fit(field="company.employees", operator="contains", text="x"),
            "Operator",
            "Compare numbers with",
        ),
        (_fit(number=""), "Number", "Give a number."),
        (_fit(operator="between", low="10", high=""), "To", "Give a number."),
        (_fit(operator="between", low="10", high="5"), "From", "low end must not exceed"),
        (_fit(name=""), "Rule name", "This field is required."),
        (_fit(points="many"), "Points", "Enter a whole number."),
        (
            {"kind": "behaviour", "name": "B", "activity_kind": "", "points": "1"},
            "Activity",
            "Choose an activity.",
        ),
        (
            {
                "kind": "behaviour",
                "name": "B",
                "activity_kind": "page_view",
                "points": "1",
                "c0_property": "url",
                "c0_operator": "contains",
                "c0_value": "",
            },
            "Condition 1 · Value",
            "Give a value for url.",
        ),
        (
            {
                "kind": "behaviour",
                "name": "B",
                "activity_kind": "page_view",
                "points": "1",
                "cap": "0",
            },
            "Cap per lead",
            "greater than or equal to 1",
        ),
        (
            {
                "kind": "exclusion",
                "name": "X",
                "field": "email",
                "operator": "email_domain_in",
                "tags": "",
            },
            "Values",
            "Give a list of text values.",
        ),
    ],
)
def test_bad_input_is_refused_inline_naming_the_field(
    client, alice, draft, data, field_label, message
):
    client.force_login(alice)
    before = draft.rules.count()
    response = client.post(reverse("scoring:rule_add"), data)
    assert response.status_code == 400
    html = response.content.decode()
    summary = html.split('class="formerrors"')[1].split("</div>")[0]
    assert f"{field_label}: " in summary and message in summary, summary
    assert draft.rules.count() == before


def test_edit_duplicate_reorder_delete(client, alice, carol, draft):
    client.force_login(alice)
    cto = draft.rules.get()
    client.post(reverse("scoring:rule_add"), _fit())
    big = draft.rules.get(name="Big company")
    services.ruleset_approve(version=draft, user=carol)
    response = client.post(
        reverse("scoring:rule_edit", args=[cto.pk]),
        {
            "kind": "fit",
            "name": "CTO",
            "field": "title",
            "operator": "contains",
            "text": "cto",
            "points": "25",
        },
        follow=True,
    )
    assert "approvals were withdrawn" in response.content.decode()
    cto.refresh_from_db()
    assert cto.points == 25 and not draft.approvals.exists()
    client.post(reverse("scoring:rule_duplicate", args=[big.pk]))
    names = list(
        draft.rules.filter(kind="fit").order_by("position", "id").values_list("name", flat=True)
    )
    assert names == ["CTO", "Big company", "Big company (copy)"]
    client.post(reverse("scoring:rule_move", args=[big.pk]), {"direction": "up"})
    names = list(
        draft.rules.filter(kind="fit").order_by("position", "id").values_list("name", flat=True)
    )
    assert names == ["Big company", "CTO", "Big company (copy)"]
    client.post(reverse("scoring:rule_delete", args=[big.pk]))
    assert not Rule.objects.filter(pk=big.pk).exists()
    assert client.get(reverse("scoring:rule_delete", args=[cto.pk])).status_code == 405


def test_the_published_version_cannot_be_edited_through_the_pages(client, alice, draft):
    live_rule = Rule.objects.get(version__number=1)
    client.force_login(alice)
    assert client.get(reverse("scoring:rule_edit", args=[live_rule.pk])).status_code == 404
    assert client.post(reverse("scoring:rule_delete", args=[live_rule.pk])).status_code == 404


def test_thresholds_are_saved_and_bad_ones_refused(client, alice, draft):
    client.force_login(alice)
    url = reverse("scoring:draft_edit")
    ok = {
        "name": "Model",
        "mql_threshold": "60",
        "min_fit_score": "10",
        "decay_half_life_days": "14",
    }
    assert client.post(url, ok).status_code == 302
    draft.refresh_from_db()
    assert (draft.mql_threshold, draft.min_fit_score, draft.decay_half_life_days) == (60, 10, 14)
    response = client.post(url, {**ok, "mql_threshold": "lots", "decay_half_life_days": "0"})
    html = response.content.decode()
    assert "MQL threshold: Enter a number." in html
    assert "Half-life (days): Give a number of days above zero" in html


def test_field_picker_offers_custom_keys_and_property_keys_from_the_data(client, alice, draft):
    LeadFactory(custom={"plan": "enterprise", "seats": 40})
    lead = LeadFactory(custom={"plan": "team"})
    ActivityFactory(lead=lead, kind="form_submit", properties={"form_name": "trial"})
    client.force_login(alice)
    html = client.get(reverse("scoring:rule_add")).content.decode()
    assert 'value="custom.plan" data-type="any"' in html
    assert 'value="custom.seats"' in html
    assert 'value="company.employees" data-type="number"' in html
    assert 'value="company.listed" data-type="bool"' in html
    assert '<option value="form_name">' in html


def test_history_says_who_changed_every_field_from_what_to_what(client, alice, carol, draft):
    client.force_login(alice)
    cto = draft.rules.get()
    client.post(
        reverse("scoring:rule_edit", args=[cto.pk]),
        {
            "kind": "fit",
            "name": "CTO or CIO",
            "field": "title",
            "operator": "in",
            "tags": "cto\ncio",
            "points": "30",
        },
    )
    client.force_login(carol)
    client.post(
        reverse("scoring:draft_edit"),
        {
            "name": draft.name,
            "mql_threshold": "65",
            "min_fit_score": "5",
            "decay_half_life_days": "21",
        },
    )
    client.post(reverse("scoring:draft_comment"), {"text": "Fine by sales."})
    history = selectors.rule_change_history(version=draft)
    settings_entry, rule_entry = history[0], history[1]
    assert settings_entry["user"] == carol and settings_entry["subject"] == "settings"
    assert [(c["label"], c["old_text"], c["new_text"]) for c in settings_entry["changes"]] == [
        ("MQL threshold", "50", "65"),
        ("minimum fit score", "—", "5"),
        ("engagement half-life (days)", "—", "21"),
    ]
    assert rule_entry["user"] == alice
    assert [(c["field"], c["old_text"], c["new_text"]) for c in rule_entry["changes"]] == [
        ("name", "CTO", "CTO or CIO"),
        ("operator", "contains", "is one of"),
        ("value", "cto", "cto, cio"),
        ("points", "20", "30"),
    ]
    html = client.get(reverse("scoring:overview")).content.decode()
    assert 'MQL threshold: <span class="old">50</span> → <b class="new">65</b>' in html
    assert 'Value: <span class="old">cto</span> → <b class="new">cto, cio</b>' in html
    assert "Fine by sales." in html
    assert "[" not in html.split('id="comments"')[1]


def test_the_admin_history_of_a_rule_set_reads_in_words(client, alice, draft):
    from ..factories import UserFactory

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    cto = draft.rules.get()
    services.rule_update(rule=cto, data={"value": "chief technology"}, user=alice)
    services.draft_settings_update(version=draft, data={"mql_threshold": 70}, user=alice)
    client.force_login(admin)
    html = client.get(
        reverse("admin:scoring_rulesetversion_history", args=[draft.pk])
    ).content.decode()
    assert "Changes to the rules and settings" in html
    assert 'Value: <span class="old">cto</span> → <b class="new">chief technology</b>' in html
    assert 'MQL threshold: <span class="old">50</span> → <b class="new">70</b>' in html


def test_each_rule_shows_how_many_leads_and_activities_it_matches_now(client, alice, draft):
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    rule(
        draft,
        "behaviour",
        "Pricing",
        activity_kind="page_view",
        points=10,
        window_days=30,
        property_conditions=[{"property": "url", "operator": "contains", "value": "/pricing"}],
    )
    rule(
        draft,
        "behaviour",
        "Pricing twice",
        activity_kind="page_view",
        points=5,
        min_count=2,
        property_conditions=[{"property": "url", "operator": "contains", "value": "/pricing"}],
    )
    rule(draft, "exclusion", "Students", field="title", operator="in", value=["student"])
    rule(draft, "fast_track", "Demo", activity_kind="demo_request")
    cto1, cto2 = LeadFactory(title="CTO"), LeadFactory(title="Deputy CTO")
    LeadFactory(title="Student")
    LeadFactory(title="CTO", deleted_at=now)
    for _ in range(2):
        ActivityFactory(
            lead=cto1,
            kind="page_view",
            properties={"url": "/pricing"},
            occurred_at=now - dt.timedelta(days=1),
        )
    ActivityFactory(
        lead=cto2,
        kind="page_view",
        properties={"url": "/PRICING/plans"},
        occurred_at=now - dt.timedelta(days=40),
    )
    ActivityFactory(
        lead=cto2,
        kind="page_view",
        properties={"url": "/careers"},
        occurred_at=now - dt.timedelta(days=1),
    )
    ActivityFactory(lead=cto2, kind="demo_request", occurred_at=now - dt.timedelta(days=3))
    counts = selectors.rule_match_counts(version=draft)
    by_name = {r.name: counts[r.pk] for r in draft.rules.all()}
    assert by_name["CTO"] == {"leads": 2}
    assert by_name["Students"] == {"leads": 1}
    assert by_name["Pricing"] == {"leads": 1, "activities": 2}
    assert by_name["Pricing twice"] == {"leads": 1, "activities": 3}
    assert by_name["Demo"] == {"leads": 1, "activities": 1}
    client.force_login(alice)
    html = client.get(reverse("scoring:draft_edit")).content.decode()
    assert f'data-rule="{draft.rules.get(name="Pricing").pk}"' in html
    data = client.get(reverse("scoring:draft_counts")).json()["rules"]
    assert data[str(draft.rules.get(name="Pricing").pk)] == {"leads": 1, "activities": 2}


def test_test_a_lead_compares_live_and_draft_rule_by_rule(client, alice, bob, draft):
    lead = LeadFactory(
        first_name="Kenji", last_name="Tanaka", email="kenji@acme.example", title="CTO"
    )
    ActivityFactory(lead=lead, kind="page_view", properties={"url": "/pricing"})
    rule(
        draft,
        "behaviour",
        "Pricing",
        activity_kind="page_view",
        points=35,
        property_conditions=[{"property": "url", "operator": "contains", "value": "/pricing"}],
    )
    client.force_login(alice)
    url = reverse("scoring:draft_test")
    html = client.get(url, {"q": "tanaka"}).content.decode()
    assert "Kenji Tanaka" in html and f"lead={lead.pk}" in html
    assert "No lead found." in client.get(url, {"q": "nobody-here"}).content.decode()
    html = client.get(url, {"q": "tanaka", "lead": lead.pk}).content.decode()
    section = html.split('id="lead-test"')[1]
    assert "Live v1" in section and "Draft v2" in section
    assert 'score-live"><b>20.0</b>' in section and 'score-draft"><b>55.0</b>' in section
    assert "No: below the threshold" in section.split("verdict-draft")[0]
    assert "Yes, MQL" in section.split("verdict-draft")[1]
    assert "The draft changes this lead&#x27;s score or verdict." in section or (
        "The draft changes this lead's score or verdict." in section
    )
    test = selectors.lead_test(lead=lead, live=services.ruleset_live(), draft=draft)
    pricing = next(r for r in test["rows"] if r["name"] == "Pricing")
    assert "live" not in pricing and pricing["draft"]["hit"] and pricing["draft"]["count"] == 1
    assert client.get(url, {"lead": "abc"}).status_code == 200
    assert client.get(url, {"lead": "9" * 30}).status_code == 200
    client.force_login(bob)
    assert client.get(url, {"q": "tanaka"}).status_code == 403
