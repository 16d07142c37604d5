"""Pages with wide tables at a phone's width (390 px): the table scrolls inside its card, the
page itself never scrolls sideways (found by the review walk of the demo)."""

import pytest

from ..scoring.helpers import make_version, rule
from .conftest import ARTIFACTS, login

pytestmark = pytest.mark.browser


def test_a_rule_set_with_long_conditions_fits_a_phone(page, live_server, console_errors, alice):
    live = make_version(threshold=60, min_fit=10, half_life=30)
    rule(live, "behaviour", "Pricing page 3+ times in 2 weeks", activity_kind="page_view", points=5)
    rule(
        live,
        "fit",
        "Decision maker",
        field="title",
        operator="in",
        value=["C-level", "VP", "Director", "Owner / founder"],
        points=20,
    )
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server, "alice", "password")
    page.goto(f"{live_server.url}/scoring/")
    page.wait_for_selector("table.rules")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "test_scoring_overview_390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the scoring page is {width} px wide at 390 px"
    assert console_errors == []
