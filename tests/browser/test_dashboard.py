import pytest

# The hand-computed history of the reports tests, and the fixtures it needs.
from ..reports.conftest import history, sla, tokyo_reports  # noqa: F401
from .conftest import ARTIFACTS, login

pytestmark = pytest.mark.browser

CHARTS = (
    "chart-volume",
    "chart-volume-weekly",
    "chart-latency-accept",
    "chart-latency-contact",
    "chart-latency-distribution",
    "chart-compliance",
    "chart-compliance-rep",
    "chart-conversion",
    "chart-funnel",
    "chart-rejections",
    "chart-calibration",
)


@pytest.mark.usefixtures("history")
def test_a_sales_manager_reads_the_dashboard_filters_it_and_opens_the_review(
    page, live_server, console_errors, carol
):
    login(page, live_server, "carol", "password")
    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.wait_for_url("**/dashboard/")
    for chart in CHARTS:
        page.wait_for_selector(f"#{chart} svg.main-svg")
    assert page.locator("#chart-volume .bars path").count() > 0
    assert page.inner_text("#kpi-mqls") == "7"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "test_dashboard_before_filtering.png"), full_page=True)

    page.select_option("select[name=source]", "webinar")
    with page.expect_navigation():
        page.click("#filters button[type=submit]")
    assert "source=webinar" in page.url
    page.wait_for_selector("#chart-volume svg.main-svg")
    assert page.inner_text("#kpi-mqls") == "4"

    page.fill("input[name=from]", "2026-05-01")
    page.fill("input[name=to]", "2026-05-31")
    with page.expect_navigation():
        page.click("#filters button[type=submit]")
    assert page.inner_text("#kpi-mqls") == "1"  # B2

    page.click("#review-link")
    page.wait_for_url("**/review/2026-05/")
    assert page.inner_text("h1") == "Monthly review: May 2026"
    page.wait_for_selector("#chart-volume svg.main-svg")
    assert "✓ met" in page.inner_text("#target-mqls")
    page.fill("#note-form textarea[name=text]", "Keep the threshold; review webinars in June")
    with page.expect_navigation():
        page.click("#note-form button[type=submit]")
    assert "Keep the threshold" in page.inner_text("#decisions")
    assert console_errors == []
