"""No chart offers a control that sends a figure off the server: every page that draws charts
renders one config, and every chart script uses it."""

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from core.charts import OFF_SERVER_BUTTONS
from scoring import services as scoring_services

from ..factories import ActivityFactory
from ..scoring.helpers import make_version, rule
from .test_pages import at_now, client_for

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def rendered_config(html: str) -> dict:
    match = re.search(r'<script id="plotly-config" type="application/json">(.*?)</script>', html)
    assert match, "the page renders no plotly-config"
    return json.loads(match.group(1))


def assert_stays_on_server(config: dict) -> None:
    assert config["displaylogo"] is False
    assert config["showSendToCloud"] is False
    assert config["showEditInChartStudio"] is False
    assert config["showLink"] is False
    assert config["plotlyServerURL"] == ""
    assert set(OFF_SERVER_BUTTONS) <= set(config["modeBarButtonsToRemove"])
    assert "sendChartToCloud" in config["modeBarButtonsToRemove"]


def test_the_dashboard_and_the_review_render_a_config_that_stays_on_the_server(history, carol):
    client = client_for(carol)
    for url in ("/dashboard/", "/review/2026-05/"):
        html = at_now(client, "get", url).content.decode()
        assert_stays_on_server(rendered_config(html))
        assert re.search(r'src="/static/vendor/plotly-[0-9.]+\.min\.js"', html), url
        assert "cdn" not in html.lower()


def test_the_scoring_preview_renders_the_same_config(client, alice):
    live = make_version(number=1)
    rule(live, "behaviour", "Views", activity_kind="page_view", points=10)
    scoring_services.draft_get_or_create(user=alice)
    ActivityFactory()
    client.force_login(alice)
    assert_stays_on_server(rendered_config(client.get(reverse("scoring:preview")).content.decode()))


def test_every_chart_script_draws_with_the_rendered_config():
    scripts = [
        p for p in (ROOT / "static" / "js").glob("*.js") if "Plotly.newPlot" in p.read_text()
    ]
    assert scripts
    for script in scripts:
        text = script.read_text()
        assert 'getElementById("plotly-config")' in text, script.name
        # Nothing switches a stripped control back on.
        assert not re.search(
            r"(displaylogo|showSendToCloud|showLink|showEditInChartStudio)\s*:", text
        )


def test_plotly_is_loaded_only_through_the_shared_tag():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert "plotly.min.js" not in text and "plotly/plotly" not in text, template.name
