"""Plotly figures for the scoring pages, built in Python and handed to the page as JSON."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from django.utils.translation import gettext as _

from core.charts import plain_text_figure

LAYOUT = dict(
    margin=dict(l=50, r=20, t=40, b=40),
    height=320,
    legend=dict(orientation="h", y=-0.2),
    font=dict(family="system-ui, sans-serif", size=12),
    plot_bgcolor="#fff",
)


def distribution_figure(impact: dict[str, Any]) -> dict:
    fig = go.Figure()
    if impact["live_histogram"]:
        xs, ys = zip(*impact["live_histogram"], strict=True)
        fig.add_bar(x=list(xs), y=list(ys), name=_("Live"), marker_color="#98a2b3")
    if impact["draft_histogram"]:
        xs, ys = zip(*impact["draft_histogram"], strict=True)
        fig.add_bar(x=list(xs), y=list(ys), name=_("Draft"), marker_color="#2458d6")
    fig.add_vline(x=impact["threshold"], line_dash="dash", line_color="#c4320a")
    fig.update_layout(
        title=_("Score distribution (leads per band of 10 points)"),
        barmode="group",
        xaxis_title=_("Total score"),
        yaxis_title=_("Leads"),
        **LAYOUT,
    )
    return plain_text_figure(fig.to_plotly_json())


def backtest_figure(draft: list[dict], live: list[dict], actual: list[dict]) -> dict:
    fig = go.Figure()
    months = [r["month"] for r in draft]
    fig.add_bar(
        x=months, y=[r["mqls"] for r in draft], name=_("Draft: MQLs"), marker_color="#2458d6"
    )
    if live:
        fig.add_bar(
            x=months, y=[r["mqls"] for r in live], name=_("Live: MQLs"), marker_color="#98a2b3"
        )
    fig.add_bar(
        x=months, y=[r["mqls"] for r in actual], name=_("Actual MQLs"), marker_color="#12805c"
    )
    fig.add_scatter(
        x=months,
        y=[None if r["sql_rate"] is None else round(100 * r["sql_rate"], 1) for r in draft],
        name=_("Draft: SQL rate (percent)"),
        yaxis="y2",
        mode="lines+markers",
        line_color="#1d3f9e",
    )
    if live:
        fig.add_scatter(
            x=months,
            y=[None if r["sql_rate"] is None else round(100 * r["sql_rate"], 1) for r in live],
            name=_("Live: SQL rate (percent)"),
            yaxis="y2",
            mode="lines+markers",
            line_color="#667085",
        )
    fig.update_layout(
        title=_("Backtest: MQLs per month and the share that reached SQL"),
        barmode="group",
        yaxis=dict(title=_("MQLs")),
        yaxis2=dict(
            title=_("Reached SQL (percent)"), overlaying="y", side="right", range=[0, 100], dtick=25
        ),
        **LAYOUT,
    )
    return plain_text_figure(fig.to_plotly_json())


def backtest_rows(draft: list[dict], live: list[dict], actual: list[dict]) -> list[dict]:
    live_by = {r["month"]: r for r in live}
    actual_by = {r["month"]: r for r in actual}
    return [
        {
            "month": r["month"],
            "draft": r,
            "live": live_by.get(r["month"]),
            "actual": actual_by.get(r["month"]),
        }
        for r in draft
    ]
