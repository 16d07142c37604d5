import re

import pytest
from playwright.sync_api import expect

from leads.models import Lead, Stage
from scoring import services
from scoring.models import RescoreRun, RuleSetVersion

from ..factories import ActivityFactory, LeadFactory
from ..scoring.helpers import make_version, rule
from .conftest import TIMEOUT_MS, login

pytestmark = pytest.mark.browser


@pytest.fixture
def second_page(browser, console_errors):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    yield page
    context.close()


def test_marketing_and_sales_edit_approve_publish_and_watch_the_rescore(
    page, second_page, live_server, console_errors, alice, carol
):
    # The managers are not staff: everything happens in the app's own pages.
    assert not (alice.is_staff or carol.is_staff)
    live = make_version(number=1, threshold=50)
    rule(live, "fit", "Manager", field="seniority", operator="equals", value="manager", points=10)
    engaged = [LeadFactory(seniority="manager") for _ in range(12)]
    for lead in engaged:
        ActivityFactory(
            lead=lead, kind="page_view", properties={"url": "https://x.example/pricing"}
        )
    for _ in range(18):
        LeadFactory()

    # Marketing opens a draft and edits it in the app.
    login(page, live_server, "alice", "password")
    page.goto(f"{live_server.url}/scoring/")
    page.get_by_role("button", name="Start a draft").click()
    page.get_by_role("link", name="Edit rules").click()
    page.fill("#id_mql_threshold", "30")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("link", name="New behaviour rule").click()
    page.fill("#id_name", "Pricing page")
    page.select_option("#id_activity_kind", "page_view")
    page.fill("#id_c0_property", "url")
    page.select_option("#id_c0_operator", "contains")
    page.fill("#id_c0_value", "/pricing")
    page.fill("#id_points", "25")
    page.get_by_role("button", name="Save the rule").click()
    expect(page.locator("#kind-behaviour")).to_contain_text("url contains /pricing")
    assert "admin" not in page.content()
    page.get_by_role("link", name="Back to sign-off").click()
    draft_card = page.locator("#draft")
    assert "+ Behaviour “Pricing page” (25)" in draft_card.inner_text()
    assert "MQL threshold: 50 → 30" in draft_card.inner_text()
    page.get_by_role("button", name="Approve", exact=True).click()
    assert "✓ Marketing — Alice Marketing" in page.locator("#draft").inner_text()
    assert page.get_by_role("button", name="Publish").is_disabled()

    # The impact preview shows what would happen.
    page.get_by_role("link", name="Preview impact").click()
    assert page.locator("#would-mql").inner_text() == "12"
    page.wait_for_selector("#distribution .main-svg")

    # Sales signs off and publishes.
    login(second_page, live_server, "carol", "password")
    second_page.goto(f"{live_server.url}/scoring/")
    assert "Sales: waiting for approval" in second_page.locator("#draft").inner_text()
    second_page.get_by_role("button", name="Approve", exact=True).click()
    second_page.get_by_role("button", name="Publish").click()
    second_page.wait_for_url(re.compile(r".*/scoring/runs/\d+/$"))
    progress = second_page.locator(".runprogress")
    assert progress.get_attribute("data-status") == "queued"

    # A worker runs it (its MQL hand-offs run eagerly here); the page follows the progress to
    # the end without a reload.
    from config.celery import app

    run = RescoreRun.objects.get()
    app.conf.task_always_eager = True
    try:
        services.rescore_run_execute(run_id=run.pk, chunk_size=7)
    finally:
        app.conf.task_always_eager = False
    # expect() polls without evaluating strings, which the Content-Security-Policy forbids.
    expect(second_page.locator(".runprogress")).to_have_attribute(
        "data-status", "done", timeout=TIMEOUT_MS
    )
    assert second_page.locator(".run-percent").inner_text() == "100"
    assert second_page.locator(".run-mqls").inner_text() == "12"
    assert RuleSetVersion.objects.get(number=2).status == "published"
    assert Lead.objects.filter(stage=Stage.MQL).count() == 12
    assert console_errors == []
