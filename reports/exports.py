"""CSV rows of the selectors' output: the dashboard's numbers and the monthly review's."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _

from leads.models import source_label

# The list in each metric's output, and the key naming each of its rows.
ROW_LISTS = (
    ("periods", "period"),
    ("months", "month"),
    ("reps", "rep"),
    ("bands", "band"),
    ("steps", "stage"),
)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.1f}"
    return str(value)


def _flatten(row: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in row.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            yield f"{prefix}{key}", value


def metric_rows(name: str, output: dict[str, Any]) -> Iterator[list[str]]:
    """(metric, row, field, value) for every number of a metric's output."""
    if name == "latency-distribution":
        for series, counts in output.items():
            if series == "buckets":
                continue
            for bucket, count in zip(output["buckets"], counts, strict=True):
                yield [name, bucket, series, cell(count)]
        return
    for list_key, id_key in ROW_LISTS:
        for row in output.get(list_key, []):
            ident = row.get(id_key)
            if id_key == "rep":
                ident = ident or _("Unassigned")
            for field, value in _flatten({k: v for k, v in row.items() if k != id_key}):
                yield [name, cell(ident), field, cell(value)]


def dashboard_rows(data: dict[str, dict[str, Any]]) -> Iterator[list[str]]:
    yield ["metric", "row", "field", "value"]
    for name, output in data.items():
        yield from metric_rows(name, output)


def review_rows(review: dict[str, Any]) -> Iterator[list[str]]:
    months = review["months"]
    yield [_("figure"), _("unit"), *months, _("change vs previous month"), _("target"), _("status")]
    for row in review["rows"]:
        targets, statuses = row.get("targets"), row.get("statuses")
        yield [
            row["label"],
            row["unit"],
            *(cell(v) for v in row["values"]),
            cell(row["change"]),
            cell(targets[-1]) if targets else "",
            statuses[-1] if statuses else "",
        ]
    data = review["data"]
    volume = data["mql-volume"]
    for source in volume["sources"]:
        values = [p["by_source"][source] for p in volume["periods"]]
        yield [
            f"{_('MQLs from')} {source_label(source)}",
            "count",
            *map(cell, values),
            cell(values[-1] - values[-2]),
            "",
            "",
        ]
    reasons = data["rejection-reasons"]
    for reason in reasons["reasons"]:
        values = [m["by_reason"][reason["code"]] for m in reasons["months"]]
        yield [
            f"{_('Rejected as')} {reason['label']}",
            "count",
            *map(cell, values),
            cell(values[-1] - values[-2]),
            "",
            "",
        ]
    blanks = [""] * (len(months) - 1)
    steps = {
        "accept": _("accepted or rejected on time"),
        "first_contact": _("first contact on time"),
        "qualify": _("qualified or recycled on time"),
    }
    for rep in data["sla-compliance-by-rep"]["reps"]:
        name = rep["rep"] or _("Unassigned")
        for step, label in steps.items():
            yield [
                f"{name}: {label}",
                "rate",
                *blanks,
                cell(rep[step]["rate"]),
                "",
                "",
                "",
            ]
    for band in data["score-calibration"]["bands"]:
        yield [
            f"{_('Score')} {band['band']}: {_('MQLs')}",
            "count",
            *blanks,
            cell(band["mqls"]),
            "",
            "",
            "",
        ]
        yield [
            f"{_('Score')} {band['band']}: {_('reached SQL')}",
            "rate",
            *blanks,
            cell(band["sql_rate"]),
            "",
            "",
            "",
        ]


def csv_response(rows: Iterable[list[str]], filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A byte-order mark so that Excel reads UTF-8 (Japanese labels) correctly.
    response.write("\ufeff")
    writer = csv.writer(response)
    for row in rows:
        writer.writerow(row)
    return response
