import pytest

from demo.seed import DEMO_PASSWORD, demo_seed
from leads.models import Stage
from leads.services import lead_transition

from ..factories import ActivityFactory, CompanyFactory, LeadFactory
from .conftest import login

pytestmark = pytest.mark.browser


def test_marketing_logs_in_and_reads_a_lead(page, live_server, console_errors, alice, bob):
    company = CompanyFactory(name="株式会社さくら精機", industry="Manufacturing", employees=420)
    lead = LeadFactory(
        first_name="Hana",
        last_name="Sato",
        email="hana.sato@sakura-seiki.example",
        title="マーケティング部 部長",
        country="Japan",
        company=company,
        owner=bob,
    )
    ActivityFactory(lead=lead, properties={"url": "https://www.example.com/pricing"})
    lead_transition(lead=lead, to_stage=Stage.MQL)
    lead_transition(lead=lead, to_stage=Stage.SAL, actor=bob)

    login(page, live_server, "alice", "password")
    # A marketing manager lands on the dashboard, then opens the lead list.
    page.wait_for_url("**/dashboard/")
    with page.expect_navigation():
        page.click("nav.mainnav >> text=Leads")
    assert page.locator("h1").first.inner_text() == "Leads"
    assert "Alice Marketing" in page.locator(".usermenu").inner_text()
    row = page.locator("table.grid tbody tr", has_text="Hana Sato")
    assert "株式会社さくら精機" in row.inner_text()

    row.get_by_role("link", name="Hana Sato").click()
    page.wait_for_url(f"**/leads/{lead.id}/")
    assert "Hana Sato" in page.locator("h1").inner_text()
    attributes = page.locator("dl.attrs").inner_text()
    for value in ("hana.sato@sakura-seiki.example", "Japan", "Webinar", "Bob Rep", "420"):
        assert value in attributes
    assert "https://www.example.com/pricing" in page.locator("ol.timeline").inner_text()
    history = page.locator("ol.history").inner_text()
    assert "Lead → MQL" in history
    assert "MQL → SAL" in history
    assert "Bob Rep" in history
    assert console_errors == []


def test_the_login_page_switches_to_japanese(page, live_server, console_errors):
    page.goto(f"{live_server.url}/login/")
    assert page.get_attribute("html", "lang") == "en"
    with page.expect_navigation():
        page.click("form.langswitch button[name=language][value=ja]")
    assert page.get_attribute("html", "lang") == "ja"
    assert "/login/" in page.url
    # The choice sticks for the next page too.
    page.reload()
    assert page.get_attribute("html", "lang") == "ja"
    assert console_errors == []


def test_the_demo_marketing_login_sees_the_seeded_leads(page, live_server, console_errors):
    demo_seed(leads=60, months=3, seed=42)
    login(page, live_server, "marketing", DEMO_PASSWORD)
    page.wait_for_url("**/dashboard/")
    page.goto(f"{live_server.url}/leads/")
    assert "60 leads" in page.locator("main").inner_text()
    stages = page.locator("table.grid tbody .stage").all_inner_texts()
    assert {"Lead", "SQL"} <= set(stages)
    assert console_errors == []
