"""Charts speak the reader's language: sources, stages and reasons in words, one colour per
source everywhere, Plotly's locale and date labels in Japanese, a natural review title."""

import json
import re

import pytest

from leads.models import source_label
from reports import charts

from .test_chart_config import rendered_config
from .test_pages import at_now, client_for

pytestmark = pytest.mark.django_db
RANGE = {"from": "2026-04-01", "to": "2026-05-31"}


def figures_of(html: str) -> dict:
    match = re.search(r'<script id="figures-data" type="application/json">(.*?)</script>', html)
    assert match
    return json.loads(match.group(1))


def traces(figure: dict) -> dict[str, dict]:
    return {t["name"]: t for t in figure["data"] if t.get("name")}


def in_japanese(user):
    user.profile.language = "ja"
    user.profile.save()
    return user


def test_sources_are_named_in_words_and_keep_their_colour_on_every_chart(history, carol):
    client = client_for(carol)
    dashboard = figures_of(at_now(client, "get", "/dashboard/", RANGE).content.decode())
    review = figures_of(at_now(client, "get", "/review/2026-05/").content.decode())
    monthly = traces(dashboard["chart-volume"])
    weekly = traces(dashboard["chart-volume-weekly"])
    in_review = traces(review["chart-volume"])
    assert {"Webinar", "Paid search", "Event", "Partner"} <= set(monthly)
    assert not {"webinar", "paid_search"} & set(monthly)
    for name in ("Webinar", "Paid search", "Event", "Partner"):
        assert monthly[name]["marker"]["color"] == weekly[name]["marker"]["color"]
        assert monthly[name]["marker"]["color"] == in_review[name]["marker"]["color"]
    assert monthly["Webinar"]["marker"]["color"] == charts.source_color("webinar")
    colours = [monthly[n]["marker"]["color"] for n in ("Webinar", "Paid search", "Event")]
    assert len(set(colours)) == 3


def test_reasons_and_funnel_steps_are_in_words(history, carol):
    html = at_now(client_for(carol), "get", "/dashboard/", RANGE).content.decode()
    figures = figures_of(html)
    rejected = traces(figures["chart-rejections"])
    assert {"No budget", "Not a fit"} <= set(rejected)
    assert rejected["No budget"]["marker"]["color"] == charts.reason_color("no_budget")
    assert figures["chart-funnel"]["data"][0]["y"][0] == "New leads"
    assert "<td>New leads</td>" in html and "<td>LEAD</td>" not in html
    assert '<option value="paid_search">Paid search</option>' in html


def test_the_dashboard_in_japanese_has_japanese_labels_months_and_plotly_locale(history, carol):
    html = at_now(client_for(in_japanese(carol)), "get", "/dashboard/", RANGE).content.decode()
    figures = figures_of(html)
    assert rendered_config(html)["locale"] == "ja"
    assert 'src="/static/js/plotly-locale-ja.js"' in html
    volume = figures["chart-volume"]
    assert {"ウェビナー", "検索広告"} <= set(traces(volume))
    assert volume["layout"]["xaxis"]["tickformat"] == "%Y年%-m月"
    assert figures["chart-volume-weekly"]["layout"]["xaxis"]["tickformat"] == "%-m/%-d"
    assert "時間" in figures["chart-latency-accept"]["data"][0]["hovertemplate"]
    buckets = figures["chart-latency-distribution"]["data"][0]["x"]
    assert buckets[0] == "5 分未満" and buckets[-1] == "72 時間以上"
    assert "SQL 到達率" in traces(figures["chart-conversion"])
    assert "% reached" not in html
    assert "2026年5月の月次レビュー" in html  # the link to the review


def test_an_english_page_loads_no_plotly_locale(history, carol):
    html = at_now(client_for(carol), "get", "/dashboard/", RANGE).content.decode()
    assert rendered_config(html)["locale"] == "en"
    assert "plotly-locale" not in html
    assert figures_of(html)["chart-volume"]["layout"]["xaxis"]["tickformat"] == "%b %Y"


def test_the_review_title_reads_naturally_in_japanese(history, carol):
    html = at_now(client_for(in_japanese(carol)), "get", "/review/2026-05/").content.decode()
    assert re.search(r"<h1>\s*2026年5月の月次レビュー\s*</h1>", html)
    assert "5月 2026" not in html
    assert "2026年4月" in html  # the link to the previous month


def test_source_labels_for_known_unknown_and_missing_sources():
    assert source_label("paid_search") == "Paid search"
    assert source_label("trade_show") == "Trade show"
    assert source_label("Olark Chat") == "Olark Chat"
    assert source_label("") == "(no source)"
    assert charts.source_color("Olark Chat") == charts.source_color("Olark Chat")
    assert charts.source_color("webinar") != charts.source_color("paid_search")


def test_a_commitment_far_above_the_mqls_does_not_crowd_the_axis_with_ticks():
    volume = {
        "grain": "month",
        "sources": ["webinar"],
        "periods": [
            {"period": "2026-09", "total": 3, "target": 100, "by_source": {"webinar": 3}},
            {"period": "2026-10", "total": 5, "target": 100, "by_source": {"webinar": 5}},
        ],
    }
    axis = charts.mql_volume_figure(volume)["layout"]["yaxis"]
    assert axis.get("dtick") is None  # Plotly picks a few ticks up to 100


def test_score_bands_are_in_words():
    bands = {
        "bands": [
            {"band": "< 50", "mqls": 2, "sql_rate": 0.5, "acceptance_rate": 0.5},
            {"band": "unknown", "mqls": 1, "sql_rate": 0.0, "acceptance_rate": None},
        ]
    }
    assert charts.calibration_figure(bands)["data"][0]["x"] == ["under 50", "no score"]
