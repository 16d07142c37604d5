"""Plotly figures of the dashboard and the review, built from the selectors' output only."""

from __future__ import annotations

import zlib
from typing import Any

import plotly.graph_objects as go
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _

from core.charts import plain_text_figure
from leads.models import RejectionReason, source_label

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
# One colour per lead source on every chart and page, whatever the order or the filter: the
# usual sources have their own, any other gets one from its name (the same name, the same
# colour).
SOURCE_COLORS = {
    "webinar": "#2458d6",
    "organic_search": "#12805c",
    "paid_search": "#b54708",
    "referral": "#7a5af8",
    "events": "#0e9384",
    "event": "#0e9384",
    "content_syndication": "#dd2590",
    "partner": "#4e5ba6",
    "email": "#c4320a",
    "": "#98a2b3",
}
# Likewise one colour per rejection reason.
REASON_COLORS: dict[str, str] = {
    RejectionReason.NOT_A_FIT: "#b54708",
    RejectionReason.STUDENT: "#7a5af8",
    RejectionReason.COMPETITOR: "#c4320a",
    RejectionReason.NO_BUDGET: "#0e9384",
    RejectionReason.BAD_DATA: "#dd2590",
    RejectionReason.DUPLICATE: "#4e5ba6",
    RejectionReason.EXISTING_CUSTOMER: "#2458d6",
    RejectionReason.OTHER: "#667085",
}


def _hashed_color(code: str) -> str:
    return PALETTE[zlib.crc32(code.encode()) % len(PALETTE)]


def source_color(code: str) -> str:
    return SOURCE_COLORS.get(code) or _hashed_color(code)


def reason_color(code: str) -> str:
    return REASON_COLORS.get(code) or _hashed_color(code)


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


WEEK_MS = 604800000
# Date labels as each language writes them ("Apr 2026", 「2026年4月」); month and day names
# come from Plotly's locale (static/js/plotly-locale-ja.js).
DATE_FORMATS = {
    "en": {"month": "%b %Y", "week": "%d %b", "day": "%d %b %Y"},
    "ja": {"month": "%Y年%-m月", "week": "%-m/%-d", "day": "%Y年%-m月%-d日"},
}


def _date_formats() -> dict[str, str]:
    return DATE_FORMATS["ja" if (get_language() or "").startswith("ja") else "en"]


def _month_axis(count: int) -> dict:
    # One label per month while they fit, then every second or third month.
    month = _date_formats()["month"]
    return dict(
        type="date",
        tickformat=month,
        hoverformat=month,
        ticklabelmode="period",
        dtick=f"M{max(1, -(-count // 8))}",
    )


def _week_axis() -> dict:
    formats = _date_formats()
    return dict(type="date", tickformat=formats["week"], hoverformat=formats["day"])


def _hours_hover() -> str:
    # Plotly's template syntax is kept out of the catalogue: only the unit is translated.
    return "%{y:.1f} " + pgettext("hours, short", "h") + " (n=%{customdata})"


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
    return plain_text_figure(fig.to_plotly_json())


def mql_volume_figure(volume: dict[str, Any]) -> dict:
    fig = go.Figure()
    monthly = volume["grain"] == "month"
    keys = [p["period"] for p in volume["periods"]]
    x = _months(keys) if monthly else keys
    for source in volume["sources"]:
        fig.add_bar(
            x=x,
            y=[p["by_source"][source] for p in volume["periods"]],
            name=source_label(source),
            marker_color=source_color(source),
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
        # The commitment line counts too: a target of 100 over months of 5 MQLs must not
        # draw a hundred one-MQL ticks.
        yaxis=_count_axis(
            _("MQLs"),
            [p["total"] for p in volume["periods"]] + [p.get("target") for p in volume["periods"]],
        ),
        xaxis=_month_axis(len(keys)) if monthly else _week_axis(),
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
                hovertemplate=_hours_hover(),
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


def bucket_label(bucket: str) -> str:
    """A latency bucket of the selectors ("1–4h") in the user's language."""
    labels = {
        "<5m": _("under 5 min"),
        "5–30m": _("5–30 min"),
        "30–60m": _("30–60 min"),
        "1–4h": _("1–4 h"),
        "4–8h": _("4–8 h"),
        "8–24h": _("8–24 h"),
        "24–72h": _("24–72 h"),
        "72h+": _("72 h or more"),
    }
    return labels.get(bucket, bucket)


def band_label(band: str) -> str:
    """A score band of the selectors ("< 50", "unknown") in words."""
    return {"< 50": _("under 50"), "100 +": _("100 or more"), "unknown": _("no score")}.get(
        band, band
    )


def stage_label(stage: str) -> str:
    """A funnel step in words."""
    return {"lead": _("New leads"), "mql": "MQL", "sal": "SAL", "sql": "SQL"}.get(stage, stage)


def latency_distribution_figure(distribution: dict[str, Any]) -> dict:
    fig = go.Figure()
    visible = []
    for kind in ("business", "clock"):
        for step, label in (
            ("accept", _("MQL → accepted")),
            ("first_contact", _("MQL → first contact")),
        ):
            fig.add_bar(
                x=[bucket_label(b) for b in distribution["buckets"]],
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
        hovertemplate="%{y} " + _("MQLs"),
    )
    fig.add_scatter(
        x=x,
        y=[_pct(m["sql_rate"]) for m in months],
        name=_("Share reaching SQL"),
        yaxis="y2",
        mode="lines+markers",
        line=dict(color="#12805c"),
        marker=dict(symbol=["circle-open" if m["maturing"] else "circle" for m in months], size=9),
    )
    fig.add_scatter(
        x=x,
        y=[_pct(m["acceptance_rate"]) for m in months],
        name=_("Share accepted (SAL)"),
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
    steps = [s for s in funnel["steps"] if s["count"] is not None]
    fig = go.Figure(
        go.Funnel(
            y=[stage_label(s["stage"]) for s in steps],
            x=[s["count"] for s in steps],
            textinfo="value+percent previous",
            marker=dict(color=["#98a2b3", "#2458d6", "#12805c", "#05603a"][-len(steps) :]),
        )
    )
    return _figure(fig, _("Funnel of the period"), margin=dict(l=80, r=20, t=48, b=20))


def rejection_figure(reasons: dict[str, Any]) -> dict:
    fig = go.Figure()
    x = _months([m["month"] for m in reasons["months"]])
    for reason in reasons["reasons"]:
        fig.add_bar(
            x=x,
            y=[m["by_reason"][reason["code"]] for m in reasons["months"]],
            name=reason["label"],
            marker_color=reason_color(reason["code"]),
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
        x=[band_label(b["band"]) for b in bands],
        y=[_pct(b["sql_rate"]) for b in bands],
        name=_("Share reaching SQL"),
        marker_color="#12805c",
        text=[f"n={b['mqls']}" for b in bands],
        textposition="outside",
    )
    fig.add_scatter(
        x=[band_label(b["band"]) for b in bands],
        y=[_pct(b["acceptance_rate"]) for b in bands],
        name=_("Share accepted (SAL)"),
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
