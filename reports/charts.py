"""Plotly figures of the dashboard and the review, built from the selectors' output only."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from django.utils.translation import gettext as _

PALETTE = [
    "#2458d6",
    "#12805c",
    "#b54708",
    "#7a5af8",
    "#0e9384",
    "#c4320a",
    "#667085",
    "#dd2590",
    "#4e5ba6",
    "#98a2b3",
]
STEP_COLORS = {"accept": "#2458d6", "first_contact": "#12805c", "qualify": "#b54708"}
LAYOUT = dict(
    margin=dict(l=50, r=20, t=56, b=20),
    height=360,
    legend=dict(orientation="h", y=-0.12, yanchor="top", x=0),
    font=dict(family="system-ui, sans-serif", size=12),
    plot_bgcolor="#fff",
    paper_bgcolor="#fff",
)


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(100 * rate, 1)


def _months(keys: list[str]) -> list[str]:
    """Month keys (YYYY-MM) as dates, for a date axis that spaces and labels itself."""
    return [f"{key}-01" for key in keys]


MONTH_AXIS = dict(type="date", tickformat="%b %Y", ticklabelmode="period", dtick="M1")
WEEK_MS = 604800000
WEEK_AXIS = dict(type="date", tickformat="%d %b", hoverformat="%d %b %Y")


def _month_axis(count: int) -> dict:
    # One label per month while they fit, then every second or third month.
    return {**MONTH_AXIS, "dtick": f"M{max(1, -(-count // 8))}"}


def _count_axis(title: str, values: list) -> dict:
    """A y axis of whole numbers: no 0.5 MQL ticks on a quiet month."""
    top = max([v for v in values if v is not None] or [0])
    return dict(title=title, tickformat=",d", dtick=None if top > 5 else 1, rangemode="tozero")


def _no_data(fig: go.Figure, text: str) -> None:
    fig.add_annotation(
        text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font_color="#667085"
    )


def _figure(fig: go.Figure, title: str, *, period: str | int | None = None, **layout: Any) -> dict:
    if period is not None:
        # Bars and points sit in the middle of their month or week on the date axis.
        fig.update_traces(xperiod=period, xperiodalignment="middle")
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=14)), **{**LAYOUT, **layout})
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(gridcolor="#eef2f6", zeroline=False)
    return fig.to_plotly_json()


def mql_volume_figure(volume: dict[str, Any]) -> dict:
    fig = go.Figure()
    monthly = volume["grain"] == "month"
    keys = [p["period"] for p in volume["periods"]]
    x = _months(keys) if monthly else keys
    for i, source in enumerate(volume["sources"]):
        fig.add_bar(
            x=x,
            y=[p["by_source"][source] for p in volume["periods"]],
            name=source or _("(no source)"),
            marker_color=PALETTE[i % len(PALETTE)],
        )
    if volume["grain"] == "month" and any(p["target"] is not None for p in volume["periods"]):
        fig.add_scatter(
            x=x,
            y=[p["target"] for p in volume["periods"]],
            name=_("Commitment (SLA)"),
            mode="lines",
            line=dict(color="#1d2430", dash="dash", shape="hv"),
        )
    title = _("MQLs per month by source") if volume["grain"] == "month" else _("MQLs per week")
    return _figure(
        fig,
        title,
        barmode="stack",
        yaxis=_count_axis(_("MQLs"), [p["total"] for p in volume["periods"]]),
        xaxis=_month_axis(len(keys)) if monthly else WEEK_AXIS,
        period="M1" if monthly else WEEK_MS,
    )


def _toggle(labels: list[str], groups: list[list[bool]]) -> list[dict]:
    return [
        dict(
            type="buttons",
            direction="right",
            x=1,
            xanchor="right",
            y=1.16,
            showactive=True,
            buttons=[
                dict(label=label, method="update", args=[{"visible": visible}])
                for label, visible in zip(labels, groups, strict=True)
            ],
        )
    ]


def latency_figure(latency: dict[str, Any]) -> dict:
    fig = go.Figure()
    months = _months([m["month"] for m in latency["months"]])
    color = STEP_COLORS[latency["step"]]
    visible = []
    for kind in ("business", "clock"):
        for stat, dash, label in (
            ("median", "solid", _("Median")),
            ("p90", "dot", _("90th percentile")),
        ):
            fig.add_scatter(
                x=months,
                y=[m[f"{stat}_{kind}_h"] for m in latency["months"]],
                name=label,
                mode="lines+markers",
                line=dict(color=color, dash=dash),
                visible=kind == "business",
                customdata=[m["n"] for m in latency["months"]],
                hovertemplate="%{y:.1f} h (n=%{customdata})",
            )
            visible.append(kind)
    if not any(m["n"] for m in latency["months"]):
        _no_data(
            fig,
            _("No accepted hand-offs in this period")
            if latency["step"] == "accept"
            else _("No first contacts logged in this period"),
        )
    title = (
        _("MQL → accepted (hours)")
        if latency["step"] == "accept"
        else _("MQL → first contact (hours)")
    )
    return _figure(
        fig,
        title,
        yaxis=dict(title=_("hours"), rangemode="tozero"),
        xaxis=_month_axis(len(months)),
        period="M1",
        updatemenus=_toggle(
            [_("Business time"), _("Clock time")],
            [[v == "business" for v in visible], [v == "clock" for v in visible]],
        ),
    )


def latency_distribution_figure(distribution: dict[str, Any]) -> dict:
    fig = go.Figure()
    visible = []
    for kind in ("business", "clock"):
        for step, label in (
            ("accept", _("MQL → accepted")),
            ("first_contact", _("MQL → first contact")),
        ):
            fig.add_bar(
                x=distribution["buckets"],
                y=distribution[f"{step}_{kind}"],
                name=label,
                marker_color=STEP_COLORS[step],
                visible=kind == "business",
            )
            visible.append(kind)
    return _figure(
        fig,
        _("Hand-off latency distribution"),
        barmode="group",
        yaxis=_count_axis(
            _("hand-offs"),
            [n for key, counts in distribution.items() if key != "buckets" for n in counts],
        ),
        xaxis=dict(type="category"),
        updatemenus=_toggle(
            [_("Business time"), _("Clock time")],
            [[v == "business" for v in visible], [v == "clock" for v in visible]],
        ),
    )


def _step_label(step: str) -> str:
    return {
        "accept": _("Accept or reject"),
        "first_contact": _("First contact"),
        "qualify": _("Qualify or recycle"),
    }[step]


def compliance_figure(compliance: dict[str, Any]) -> dict:
    fig = go.Figure()
    months = _months([m["month"] for m in compliance["months"]])
    for step in STEP_COLORS:
        fig.add_scatter(
            x=months,
            y=[_pct(m[step]["rate"]) for m in compliance["months"]],
            name=_step_label(step),
            mode="lines+markers",
            line=dict(color=STEP_COLORS[step]),
            customdata=[[m[step]["met"], m[step]["due"]] for m in compliance["months"]],
            hovertemplate="%{y}% (%{customdata[0]} / %{customdata[1]})",
        )
    return _figure(
        fig,
        _("SLA compliance: share of due hand-offs done on time"),
        yaxis=dict(title="%", range=[0, 105]),
        xaxis=_month_axis(len(months)),
        period="M1",
    )


def compliance_by_rep_figure(by_rep: dict[str, Any]) -> dict:
    fig = go.Figure()
    names = [r["rep"] or _("Unassigned") for r in by_rep["reps"]]
    for step in STEP_COLORS:
        fig.add_bar(
            x=names,
            y=[_pct(r[step]["rate"]) for r in by_rep["reps"]],
            name=_step_label(step),
            marker_color=STEP_COLORS[step],
            customdata=[[r[step]["met"], r[step]["due"]] for r in by_rep["reps"]],
            hovertemplate="%{y}% (%{customdata[0]} / %{customdata[1]})",
        )
    return _figure(
        fig,
        _("SLA compliance per rep"),
        barmode="group",
        yaxis=dict(title="%", range=[0, 105]),
        xaxis=dict(type="category"),
    )


def conversion_figure(conversion: dict[str, Any], targets: dict[str, Any]) -> dict:
    fig = go.Figure()
    months = conversion["months"]
    x = _months([m["month"] for m in months])
    fig.add_bar(
        x=x,
        y=[m["mqls"] for m in months],
        name=_("MQLs (cohort)"),
        marker=dict(
            color=["#c7d7fe" if m["maturing"] else "#98a2b3" for m in months],
        ),
        hovertemplate="%{y} MQLs",
    )
    fig.add_scatter(
        x=x,
        y=[_pct(m["sql_rate"]) for m in months],
        name=_("% reached SQL"),
        yaxis="y2",
        mode="lines+markers",
        line=dict(color="#12805c"),
        marker=dict(symbol=["circle-open" if m["maturing"] else "circle" for m in months], size=9),
    )
    fig.add_scatter(
        x=x,
        y=[_pct(m["acceptance_rate"]) for m in months],
        name=_("% accepted (SAL)"),
        yaxis="y2",
        mode="lines+markers",
        line=dict(color="#2458d6"),
    )
    target_rates = [_pct(t["min_acceptance_rate"]) for t in targets["months"]]
    if any(t is not None for t in target_rates):
        fig.add_scatter(
            x=x,
            y=target_rates,
            name=_("Acceptance floor (SLA)"),
            yaxis="y2",
            mode="lines",
            line=dict(color="#2458d6", dash="dash", shape="hv"),
        )
    return _figure(
        fig,
        _("MQL → SAL → SQL by MQL month (light bars, open dots: still maturing)"),
        yaxis=_count_axis(_("MQLs"), [m["mqls"] for m in months]),
        yaxis2=dict(
            title="%",
            overlaying="y",
            side="right",
            range=[0, 105],
            tickvals=[0, 25, 50, 75, 100],
            showgrid=False,
        ),
        xaxis=_month_axis(len(x)),
        period="M1",
    )


def funnel_figure(funnel: dict[str, Any]) -> dict:
    labels = {"lead": _("New leads"), "mql": "MQL", "sal": "SAL", "sql": "SQL"}
    steps = [s for s in funnel["steps"] if s["count"] is not None]
    fig = go.Figure(
        go.Funnel(
            y=[labels[s["stage"]] for s in steps],
            x=[s["count"] for s in steps],
            textinfo="value+percent previous",
            marker=dict(color=["#98a2b3", "#2458d6", "#12805c", "#05603a"][-len(steps) :]),
        )
    )
    return _figure(fig, _("Funnel of the period"), margin=dict(l=80, r=20, t=48, b=20))


def rejection_figure(reasons: dict[str, Any]) -> dict:
    fig = go.Figure()
    x = _months([m["month"] for m in reasons["months"]])
    for i, reason in enumerate(reasons["reasons"]):
        fig.add_bar(
            x=x,
            y=[m["by_reason"][reason["code"]] for m in reasons["months"]],
            name=reason["label"],
            marker_color=PALETTE[(i + 2) % len(PALETTE)],
        )
    return _figure(
        fig,
        _("Rejected MQLs by reason (MQL month)"),
        barmode="stack",
        yaxis=_count_axis(_("rejected"), [m["rejected"] for m in reasons["months"]]),
        xaxis=_month_axis(len(x)),
        period="M1",
    )


def calibration_figure(calibration: dict[str, Any]) -> dict:
    bands = [b for b in calibration["bands"] if b["mqls"]]
    fig = go.Figure()
    if not bands:
        _no_data(fig, _("No MQLs in this period"))
    fig.add_bar(
        x=[b["band"] for b in bands],
        y=[_pct(b["sql_rate"]) for b in bands],
        name=_("% reached SQL"),
        marker_color="#12805c",
        text=[f"n={b['mqls']}" for b in bands],
        textposition="outside",
    )
    fig.add_scatter(
        x=[b["band"] for b in bands],
        y=[_pct(b["acceptance_rate"]) for b in bands],
        name=_("% accepted (SAL)"),
        mode="lines+markers",
        line=dict(color="#2458d6"),
    )
    return _figure(
        fig,
        _("Outcome by total score at the moment of MQL"),
        yaxis=dict(title="%", range=[0, 110]),
        xaxis=dict(type="category"),
    )


def dashboard_figures(data: dict[str, dict[str, Any]]) -> dict[str, dict]:
    """Every chart of the dashboard, keyed by its element id."""
    return {
        "chart-volume": mql_volume_figure(data["mql-volume"]),
        "chart-volume-weekly": mql_volume_figure(data["mql-volume-weekly"]),
        "chart-latency-accept": latency_figure(data["latency-accept"]),
        "chart-latency-contact": latency_figure(data["latency-first-contact"]),
        "chart-latency-distribution": latency_distribution_figure(data["latency-distribution"]),
        "chart-compliance": compliance_figure(data["sla-compliance"]),
        "chart-compliance-rep": compliance_by_rep_figure(data["sla-compliance-by-rep"]),
        "chart-conversion": conversion_figure(data["conversion"], data["marketing-targets"]),
        "chart-funnel": funnel_figure(data["funnel"]),
        "chart-rejections": rejection_figure(data["rejection-reasons"]),
        "chart-calibration": calibration_figure(data["score-calibration"]),
    }
