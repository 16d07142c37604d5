import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Stage
from leads.services import lead_transition
from sla import services

from ..conftest import tokyo_sla
from ..factories import ActivityFactory, CompanyFactory, LeadFactory
from .conftest import ARTIFACTS, TIMEOUT_MS, login

pytestmark = pytest.mark.browser
COUNTDOWN = re.compile(r"^(\d+d )?(\d+h )?\d+m \d{2}s left$")


def shot(page, name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return str(path)


def team_row(manager, live_server, lead):
    manager.goto(f"{live_server.url}/sla/queue/?scope=team")
    return manager.locator(f"#team-queue tr[data-lead='{lead.pk}']")


def test_a_rep_works_a_fresh_mql_while_the_manager_watches(
    page, browser, live_server, console_errors, bob, dave, carol
):
    tokyo_sla()
    for person in (bob, carol):
        person.profile.time_zone = "Asia/Tokyo"
        person.profile.save()
    now = timezone.now()
    # Bob's older work: accepted and contacted, so only the 10-day qualify clock runs.
    older = LeadFactory(owner=bob, first_name="Kenji", last_name="Mori")
    lead_transition(lead=older, to_stage=Stage.MQL, at=now - dt.timedelta(hours=3))
    services.lead_accept(lead=older, user=bob)
    services.contact_log(lead=older, user=bob, channel="email", at=now - dt.timedelta(hours=1))
    # Dave's hand-off is in the team view, never in Bob's queue.
    lead_transition(lead=LeadFactory(owner=dave, first_name="Yui", last_name="Ito"), to_stage="mql")
    company = CompanyFactory(name="株式会社さくら精機", industry="Manufacturing", employees=420)
    lead = LeadFactory(
        owner=bob, first_name="Hana", last_name="Sato", company=company, total_score=86
    )
    for kind, minutes in (("page_view", 40), ("content_download", 25), ("demo_request", 5)):
        ActivityFactory(lead=lead, kind=kind, occurred_at=now - dt.timedelta(minutes=minutes))
    explanation = [
        {"rule": "Decision maker (C-level)", "kind": "fit", "points": 30},
        {"rule": "Pricing page visits", "kind": "behaviour", "points": 24.5, "count": 3},
        {"rule": "Demo request", "kind": "fast_track", "points": 0, "count": 1},
    ]
    lead_transition(
        lead=lead,
        to_stage=Stage.MQL,
        at=now - dt.timedelta(minutes=2),
        reason="fast_track",
        ruleset_version=1,
        context={"ruleset_version": 1, "total": 86, "threshold": 60, "explanation": explanation},
    )

    # The manager's team view, in a browser of her own.
    manager_context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    manager_context.set_default_timeout(TIMEOUT_MS)
    manager = manager_context.new_page()
    manager.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    manager.on("pageerror", lambda exc: console_errors.append(str(exc)))
    try:
        login(manager, live_server, "carol", "password")
        row = team_row(manager, live_server, lead)
        assert "Waiting for acceptance" in row.inner_text()
        assert "Bob Rep" in row.inner_text()
        assert "Yui Ito" in manager.locator("#team-queue").inner_text()
        shot(manager, "sla_manager_team_before")

        # Bob's queue: the fresh MQL is on top, its clock ticking.
        login(page, live_server, "bob", "password")
        page.goto(f"{live_server.url}/queue/")
        rows = page.locator("#my-queue tbody tr")
        assert rows.count() == 2
        top = rows.first
        assert top.get_attribute("data-lead") == str(lead.pk)
        assert "株式会社さくら精機" in top.inner_text() and "HOT" in top.inner_text().upper()
        assert "Decision maker (C-level)" in top.inner_text()
        assert "Demo request" in top.inner_text()
        assert "Yui Ito" not in page.locator("#my-queue").inner_text()
        countdown = top.locator(".countdown")
        first = countdown.inner_text()
        assert COUNTDOWN.match(first), first
        # expect() polls without evaluating strings, which the Content-Security-Policy forbids.
        expect(countdown).not_to_have_text(first)
        assert COUNTDOWN.match(countdown.inner_text())
        shot(page, "sla_rep_queue")

        # Accept from the queue.
        with page.expect_navigation():
            top.get_by_role("button", name="Accept").click()
        assert "/sla/queue/" in page.url
        assert "You accepted Hana Sato." in page.locator("ul.messages").inner_text()
        row = page.locator(f"#my-queue tr[data-lead='{lead.pk}']")
        assert "Accepted" in row.inner_text() and "First contact" in row.inner_text()
        assert "Accepted" in team_row(manager, live_server, lead).inner_text()

        # The lead page: log the call, then qualify with BANT.
        with page.expect_navigation():
            row.get_by_role("link", name="Hana Sato").click()
        assert page.locator("h1 .stage").inner_text() == "SAL"
        page.select_option("#contact_channel", "call")
        page.fill("#contact_note", "Talked to Hana; demo booked for Thursday.")
        with page.expect_navigation():
            page.click("#contact-form button[type=submit]")
        assert "Contact with Hana Sato logged." in page.locator("ul.messages").inner_text()
        assert "demo booked" in page.locator("#contacts").inner_text()
        assert "Why it became an MQL (rule set v1)" in page.inner_text("main")
        shot(page, "sla_rep_lead")
        page.fill("#qualify_budget", "¥5M this fiscal year")
        page.fill("#qualify_authority", "Hana decides with the CFO")
        page.fill("#qualify_need", "Replace spreadsheets for 40 sales staff")
        page.fill("#qualify_timeline", "Go live in April")
        with page.expect_navigation():
            page.click("#qualify-form button[type=submit]")
        assert "Hana Sato is now an SQL." in page.locator("ul.messages").inner_text()
        assert page.locator("h1 .stage").inner_text() == "SQL"
        assert page.locator("#actions").count() == 0 or "Qualify" not in page.inner_text("#actions")
        shot(page, "sla_rep_lead_sql")

        # The manager's view no longer lists it as open.
        assert team_row(manager, live_server, lead).count() == 0
        assert "Kenji Mori" in manager.locator("#team-queue").inner_text()
        shot(manager, "sla_manager_team_after")
    finally:
        manager_context.close()
    assert console_errors == []


def test_marketing_reads_rejections_and_signs_the_sla_draft(
    page, live_server, console_errors, alice, bob
):
    tokyo_sla()
    for name, reason, note in (
        ("Aoi Kato", "student", "Thesis research"),
        ("Ren Abe", "no_budget", "Freeze until April"),
        ("Mei Ono", "student", ""),
    ):
        first, last = name.split()
        lead = LeadFactory(owner=bob, first_name=first, last_name=last)
        lead_transition(lead=lead, to_stage=Stage.MQL)
        services.lead_reject(lead=lead, user=bob, reason=reason, note=note)
    login(page, live_server, "alice", "password")
    page.click("nav.mainnav >> text=Rejections")
    counts = page.locator("#reason-counts tr[data-reason='student']").inner_text()
    assert "Student" in counts and "2" in counts
    assert "Freeze until April" in page.locator("#rejections").inner_text()
    shot(page, "sla_marketing_rejections")
    page.click("nav.mainnav >> text=SLA")
    live = page.locator("#live").inner_text()
    assert "Monday–Friday, 09:00–18:00, in the Asia/Tokyo time zone" in live
    with page.expect_navigation():
        page.get_by_role("button", name="Start a draft").click()
    assert "SLA draft v2 is open for editing." in page.locator("ul.messages").inner_text()
    # Her own draft, unchanged, is nothing to approve: she changes a term first.
    page.get_by_role("link", name="Edit the draft").click()
    page.fill("#id_accept_within_hours", "3")
    with page.expect_navigation():
        page.get_by_role("button", name="Save the draft").click()
    page.click("nav.mainnav >> text=SLA")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve", exact=True).click()
    draft = page.locator("#draft").inner_text()
    assert "Marketing — Alice Marketing" in draft and "Sales: waiting for approval" in draft
    assert page.get_by_role("button", name="Publish").is_disabled()
    shot(page, "sla_overview")
    assert console_errors == []
