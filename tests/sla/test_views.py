import datetime as dt
import re
from html import unescape

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leads import roles
from leads.models import Lead, Stage, StageEvent
from leads.services import lead_transition
from sla import services
from sla.models import Assignment, ContactLog, Handoff, SlaVersion

from ..conftest import _person
from ..factories import ActivityFactory, CompanyFactory, LeadFactory
from .conftest import TOKYO

pytestmark = pytest.mark.django_db
# Monday 16 November 2026, 10:00 in Tokyo: a business day.
MONDAY_10 = dt.datetime(2026, 11, 16, 10, 0, tzinfo=TOKYO)
# MONDAY_10 as the messages show it to a user without a zone of their own (the server's, UTC).
AT_10 = "11/16/2026 1 a.m."


@pytest.fixture
def frank(other_team):
    """Sales manager of another team."""
    return _person(
        "frank", roles.SALES_MANAGER, team=other_team, first_name="Frank", last_name="Far"
    )


@pytest.fixture(autouse=True)
def _server_time_zone():
    # UserPreferencesMiddleware leaves the zone of an earlier request active for a user with
    # no zone of their own; these tests read such users' times in the server's zone.
    timezone.deactivate()
    yield
    timezone.deactivate()


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_10, tick=False) as traveller:
        yield traveller


def mql(owner, at=None, **lead_kw):
    lead = LeadFactory(owner=owner, **lead_kw)
    lead_transition(lead=lead, to_stage=Stage.MQL, at=at)
    lead.refresh_from_db()
    return lead


def accepted(owner, **lead_kw):
    lead = mql(owner, **lead_kw)
    services.lead_accept(lead=lead, user=owner)
    lead.refresh_from_db()
    return lead


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def page_text(response) -> str:
    return unescape(response.content.decode())


# --------------------------------------------------------------------------------------------
# Who sees which page


PAGES = {
    "queue": reverse("sla:queue"),
    "team": reverse("sla:queue") + "?scope=team",
    "rejections": reverse("sla:rejections"),
    "overview": reverse("sla:overview"),
}


@pytest.mark.parametrize(
    "persona,page,status",
    [
        ("bob", "queue", 200),
        ("bob", "team", 403),
        ("bob", "rejections", 403),
        # Reps read the SLA they are measured by.
        ("bob", "overview", 200),
        ("carol", "queue", 200),
        ("carol", "team", 200),
        ("carol", "rejections", 200),
        ("carol", "overview", 200),
        ("alice", "queue", 403),
        ("alice", "team", 403),
        ("alice", "rejections", 200),
        ("alice", "overview", 200),
        ("mallory", "queue", 403),
        ("mallory", "team", 403),
        ("mallory", "rejections", 403),
        ("mallory", "overview", 403),
    ],
)
def test_who_sees_which_sla_page(client, request, sla, persona, page, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(PAGES[page]).status_code == status


def test_a_rep_reads_the_live_sla_but_cannot_start_or_edit_a_draft(client, sla, bob):
    client.force_login(bob)
    html = client.get(reverse("sla:overview")).content.decode()
    assert reverse("sla:draft_start") not in html and reverse("sla:draft_edit") not in html
    assert client.get(reverse("sla:draft_edit")).status_code == 403
    assert client.post(reverse("sla:draft_start")).status_code == 403


def test_a_rep_is_not_told_there_is_no_draft_while_one_is_open(client, sla, alice, bob):
    client.force_login(alice)
    client.post(reverse("sla:draft_start"))
    client.force_login(bob)
    html = client.get(reverse("sla:overview")).content.decode()
    assert 'id="draft"' not in html and "No open draft" not in html
    client.force_login(alice)
    assert 'id="draft"' in client.get(reverse("sla:overview")).content.decode()


@pytest.mark.parametrize("page", sorted(PAGES))
def test_anonymous_visitors_are_sent_to_log_in(client, sla, page):
    response = client.get(PAGES[page])
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_short_queue_address_leads_to_the_queue(client, sla, bob):
    client.force_login(bob)
    response = client.get("/queue/?scope=team")
    assert response.status_code == 302 and response.url == "/sla/queue/?scope=team"


def test_the_nav_shows_each_role_its_pages(client, sla, alice, bob, carol):
    client.force_login(bob)
    nav = client.get(reverse("leads:list")).content.decode()
    assert 'href="/sla/queue/"' in nav and 'href="/sla/"' in nav
    assert 'href="/sla/rejections/"' not in nav
    client.force_login(alice)
    nav = client.get(reverse("leads:list")).content.decode()
    assert 'href="/sla/queue/"' not in nav
    assert 'href="/sla/"' in nav and 'href="/sla/rejections/"' in nav
    client.force_login(carol)
    nav = client.get(reverse("leads:list")).content.decode()
    assert 'href="/sla/queue/"' in nav and 'href="/sla/"' in nav


# --------------------------------------------------------------------------------------------
# Who may do what to a lead


def _setup(action, bob):
    """A lead of bob's in the stage the action needs, the POST data and a check it happened."""
    if action in ("accept", "reject", "reassign"):
        lead = mql(bob)
    else:
        lead = accepted(bob)
    data = {"expected_stage": lead.stage}
    data.update(
        {
            "accept": {},
            "reject": {"reason": "no_budget", "note": "Small shop"},
            # Nobody here has a time zone of their own: the server's (UTC) applies.
            "contact": {"channel": "call", "at": "2026-11-16T01:02"},
            "qualify": {"budget": "¥5M", "authority": "CTO", "need": "CRM", "timeline": "Q1"},
            "recycle": {"reason": "not_ready"},
            "disqualify": {"reason": "no_need"},
            "reassign": {"to_user": ""},
        }[action]
    )
    return lead, data


def _happened(action, lead, dave) -> bool:
    lead.refresh_from_db()
    return {
        "accept": lead.stage == Stage.SAL,
        "reject": lead.stage == Stage.REJECTED,
        "contact": ContactLog.objects.filter(lead=lead).exists(),
        "qualify": lead.stage == Stage.SQL,
        "recycle": lead.stage == Stage.RECYCLED,
        "disqualify": lead.stage == Stage.DISQUALIFIED,
        "reassign": lead.owner_id == dave.pk,
    }[action]


ACTIONS = ["accept", "reject", "contact", "qualify", "recycle", "disqualify", "reassign"]
# Leads a person cannot see are "not found" (as on the lead page); leads they see but may
# not act on are "forbidden"; reassigning needs its own permission first.
EXPECTED = {
    "bob": dict.fromkeys(ACTIONS, "ok") | {"reassign": 403},
    "carol": dict.fromkeys(ACTIONS, "ok"),
    "dave": dict.fromkeys(ACTIONS, 404) | {"reassign": 403},
    "frank": dict.fromkeys(ACTIONS, 404),
    "alice": dict.fromkeys(ACTIONS, 403),
    "mallory": dict.fromkeys(ACTIONS, 404) | {"reassign": 403},
    "anonymous": dict.fromkeys(ACTIONS, "login"),
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_permission_matrix_of_the_lead_actions(
    client, request, sla, clock, bob, dave, carol, frank, alice, mallory, persona, action
):
    lead, data = _setup(action, bob)
    if action == "reassign":
        data["to_user"] = dave.pk
    events = StageEvent.objects.count()
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    response = client.post(reverse(f"sla:lead_{action}", args=[lead.pk]), data)
    expected = EXPECTED[persona][action]
    if expected == "ok":
        assert response.status_code == 302, texts(response)
        assert response.url == reverse("leads:detail", args=[lead.pk])
        assert _happened(action, lead, dave), texts(response)
        return
    if expected == "login":
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    else:
        assert response.status_code == expected
    assert not _happened(action, lead, dave)
    assert StageEvent.objects.count() == events


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_only_accept_post(client, sla, bob, action):
    lead = mql(bob)
    client.force_login(bob)
    assert client.get(reverse(f"sla:lead_{action}", args=[lead.pk])).status_code == 405


# --------------------------------------------------------------------------------------------
# Stale forms and races


def test_a_stale_form_gets_a_clear_message_and_no_second_transition(sla, clock, bob, carol):
    lead = mql(bob)
    rep, manager = Client(), Client()
    rep.force_login(bob)
    manager.force_login(carol)
    # Both have the lead page open while it is an MQL.
    for session in (rep, manager):
        page = session.get(reverse("leads:detail", args=[lead.pk])).content.decode()
        assert 'name="expected_stage" value="mql"' in page
    response = manager.post(reverse("sla:lead_accept", args=[lead.pk]), {"expected_stage": "mql"})
    assert texts(response) == [f"You accepted {lead.display_name}."]
    events = StageEvent.objects.filter(lead=lead).count()
    response = rep.post(
        reverse("sla:lead_reject", args=[lead.pk]),
        {"expected_stage": "mql", "reason": "student", "note": ""},
        follow=True,
    )
    assert response.redirect_chain == [(reverse("leads:detail", args=[lead.pk]), 302)]
    # What changed, who did it and when.
    stale = f"This lead is now SAL: Carol Boss changed it first ({AT_10})."
    assert texts(response) == [stale]
    response = rep.post(
        reverse("sla:lead_accept", args=[lead.pk]), {"expected_stage": "mql"}, follow=True
    )
    assert texts(response) == [stale]
    assert stale in page_text(response)
    assert StageEvent.objects.filter(lead=lead).count() == events
    assert Handoff.objects.get(lead=lead).status == Handoff.Status.ACCEPTED


def test_a_race_lost_inside_the_service_is_reported_the_same_way(
    client, sla, clock, bob, monkeypatch
):
    lead = mql(bob)
    stale = Lead.objects.get(pk=lead.pk)
    services.lead_accept(lead=Lead.objects.get(pk=lead.pk), user=bob)
    # The view loaded the lead just before the other click committed.
    monkeypatch.setattr("leads.selectors.lead_get_for_user", lambda **kw: stale)
    client.force_login(bob)
    events = StageEvent.objects.count()
    response = client.post(
        reverse("sla:lead_reject", args=[lead.pk]),
        {"expected_stage": "mql", "reason": "student"},
    )
    assert response.status_code == 302
    # Bob accepted it himself, in another tab.
    assert texts(response) == [f"This lead is now SAL: you changed it in your other tab ({AT_10})."]
    assert StageEvent.objects.count() == events


def test_a_form_without_the_stage_it_was_shown_changes_nothing(client, sla, clock, bob):
    lead = mql(bob)
    client.force_login(bob)
    response = client.post(reverse("sla:lead_accept", args=[lead.pk]), {})
    assert texts(response) == ["This form is out of date: reload the page and try again."]
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


# --------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "action,data,message",
    [
        ("reject", {"reason": "bored"}, "Reason: Select a valid choice."),
        ("reject", {"reason": ""}, "Reason: This field is required."),
        (
            "qualify",
            {"budget": "¥5M", "authority": " ", "need": "CRM", "timeline": "Q1"},
            "Authority: This field is required.",
        ),
        ("qualify", {"budget": "¥5M", "need": "CRM"}, "Timeline: This field is required."),
        (
            "contact",
            {"channel": "call", "at": "2026-11-16T12:30"},
            "When: A contact cannot be in the future.",
        ),
        ("contact", {"channel": "call", "at": "yesterday-ish"}, "When: Enter a valid date/time."),
        (
            "contact",
            {"channel": "call", "at": "2026-11-13T09:00"},
            "When: The contact is dated before the lead became an MQL.",
        ),
        ("contact", {"channel": "fax", "at": "2026-11-16T09:55"}, "Channel: Select a valid"),
        ("disqualify", {"reason": ""}, "Reason: This field is required."),
        ("recycle", {"reason": "because"}, "Reason: Select a valid choice."),
        ("reassign", {"to_user": "erin"}, "Reassign to: Select a valid choice."),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    client, sla, clock, bob, carol, erin, action, data, message
):
    bob.profile.time_zone = "Asia/Tokyo"
    bob.profile.save()
    lead = mql(bob) if action == "reject" else accepted(bob)
    if data.get("to_user") == "erin":
        data = {**data, "to_user": erin.pk}
    client.force_login(carol if action == "reassign" else bob)
    before = (StageEvent.objects.count(), ContactLog.objects.count(), Assignment.objects.count())
    response = client.post(
        reverse(f"sla:lead_{action}", args=[lead.pk]), {"expected_stage": lead.stage, **data}
    )
    assert response.status_code == 302
    assert any(m.startswith(message) for m in texts(response)), texts(response)
    after = (StageEvent.objects.count(), ContactLog.objects.count(), Assignment.objects.count())
    assert after == before
    assert Lead.objects.get(pk=lead.pk).stage == lead.stage


def test_a_contact_is_read_in_the_reps_time_zone_and_counts_as_first_contact(
    client, sla, clock, bob
):
    bob.profile.time_zone = "Asia/Tokyo"
    bob.profile.save()
    lead = accepted(bob)
    client.force_login(bob)
    response = client.post(
        reverse("sla:lead_contact", args=[lead.pk]),
        {"expected_stage": "sal", "channel": "meeting", "at": "2026-11-16T10:00", "note": "Met"},
    )
    assert texts(response) == [f"Contact with {lead.display_name} logged."]
    log = ContactLog.objects.get()
    assert log.at == MONDAY_10 and log.channel == "meeting" and log.user == bob
    assert Handoff.objects.get(lead=lead).first_contact_at == MONDAY_10
    page = page_text(client.get(reverse("leads:detail", args=[lead.pk])))
    assert "Meeting" in page and "Met" in page
    # The contact form offers now, in the rep's zone, to the second.
    assert 'value="2026-11-16T10:00:00"' in page and "(Asia/Tokyo)" in page


def test_qualifying_records_bant_on_the_stage_event(client, sla, clock, bob):
    lead = accepted(bob)
    client.force_login(bob)
    bant = {"budget": "¥5M", "authority": "CTO signs", "need": "CRM", "timeline": "Q1"}
    response = client.post(
        reverse("sla:lead_qualify", args=[lead.pk]), {"expected_stage": "sal", **bant}
    )
    assert texts(response) == [f"{lead.display_name} is now an SQL."]
    event = StageEvent.objects.get(lead=lead, to_stage=Stage.SQL)
    assert event.context["bant"] == bant and event.actor == bob


def test_quick_actions_on_the_queue_return_to_the_queue_but_never_elsewhere(
    client, sla, clock, bob
):
    lead = mql(bob)
    client.force_login(bob)
    response = client.post(
        reverse("sla:lead_accept", args=[lead.pk]),
        {"expected_stage": "mql", "next": "/sla/queue/"},
    )
    assert response.url == "/sla/queue/"
    other = mql(bob)
    response = client.post(
        reverse("sla:lead_accept", args=[other.pk]),
        {"expected_stage": "mql", "next": "https://evil.example/"},
    )
    assert response.url == reverse("leads:detail", args=[other.pk])


# --------------------------------------------------------------------------------------------
# The queue


def test_the_queue_is_ordered_by_time_left_on_the_next_deadline(client, sla, bob, dave, erin):
    # Accept by 14:00.
    with time_machine.travel(MONDAY_10, tick=False):
        later = mql(bob, first_name="Later", last_name="Lead")
    # Accept by 13:30.
    with time_machine.travel(MONDAY_10 - dt.timedelta(minutes=30), tick=False):
        sooner = mql(bob, first_name="Sooner", last_name="Lead")
    # Accepted; hot, so first contact was due 09:30 (overdue).
    with time_machine.travel(MONDAY_10 - dt.timedelta(hours=1), tick=False):
        overdue = accepted(bob, first_name="Overdue", last_name="Lead", total_score=90)
        # Contacted: the qualify deadline is days away.
        qualifying = accepted(bob, first_name="Qualifying", last_name="Lead")
    with time_machine.travel(MONDAY_10, tick=False):
        services.contact_log(lead=qualifying, user=bob, channel="call", at=MONDAY_10)
        closed = accepted(bob, first_name="Closed", last_name="Lead")
        services.lead_qualify(
            lead=closed, user=bob, bant=dict.fromkeys(services.BANT_FIELDS, "yes")
        )
        rejected = mql(bob, first_name="Rejected", last_name="Lead")
        services.lead_reject(lead=rejected, user=bob, reason="student")
        mql(dave, first_name="Daves", last_name="Lead")
        mql(erin, first_name="Erins", last_name="Lead")
    bob.profile.time_zone = "Asia/Tokyo"
    bob.profile.save()
    client.force_login(bob)
    with time_machine.travel(MONDAY_10 + dt.timedelta(minutes=5), tick=False):
        html = page_text(client.get(reverse("sla:queue")))
    names = re.findall(r"<b>(\w+) Lead</b>", html)
    assert names == ["Overdue", "Sooner", "Later", "Qualifying"]
    row = html[html.index(f'<tr data-lead="{overdue.pk}" class="late">') :]
    row = row[: row.index("</tr>")]
    assert "First contact" in row and "Hot" in row and "countdown" in row
    assert 'data-due="2026-11-16T09:30:00+09:00"' in row and ">11/16/2026 9:30 a.m.<" in row
    for waiting in (later, sooner):
        assert f'action="/sla/leads/{waiting.pk}/accept/"' in html
        assert f'action="/sla/leads/{waiting.pk}/reject/"' in html


def test_queue_rows_show_the_frozen_reasons_and_latest_activities(client, sla, clock, bob):
    lead = LeadFactory(owner=bob, first_name="Hana", last_name="Sato")
    for kind, hours in (("page_view", 5), ("content_download", 4), ("webinar_attendance", 3)):
        ActivityFactory(lead=lead, kind=kind, occurred_at=MONDAY_10 - dt.timedelta(hours=hours))
    ActivityFactory(lead=lead, kind="demo_request", occurred_at=MONDAY_10 - dt.timedelta(hours=1))
    context = {
        "ruleset_version": 4,
        "total": 72,
        "threshold": 50,
        "explanation": [
            {"rule": "Title is CTO", "kind": "fit", "points": 25},
            {"rule": "Pricing page", "kind": "behaviour", "points": 12.5, "count": 3},
            {"rule": "Careers page", "kind": "behaviour", "points": -10, "count": 1},
            {"rule": "Webinar", "kind": "behaviour", "points": 5, "count": 1},
        ],
    }
    lead_transition(lead=lead, to_stage=Stage.MQL, ruleset_version=4, context=context)
    client.force_login(bob)
    html = page_text(client.get(reverse("sla:queue")))
    assert "Title is CTO" in html and "Pricing page" in html and "Careers page" in html
    assert "Webinar <b" not in html  # only the top three reasons
    assert "Demo request" in html and "Webinar attendance" in html
    assert "Content download" in html and "Page view" not in html


def test_a_manager_sees_the_team_and_reassigns_from_it(client, sla, clock, bob, dave, carol, erin):
    bobs = mql(bob, first_name="Bobs", last_name="Lead")
    daves = accepted(dave, first_name="Daves", last_name="Lead")
    mql(erin, first_name="Erins", last_name="Lead")
    client.force_login(carol)
    url = reverse("sla:queue") + "?scope=team"
    html = page_text(client.get(url))
    assert "Bobs Lead" in html and "Daves Lead" in html and "Erins Lead" not in html
    assert "Bob Rep" in html and "Dave Rep" in html
    assert "Waiting for acceptance" in html and "Accepted" in html
    assert f'<option value="{dave.pk}">Dave Rep</option>' in html
    assert "Erin Far" not in html
    response = client.post(
        reverse("sla:lead_reassign", args=[bobs.pk]),
        {"expected_stage": "mql", "to_user": dave.pk, "note": "Bob is off", "next": url},
    )
    assert response.url == url
    assert texts(response) == [f"{bobs.display_name} is reassigned."]
    bobs.refresh_from_db()
    assert bobs.owner == dave
    assert Handoff.objects.get(lead=bobs).rep == dave
    assignment = Assignment.objects.filter(lead=bobs).latest("at", "id")
    assert assignment.assigned_by == carol and assignment.reason == "Bob is off"
    client.force_login(dave)
    html = page_text(client.get(reverse("sla:queue")))
    assert "Bobs Lead" in html and "Daves Lead" in html
    assert daves.stage == Stage.SAL


# --------------------------------------------------------------------------------------------
# Rejections


def test_marketing_sees_every_rejection_with_reason_and_counts(
    client, sla, alice, bob, carol, erin
):
    october = dt.datetime(2026, 10, 5, 10, 0, tzinfo=TOKYO)
    with time_machine.travel(october, tick=False):
        lead = mql(bob, first_name="Old", last_name="Budget")
        services.lead_reject(lead=lead, user=bob, reason="no_budget", note="Tiny budget")
    with time_machine.travel(MONDAY_10, tick=False):
        for name, rep, reason in (
            ("Nov Budget", bob, "no_budget"),
            ("Nov Student", bob, "student"),
            ("Far Student", erin, "student"),
        ):
            first, last = name.split()
            lead = mql(rep, first_name=first, last_name=last)
            services.lead_reject(lead=lead, user=rep, reason=reason, note=f"{name} note")
    client.force_login(alice)
    url = reverse("sla:rejections")
    html = page_text(client.get(url))
    counts = html[html.index('id="reason-counts"') : html.index("</table>")]
    assert re.search(r"Student</a></td><td class=\"num\">2<", counts)
    assert re.search(r"No budget</a></td><td class=\"num\">2<", counts)
    assert "Tiny budget" in html and "Erin Far" in html and "Bob Rep" in html
    html = page_text(client.get(url, {"reason": "student"}))
    rows = html[html.index('id="rejections"') :]
    assert "Nov Student" in rows and "Far Student" in rows and "Nov Budget" not in rows
    html = page_text(client.get(url, {"month": "2026-10"}))
    counts = html[html.index('id="reason-counts"') : html.index("</table>")]
    assert re.search(r"No budget</a></td><td class=\"num\">1<", counts) and "Student" not in counts
    assert 'href="?reason=no_budget&month=2026-10"' in counts
    html = page_text(client.get(url, {"month": "garbage"}))
    assert "Use a month such as 2026-04." in html
    # The sales manager sees the rejections of the team only.
    client.force_login(carol)
    html = page_text(client.get(url))
    assert "Nov Student" in html and "Far Student" not in html


# --------------------------------------------------------------------------------------------
# The lead page


def test_the_lead_page_shows_the_handoff_the_actions_and_why(client, sla, clock, bob, carol):
    from scoring.services import lead_explain

    from ..scoring.helpers import make_version, rule

    live = make_version(number=3, threshold=50)
    rule(live, "fit", "Title is CTO", field="title", operator="equals", value="cto", points=30)
    rule(live, "behaviour", "Pricing page", activity_kind="page_view", points=10)
    lead = LeadFactory(owner=bob, title="CTO", company=CompanyFactory(name="Sakura"))
    view = ActivityFactory(lead=lead, occurred_at=MONDAY_10 - dt.timedelta(hours=2))
    result = lead_explain(lead=lead)
    context = {"ruleset_version": 3, "total": result.total, "threshold": 50}
    context["explanation"] = result.explanation
    lead_transition(lead=lead, to_stage=Stage.MQL, ruleset_version=3, context=context)
    client.force_login(bob)
    html = page_text(client.get(reverse("leads:detail", args=[lead.pk])))
    assert 'id="actions"' in html
    for action in ("accept", "reject", "contact"):
        assert f'action="/sla/leads/{lead.pk}/{action}/"' in html
    assert f'action="/sla/leads/{lead.pk}/qualify/"' not in html
    assert f'action="/sla/leads/{lead.pk}/reassign/"' not in html
    assert "Why this score" in html and "Why it became an MQL (rule set v3)" in html
    assert f'href="#activity-{view.pk}"' in html and f'id="activity-{view.pk}"' in html
    assert "under SLA v1" in html and "Routed on MQL" in html
    assert "Waiting for acceptance" in html and "countdown" in html
    client.force_login(carol)
    html = page_text(client.get(reverse("leads:detail", args=[lead.pk])))
    assert f'action="/sla/leads/{lead.pk}/reassign/"' in html


def test_marketing_reads_the_lead_page_without_actions(client, sla, clock, alice, bob):
    lead = mql(bob, excluded_reason="Competitor domain")
    client.force_login(alice)
    html = page_text(client.get(reverse("leads:detail", args=[lead.pk])))
    assert 'id="actions"' not in html and "/sla/leads/" not in html
    assert "Excluded:" in html and "Competitor domain" in html
    assert "No rule set is live" in html


# --------------------------------------------------------------------------------------------
# The agreement


def test_the_sla_page_states_the_agreement_in_plain_words(client, sla, alice):
    client.force_login(alice)
    html = page_text(client.get(reverse("sla:overview")))
    assert "Monday–Friday, 09:00–18:00, in the Asia/Tokyo time zone" in html
    assert "Public holidays of JP are closed" in html
    assert "within <b>4 business hours</b>" in html
    assert "<b>30 business minutes</b> for hot" in html and "<b>8 business hours</b>" in html
    assert "<b>10 business days</b>" in html and "<b>100 MQLs a month</b>" in html
    assert "<b>70%</b>" in html and "A lead is hot from a score of 80" in html


def test_both_sides_sign_off_and_publish_the_sla_through_the_page(client, sla, alice, carol, bob):
    client.force_login(bob)
    assert client.post(reverse("sla:draft_start")).status_code == 403
    client.force_login(alice)
    response = client.post(reverse("sla:draft_start"))
    assert texts(response) == ["SLA draft v2 is open for editing."]
    draft = SlaVersion.objects.get(status="draft")
    SlaVersion.objects.filter(pk=draft.pk).update(accept_within_hours=2)
    html = page_text(client.get(reverse("sla:overview")))
    assert "Draft: version 2" in html and "Sales: waiting for approval" in html
    assert "4 → <b>2</b>" in html
    client.post(reverse("sla:draft_approve"))
    response = client.post(reverse("sla:draft_publish"))
    assert texts(response) == ["You approved SLA draft v2.", "Approval still needed from: Sales."]
    client.force_login(carol)
    client.post(reverse("sla:draft_approve"))
    response = client.post(reverse("sla:draft_publish"))
    assert texts(response)[-1].startswith("SLA v2 is in force.")
    assert services.sla_live().number == 2
    html = page_text(client.get(reverse("sla:overview")))
    assert "In force: version 2" in html and "No open draft" in html
    assert "changed SLA v2" in html and "Draft → Published" in html


def test_admin_edits_only_the_draft_checks_the_calendar_and_withdraws_approvals(
    client, sla, alice, carol
):
    alice.is_staff = True
    alice.save()
    draft = services.sla_draft_get_or_create(user=alice)
    services.sla_approve(version=draft, user=carol)
    client.force_login(alice)
    url = reverse("admin:sla_slaversion_change", args=[draft.pk])
    form = {
        "time_zone": "Asia/Tokyo",
        "working_days": ["0", "1", "2", "3", "4"],
        "day_start": "09:00",
        "day_end": "18:00",
        "holiday_country": "jp",
        "holiday_subdivision": "",
        "accept_within_hours": "2",
        "first_contact_hot_minutes": "15",
        "first_contact_hours": "8",
        "qualify_within_days": "10",
        "hot_score": "80",
        "escalation_grace_minutes": "60",
        "min_mqls_per_month": "120",
        "min_acceptance_rate": "70",
        "closed_days-TOTAL_FORMS": "1",
        "closed_days-INITIAL_FORMS": "0",
        "closed_days-MIN_NUM_FORMS": "0",
        "closed_days-MAX_NUM_FORMS": "1000",
        "closed_days-0-date": "2026-12-29",
        "closed_days-0-name": "Year-end",
    }
    bad = {**form, "time_zone": "Mars/Olympus", "day_end": "08:00"}
    response = client.post(url, bad)
    assert response.status_code == 200
    assert "Unknown time zone" in response.content.decode()
    draft.refresh_from_db()
    assert draft.accept_within_hours == 4 and draft.approvals.exists()
    response = client.post(url, {**form, "day_end": "08:00"})
    assert "The closing time must be after the opening time" in response.content.decode()
    response = client.post(url, form, follow=True)
    assert response.redirect_chain[-1][0] == reverse("sla:overview")
    assert "The draft changed, so its approvals were withdrawn." in texts(response)
    draft.refresh_from_db()
    assert draft.accept_within_hours == 2 and draft.holiday_country == "JP"
    assert not draft.approvals.exists()
    html = page_text(response)
    assert "Alice Marketing" in html and "changed SLA v2" in html
    assert "Accept or reject within (business hours): 4 → 2" in html
    assert "created closed day 2026-12-29 Year-end (SLA v2)" in html
    live = services.sla_live()
    response = client.post(reverse("admin:sla_slaversion_change", args=[live.pk]), form)
    assert response.status_code == 403
