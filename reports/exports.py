"""CSV rows of the selectors' output: the dashboard's numbers and the monthly review's."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from leads.models import source_label

from .charts import band_label

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
    """The long form, for tools: (metric, row, field, value) for every number."""
    yield ["metric", "row", "field", "value"]
    for name, output in data.items():
        yield from metric_rows(name, output)


# --------------------------------------------------------------------------------------------
# The wide form, for people (Excel): a row per month, a column per figure, headed in words.

MONTH_KEY = re.compile(r"[0-9]{4}-[0-9]{2}")
# Figures that another column already gives (the same number under two metrics).
WIDE_DUPLICATES = {
    ("conversion", "mqls"),
    ("marketing-targets", "mqls"),
    ("marketing-targets", "acceptance_rate"),
    ("mql-volume", "target"),
    ("rejection-reasons", "rejected"),
}


def _steps() -> dict[str, str]:
    return {
        "accept": _("Accept or reject"),
        "first_contact": _("First contact"),
        "qualify": _("Qualify or recycle"),
    }


def _status_word(status: Any) -> str:
    words = {
        "met": pgettext("target status", "met"),
        "missed": pgettext("target status", "missed"),
        "open": pgettext("target status", "in progress"),
        "no data": pgettext("target status", "no data"),
        "no sla": pgettext("target status", "no SLA in force"),
    }
    return words.get(status, "" if status is None else str(status))


def _is_rate(field: str) -> bool:
    return field == "rate" or field.endswith((".rate", "_rate"))


def wide_label(name: str, field: str, output: dict[str, Any]) -> str:
    """A column's heading in the user's language; a figure without one keeps its codes."""
    latency = {
        "latency-accept": _("MQL → accepted"),
        "latency-first-contact": _("MQL → first contact"),
    }
    if name == "mql-volume" and field == "total":
        return _("MQLs")
    if name == "mql-volume" and field.startswith("by_source."):
        return _("MQLs: %(source)s") % {"source": source_label(field.split(".", 1)[1])}
    if name in latency:
        stats = {
            "n": _("%(step)s: hand-offs timed"),
            "median_business_h": _("%(step)s: median, business hours"),
            "p90_business_h": _("%(step)s: 90th percentile, business hours"),
            "median_clock_h": _("%(step)s: median, clock hours"),
            "p90_clock_h": _("%(step)s: 90th percentile, clock hours"),
        }
        if field in stats:
            return stats[field] % {"step": latency[name]}
    if name == "sla-compliance" and "." in field:
        step, what = field.split(".", 1)
        parts = {
            "due": _("%(step)s: due"),
            "met": _("%(step)s: on time"),
            "rate": _("%(step)s: share on time"),
        }
        if step in _steps() and what in parts:
            return parts[what] % {"step": _steps()[step]}
    if name == "rejection-reasons" and field.startswith("by_reason."):
        code = field.split(".", 1)[1]
        labels = {r["code"]: r["label"] for r in output.get("reasons", [])}
        return _("Rejected: %(reason)s") % {"reason": labels.get(code, code)}
    fixed = {
        ("marketing-targets", "sla_version"): _("SLA version"),
        ("marketing-targets", "min_mqls"): _("MQL commitment (SLA)"),
        ("marketing-targets", "mqls_status"): _("MQL commitment: status"),
        ("marketing-targets", "min_acceptance_rate"): _("Acceptance floor (SLA)"),
        ("marketing-targets", "acceptance_status"): _("Acceptance floor: status"),
        ("conversion", "accepted"): _("Accepted (SAL)"),
        ("conversion", "rejected"): _("Rejected"),
        ("conversion", "undecided"): _("Undecided"),
        ("conversion", "acceptance_rate"): _("Acceptance rate"),
        ("conversion", "reached_sql"): _("Reached SQL"),
        ("conversion", "sql_rate"): _("MQL → SQL"),
        ("conversion", "maturing"): _("Cohort still maturing"),
    }
    return str(fixed.get((name, field), f"{name}: {field}"))


def _wide_value(field: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if field.endswith("status"):
        return _status_word(value)
    if _is_rate(field) and isinstance(value, int | float):
        return f"{100 * value:.1f}"
    if isinstance(value, float):
        return f"{value:.1f}" if field.endswith("_h") else cell(value)
    return cell(value)


def dashboard_wide_rows(data: dict[str, dict[str, Any]]) -> Iterator[list[str]]:
    """A row per month, a column per monthly figure (rates in percent, hours to a tenth).
    Figures that are not per month (weeks, reps, score bands, the funnel, the latency
    distribution) are in the long form."""
    headings: dict[tuple[str, str], str] = {}
    values: dict[str, dict[tuple[str, str], Any]] = defaultdict(dict)
    for name, output in data.items():
        for list_key, id_key in (("periods", "period"), ("months", "month")):
            for row in output.get(list_key, []):
                period = row.get(id_key)
                if not isinstance(period, str) or not MONTH_KEY.fullmatch(period):
                    continue
                for field, value in _flatten({k: v for k, v in row.items() if k != id_key}):
                    if (name, field) in WIDE_DUPLICATES:
                        continue
                    if (name, field) not in headings:
                        label = wide_label(name, field, output)
                        headings[(name, field)] = f"{label} (%)" if _is_rate(field) else label
                    values[period][(name, field)] = value
    yield [_("Month"), *headings.values()]
    for period in sorted(values):
        yield [period, *(_wide_value(key[1], values[period].get(key)) for key in headings)]


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
            f"{_('Score')} {band_label(band['band'])}: {_('MQLs')}",
            "count",
            *blanks,
            cell(band["mqls"]),
            "",
            "",
            "",
        ]
        yield [
            f"{_('Score')} {band_label(band['band'])}: {_('reached SQL')}",
            "rate",
            *blanks,
            cell(band["sql_rate"]),
            "",
            "",
            "",
        ]


def _person(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def _local(at: dt.datetime | None) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""


def decision_rows(notes: Iterable[Any]) -> Iterator[list[str]]:
    yield [_("Decisions"), _("Kind"), _("Recorded by"), _("Recorded at")]
    for note in notes:
        kind = str(note.get_kind_display())
        yield [note.text, kind, _person(note.author), _local(note.created_at)]


def action_rows(actions: Iterable[Any]) -> Iterator[list[str]]:
    yield [_("Action items"), _("Who"), _("By when"), _("Status"), _("Done at"), _("Done by")]
    for item in actions:
        yield [
            item.what,
            _person(item.owner),
            item.due_on.isoformat() if item.due_on else "",
            pgettext("action item status", "done") if item.is_done else _("open"),
            _local(item.done_at),
            _person(item.done_by),
        ]


def review_csv_rows(
    review: dict[str, Any], notes: Iterable[Any], actions: Iterable[Any]
) -> Iterator[list[str]]:
    """The review's figures, then its decisions and its action items (a blank row between)."""
    yield from review_rows(review)
    yield []
    yield from decision_rows(notes)
    yield []
    yield from action_rows(actions)


def _number(value: str) -> Any:
    """A CSV cell back as a number where it is one, for a spreadsheet's cell."""
    if re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if re.fullmatch(r"-?[0-9]*\.[0-9]+(e-?[0-9]+)?", value):
        return float(value)
    return value


def xlsx_response(sheets: Mapping[str, Iterable[list[str]]], filename: str) -> HttpResponse:
    """An Excel workbook with a sheet per entry; numbers as numbers, rates (fractions in the
    rows whose unit is "rate") formatted as percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for title, rows in sheets.items():
        sheet = book.create_sheet(title=title[:31])
        for index, row in enumerate(rows):
            sheet.append([_number(value) for value in row])
            if index == 0:
                for c in sheet[1]:
                    c.font = Font(bold=True)
            elif len(row) > 1 and row[1] == "rate":
                for c in sheet[index + 1][2:]:
                    if isinstance(c.value, float | int):
                        c.number_format = "0.0%"
        sheet.column_dimensions["A"].width = 48
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_response(rows: Iterable[list[str]], filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A byte-order mark so that Excel reads UTF-8 (Japanese labels) correctly.
    response.write("\ufeff")
    writer = csv.writer(response)
    for row in rows:
        writer.writerow(row)
    return response
