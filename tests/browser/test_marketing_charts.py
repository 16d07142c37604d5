"""The demo marketing manager (not staff) reads the dashboard and the review in Japanese and in
English, at a laptop's width and a phone's: charts in words and Japanese months, and no
toolbar control, link or request that leaves the server."""

from urllib.parse import urlparse

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from demo.seed import DEMO_PASSWORD, demo_seed

from .conftest import ARTIFACTS, login

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
ENGLISH_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def choose_language(username: str, language: str) -> None:
    profile = get_user_model().objects.get(username=username).profile
    profile.language = language
    profile.save()


def texts(page, selector: str) -> list[str]:
    # SVG text has no innerText: read textContent.
    return page.locator(selector).evaluate_all("nodes => nodes.map(n => n.textContent)")


def charts_drawn(page) -> None:
    for chart in ("chart-volume", "chart-conversion", "chart-rejections"):
        expect(page.locator(f"#{chart} svg.main-svg").first).to_be_visible(timeout=TIMEOUT)


def nothing_leaves_the_server(page, off_server: list[str]) -> None:
    titles = page.locator(".modebar-btn").evaluate_all(
        "buttons => buttons.map(b => b.getAttribute('data-title') || '')"
    )
    assert titles, "the charts have a toolbar"
    assert not [t for t in titles if "Share" in t or "共有" in t or "Chart Studio" in t], titles
    assert page.locator('a[href*="plotly.com"], .modebar-btn--logo').count() == 0
    assert page.locator('[data-attr="sendChartToCloud"], [data-title*="Share"]').count() == 0
    assert off_server == []


def test_the_demo_marketing_manager_reads_the_charts_in_japanese_and_english(
    page, live_server, console_errors, settings
):
    settings.REPORTS_TIME_ZONE = "Asia/Tokyo"  # as make run counts the demo
    demo_seed(leads=60, months=3, seed=42)
    marketing = get_user_model().objects.get(username="marketing")
    assert not marketing.is_staff and not marketing.is_superuser
    host = urlparse(live_server.url).netloc
    off_server: list[str] = []
    page.on(
        "request",
        lambda r: (
            off_server.append(r.url)
            if urlparse(r.url).scheme in ("http", "https") and urlparse(r.url).netloc != host
            else None
        ),
    )

    choose_language("marketing", "ja")
    login(page, live_server, "marketing", DEMO_PASSWORD)
    page.wait_for_url("**/dashboard/")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    charts_drawn(page)
    months = texts(page, "#chart-volume .xtick text")
    assert months and all("年" in m and "月" in m for m in months), months
    assert not [m for m in months if any(name in m for name in ENGLISH_MONTHS)], months
    legend = texts(page, "#chart-volume .legendtext")
    assert "ウェビナー" in legend and "webinar" not in legend and "paid_search" not in legend
    expect(page.locator("#reporting-zone")).to_contain_text("Asia/Tokyo")
    titles = page.locator("#chart-volume .modebar-btn").evaluate_all(
        "buttons => buttons.map(b => b.getAttribute('data-title'))"
    )
    assert "グラフを PNG で保存" in titles  # Plotly speaks Japanese too
    nothing_leaves_the_server(page, off_server)

    for language in ("ja", "en"):
        choose_language("marketing", language)
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/dashboard/")
            charts_drawn(page)
            nothing_leaves_the_server(page, off_server)
            shot(page, f"marketing_dashboard_{language}_{width}")
            page.click("#nav-review") if width == 1366 else page.goto(f"{live_server.url}/review/")
            page.wait_for_url("**/review/*/")
            charts_drawn(page)
            heading = page.locator("h1").inner_text()
            if language == "ja":
                assert heading.endswith("の月次レビュー") and "年" in heading, heading
            else:
                assert heading.startswith("Monthly review: "), heading
            nothing_leaves_the_server(page, off_server)
            shot(page, f"marketing_review_{language}_{width}")
    assert console_errors == []
