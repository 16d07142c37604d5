"""The sales team's day at a phone's width (390 px) and a laptop's (1366 px)."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Stage
from leads.services import lead_transition

from ..conftest import tokyo_sla
from ..factories import CompanyFactory, LeadFactory
from .conftest import ARTIFACTS, login

pytestmark = pytest.mark.browser
WIDTHS = [390, 1366]
TIMEOUT = 30_000


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"
    )
    assert width <= page.viewport_size["width"], f"page is {width} px wide: {wide}"


def within_viewport(page, locator) -> None:
    expect(locator).to_be_visible(timeout=TIMEOUT)
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], box


@pytest.mark.parametrize("width", WIDTHS)
def test_a_rep_accepts_from_the_queue_and_acts_on_the_lead_page_without_sideways_scrolling(
    page, live_server, console_errors, bob, width
):
    tokyo_sla()
    page.set_viewport_size({"width": width, "height": 900})
    now = timezone.now()
    company = CompanyFactory(name="株式会社さくら精機ホールディングス・インターナショナル")
    lead = LeadFactory(
        owner=bob,
        first_name="Hana",
        last_name="Sato",
        company=company,
        email="hana.sato.with.a.very.long.address@sakura-seiki-holdings.example",
        total_score=86,
    )
    lead_transition(lead=lead, to_stage=Stage.MQL, at=now - dt.timedelta(minutes=2))
    other = LeadFactory(owner=bob, first_name="Kenji", last_name="Mori")
    lead_transition(lead=other, to_stage=Stage.MQL, at=now - dt.timedelta(minutes=1))

    login(page, live_server, "bob", "password")
    page.goto(f"{live_server.url}/sla/queue/")
    within_viewport(page, page.get_by_role("button", name="Log out"))
    card = page.locator(f"#my-queue tr[data-lead='{lead.pk}']")
    within_viewport(page, card.get_by_role("button", name="Accept"))
    within_viewport(page, card.get_by_role("button", name="Reject"))
    within_viewport(page, card.get_by_label("Reason"))
    no_sideways_scroll(page)
    shot(page, f"day_queue_{width}")

    with page.expect_navigation():
        card.get_by_role("button", name="Accept").click()
    expect(page.locator("ul.messages")).to_contain_text("You accepted Hana Sato.", timeout=TIMEOUT)
    card = page.locator(f"#my-queue tr[data-lead='{lead.pk}']")
    expect(card).to_contain_text("Accepted", timeout=TIMEOUT)
    no_sideways_scroll(page)

    with page.expect_navigation():
        card.get_by_role("link", name="Hana Sato").first.click()
    within_viewport(page, page.get_by_role("button", name="Log out"))
    for form in ("#contact-form", "#qualify-form", "#recycle-form", "#disqualify-form"):
        within_viewport(page, page.locator(f"{form} button[type=submit]"))
    no_sideways_scroll(page)
    shot(page, f"day_lead_{width}")
    assert console_errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_rep_meets_error_pages_in_the_layout_without_debug_details(
    page, live_server, console_errors, settings, bob, dave, width
):
    settings.DEBUG = True
    page.set_viewport_size({"width": width, "height": 900})
    theirs = LeadFactory(owner=dave)
    login(page, live_server, "bob", "password")
    for path, status, heading in (
        (f"/leads/{theirs.pk}/", 404, "Page not found"),
        ("/no/such/page/", 404, "Page not found"),
        ("/sla/rejections/", 403, "Not allowed"),
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == status
        expect(page.locator("#error h1")).to_have_text(heading, timeout=TIMEOUT)
        within_viewport(page, page.get_by_role("button", name="Log out"))
        expect(page.locator("nav.mainnav")).to_contain_text("Queue")
        assert "URLconf" not in page.content() and "Traceback" not in page.content()
        no_sideways_scroll(page)
        shot(page, f"day_error_{status}_{width}")
    with page.expect_navigation():
        page.get_by_role("link", name="Back to my work").click()
    assert page.url.endswith("/sla/queue/")
    # The documents' own 404 and 403 are the only console messages.
    assert [e for e in console_errors if "status of 40" not in e] == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_new_mql_appears_live_with_the_bell_and_the_title_counting(
    page, live_server, console_errors, bob, width
):
    tokyo_sla()
    page.set_viewport_size({"width": width, "height": 900})
    first = LeadFactory(owner=bob, first_name="Kenji", last_name="Mori")
    lead_transition(lead=first, to_stage=Stage.MQL)
    login(page, live_server, "bob", "password")
    page.goto(f"{live_server.url}/sla/queue/")
    expect(page).to_have_title("(1) My queue · Handoff", timeout=TIMEOUT)
    expect(page.locator("#bell-count")).to_have_text("1", timeout=TIMEOUT)

    # Marketing's scoring makes a new MQL for Bob while his queue is open.
    fresh = LeadFactory(owner=bob, first_name="Hana", last_name="Sato", total_score=88)
    lead_transition(lead=fresh, to_stage=Stage.MQL)
    row = page.locator(f"#my-queue tr[data-lead='{fresh.pk}']")
    expect(row).to_be_visible(timeout=TIMEOUT)
    expect(page).to_have_title("(2) My queue · Handoff", timeout=TIMEOUT)
    expect(page.locator("#bell-count")).to_have_text("2", timeout=TIMEOUT)
    no_sideways_scroll(page)
    shot(page, f"day_live_queue_{width}")

    # Accept the new one from the live rows (the phone's card at 390 px).
    within_viewport(page, row.get_by_role("button", name="Accept"))
    with page.expect_navigation():
        row.get_by_role("button", name="Accept").click()
    expect(page.locator("ul.messages")).to_contain_text("You accepted Hana Sato.", timeout=TIMEOUT)
    assert page.url.endswith("/sla/queue/")

    # The bell's list: opening the notice marks it read and leads to the lead.
    page.locator("#bell").click()
    notice = page.locator("#notifications li", has_text="Hana Sato")
    expect(notice).to_have_class(re.compile("unread"), timeout=TIMEOUT)
    shot(page, f"day_notifications_{width}")
    with page.expect_navigation():
        notice.locator("a.subject").click()
    assert page.url.endswith(f"/leads/{fresh.pk}/")
    expect(page.locator("#bell-count")).to_have_text("1", timeout=TIMEOUT)
    assert console_errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_manager_bulk_reassigns_from_the_team_view(
    page, live_server, console_errors, bob, dave, carol, width
):
    tokyo_sla()
    page.set_viewport_size({"width": width, "height": 900})
    leads = []
    for first in ("Aoi", "Ren", "Mei"):
        lead = LeadFactory(owner=bob, first_name=first, last_name="Kato")
        lead_transition(lead=lead, to_stage=Stage.MQL)
        leads.append(lead)
    login(page, live_server, "carol", "password")
    # A sales manager lands on the team view.
    page.wait_for_url("**/sla/queue/?scope=team")
    summary = page.locator("#team-summary")
    expect(summary.locator(f"tr[data-rep='{bob.pk}'] td").nth(1)).to_have_text("3")
    expect(summary.locator(f"tr[data-rep='{dave.pk}'] td").nth(1)).to_have_text("0")
    no_sideways_scroll(page)
    shot(page, f"day_team_{width}")

    # Without a target: an error, nothing moves.
    page.locator(f"#team-queue tr[data-lead='{leads[0].pk}'] input[name=leads]").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Reassign ticked").click()
    expect(page.locator("ul.messages")).to_contain_text("choose the rep", timeout=TIMEOUT)

    for lead in leads[:2]:
        page.locator(f"#team-queue tr[data-lead='{lead.pk}'] input[name=leads]").check()
    page.select_option("#bulk-to", str(dave.pk))
    with page.expect_navigation():
        page.get_by_role("button", name="Reassign ticked").click()
    expect(page.locator("ul.messages")).to_contain_text(
        "2 leads reassigned to Dave Rep.", timeout=TIMEOUT
    )
    expect(summary.locator(f"tr[data-rep='{dave.pk}'] td").nth(1)).to_have_text("2")
    expect(summary.locator(f"tr[data-rep='{bob.pk}'] td").nth(1)).to_have_text("1")
    # Filter by rep.
    page.select_option("#filter-rep", str(dave.pk))
    with page.expect_navigation():
        page.locator("#rep-filter button").click()
    expect(page.locator("#team-queue tbody tr")).to_have_count(2, timeout=TIMEOUT)
    no_sideways_scroll(page)
    shot(page, f"day_team_after_{width}")
    assert console_errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_main_pages_have_no_serious_accessibility_violations(
    page, browser, live_server, console_errors, bob, carol, width
):
    from axe_playwright_python.sync_playwright import Axe

    tokyo_sla()
    axe = Axe()
    lead = LeadFactory(owner=bob, first_name="Hana", last_name="Sato")
    lead_transition(lead=lead, to_stage=Stage.MQL)
    page.set_viewport_size({"width": width, "height": 900})

    def check(path: str) -> None:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        violations = axe.run(page).response["violations"]
        bad = [
            (v["id"], [n["target"] for n in v["nodes"][:3]])
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == [], f"{path} at {width}px: {bad}"

    check("/login/")
    login(page, live_server, "bob", "password")
    for path in ("/sla/queue/", f"/leads/{lead.pk}/", "/notifications/", "/sla/"):
        check(path)
    page.context.clear_cookies()
    login(page, live_server, "carol", "password")
    for path in ("/sla/queue/?scope=team", "/dashboard/", "/review/"):
        check(path)
    assert console_errors == []


@pytest.mark.parametrize(("width", "language"), [(390, "ja"), (1366, "en")])
def test_a_rep_qualifies_with_bant_and_sees_the_answers_on_the_lead_page(
    page, live_server, console_errors, bob, width, language
):
    from leads.models import Lead
    from sla import services

    tokyo_sla()
    if language == "ja":
        bob.profile.language = "ja"
        bob.profile.save()
    page.set_viewport_size({"width": width, "height": 900})
    lead = LeadFactory(owner=bob, first_name="Hana", last_name="Sato")
    lead_transition(lead=lead, to_stage=Stage.MQL)
    services.lead_accept(lead=Lead.objects.get(pk=lead.pk), user=bob)
    login(page, live_server, "bob", "password")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    answers = {
        "budget": "¥5M this fiscal year",
        "authority": "Hana decides with the CFO",
        "need": "Replace spreadsheets",
        "timeline": "Go live in April",
    }
    for key, value in answers.items():
        page.fill(f"#qualify_{key}", value)
    within_viewport(page, page.locator("#qualify-form button[type=submit]"))
    with page.expect_navigation():
        page.click("#qualify-form button[type=submit]")
    section = page.locator("#bant")
    expect(section).to_be_visible(timeout=TIMEOUT)
    for key, value in answers.items():
        expect(section.locator(f"dd[data-bant='{key}']")).to_have_text(value)
    expect(section).to_contain_text("Bob Rep")
    no_sideways_scroll(page)
    shot(page, f"day_bant_{language}_{width}")
    assert console_errors == []
