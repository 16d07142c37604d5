import re

import pytest
from django.urls import reverse

from leads.models import Stage
from scoring import services
from scoring.models import RescoreRun, RuleSetVersion

from ..factories import ActivityFactory, LeadFactory
from .helpers import make_version, rule

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "persona,status", [("alice", 200), ("carol", 200), ("bob", 200), ("mallory", 403)]
)
def test_who_sees_the_scoring_pages(client, request, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("scoring:overview")).status_code == status


def test_marketing_and_sales_sign_off_and_publish_through_the_pages(
    client, alice, carol, celery_eager, django_capture_on_commit_callbacks
):
    make_version(number=1, threshold=50)
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind="demo_request")
    client.force_login(alice)
    client.post(reverse("scoring:draft_start"))
    draft = RuleSetVersion.objects.get(status="draft")
    rule(draft, "fast_track", "Demo", activity_kind="demo_request")
    client.post(reverse("scoring:draft_comment"), {"text": "Demo requests go straight to sales."})
    page = client.get(reverse("scoring:overview")).content.decode()
    assert "Demo requests go straight to sales." in page
    assert "Sales: waiting for approval" in page
    client.post(reverse("scoring:draft_approve"))
    response = client.post(reverse("scoring:draft_publish"), follow=True)
    assert "Approval still needed from: Sales" in response.content.decode()
    client.force_login(carol)
    client.post(reverse("scoring:draft_approve"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("scoring:draft_publish"))
    run = RescoreRun.objects.get()
    assert response.url == reverse("scoring:run", args=[run.pk])
    progress = client.get(reverse("scoring:run_progress", args=[run.pk])).json()
    assert progress["status"] == "done" and progress["done"] == progress["total"] == 1
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


def test_a_rep_cannot_approve_or_publish(client, alice, bob):
    draft = services.draft_get_or_create(user=alice)
    client.force_login(bob)
    assert client.post(reverse("scoring:draft_start")).status_code == 403
    client.post(reverse("scoring:draft_approve"))
    assert not draft.approvals.exists()


def test_preview_renders_charts_from_our_own_static_files(client, alice):
    live = make_version(number=1)
    rule(live, "behaviour", "Views", activity_kind="page_view", points=10)
    services.draft_get_or_create(user=alice)
    ActivityFactory()
    client.force_login(alice)
    html = client.get(reverse("scoring:preview")).content.decode()
    assert re.search(r'src="/static/vendor/plotly-[0-9.]+\.min\.js"', html)
    assert 'id="distribution-data"' in html and 'id="backtest-data"' in html
    assert "cdn" not in html.lower()


def test_compare_shows_a_readable_diff(client, alice):
    old = make_version(number=1, threshold=40)
    new = make_version(number=2, threshold=55, status="retired")
    rule(new, "fit", "CTO", field="title", operator="equals", value="cto", points=20)
    client.force_login(alice)
    html = client.get(
        reverse("scoring:compare") + f"?old={old.number}&new={new.number}"
    ).content.decode()
    assert "MQL threshold: 40 → <b>55</b>" in html
    assert "“CTO”" in html
    assert client.get(reverse("scoring:compare") + "?old=x").status_code == 302


def test_admin_edit_of_the_draft_withdraws_approvals_and_published_is_read_only(
    client, alice, carol
):
    alice.is_staff = True
    alice.save()
    live = make_version(number=1)
    # A rule set with no rules cannot be approved: the draft copies this one.
    rule(live, "fit", "VP", field="title", operator="equals", value="vp", points=5)
    draft = services.draft_get_or_create(user=alice)
    services.ruleset_approve(version=draft, user=carol)
    client.force_login(alice)
    url = reverse("admin:scoring_rulesetversion_change", args=[draft.pk])
    form = {
        "name": "Model",
        "mql_threshold": "60",
        "min_fit_score": "",
        "decay_half_life_days": "30",
        "rules-TOTAL_FORMS": "1",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        "rules-0-position": "1",
        "rules-0-kind": "fit",
        "rules-0-name": "CTO",
        "rules-0-field": "title",
        "rules-0-operator": "equals",
        "rules-0-value": '"cto"',
        "rules-0-property_conditions": "[]",
        "rules-0-points": "25",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not draft.approvals.exists()
    assert draft.rules.filter(name="CTO").count() == 1
    bad = {**form, "rules-0-field": "shoe_size"}
    response = client.post(url, bad)
    assert response.status_code == 200 and "Unknown field shoe_size" in response.content.decode()
    assert client.get(
        reverse("admin:scoring_rulesetversion_change", args=[live.pk])
    ).status_code in (200, 302, 403)
    response = client.post(reverse("admin:scoring_rulesetversion_change", args=[live.pk]), form)
    assert response.status_code == 403
