"""The shapes of the exports: the dashboard CSV wide (a row per month, a column per figure,
UTF-8 with a byte-order mark) and long (metric, row, field, value); the review's CSV and
Excel workbook with its decisions and action items."""

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from reports import services

from .test_chart_labels import in_japanese
from .test_pages import at_now, client_for, csv_rows

pytestmark = pytest.mark.django_db
RANGE = {"from": "2026-04-01", "to": "2026-05-31"}
MAY = dt.date(2026, 5, 1)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_dashboard_csv_has_a_row_per_month_and_a_column_per_figure(history, carol):
    client = client_for(carol)
    response = at_now(client, "get", "/dashboard/export.csv", RANGE)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert body(response).startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 by its BOM
    rows = csv_rows(response)
    header, months = rows[0], rows[1:]
    assert header[0] == "Month"
    assert [r[0] for r in months] == ["2026-04", "2026-05"]
    assert all(len(r) == len(header) for r in months)
    assert len(header) == len(set(header))
    column = {name: i for i, name in enumerate(header)}
    for name in (
        "MQLs",
        "MQLs: Webinar",
        "MQLs: Paid search",
        "Accepted (SAL)",
        "Acceptance rate (%)",
        "MQL → SQL (%)",
        "MQL commitment (SLA)",
        "MQL commitment: status",
        "MQL → accepted: median, business hours",
        "Accept or reject: share on time (%)",
        "Rejected: No budget",
    ):
        assert name in column, name
    volume = at_now(client, "get", "/api/v1/metrics/mql-volume/", RANGE).json()["data"]
    conversion = at_now(client, "get", "/api/v1/metrics/conversion/", RANGE).json()["data"]
    for row, period, cohort in zip(months, volume["periods"], conversion["months"], strict=True):
        assert row[column["MQLs"]] == str(period["total"])
        assert row[column["Accepted (SAL)"]] == str(cohort["accepted"])
        rate = cohort["acceptance_rate"]
        assert row[column["Acceptance rate (%)"]] == ("" if rate is None else f"{100 * rate:.1f}")
    assert months[1][column["MQL commitment: status"]] == "met"


def test_the_wide_csv_speaks_the_users_language(history, carol):
    rows = csv_rows(at_now(client_for(in_japanese(carol)), "get", "/dashboard/export.csv", RANGE))
    assert rows[0][0] == "月"
    assert "MQL 数: ウェビナー" in rows[0]
    assert "達成" in rows[2]


def test_the_long_form_is_kept_for_tools(history, carol):
    client = client_for(carol)
    response = at_now(client, "get", "/dashboard/export.csv", {**RANGE, "format": "long"})
    assert body(response).startswith(b"\xef\xbb\xbf")
    rows = csv_rows(response)
    assert rows[0] == ["metric", "row", "field", "value"]
    assert ["conversion", "2026-05", "mqls", "3"] in rows
    assert "long" in response["Content-Disposition"]
    bad = at_now(client, "get", "/dashboard/export.csv", {**RANGE, "format": "pivot"})
    assert bad.status_code == 400 and bad.content.startswith(b"format: ")


@pytest.fixture
def records(history, carol, bob):
    note = services.review_note_add(
        month=MAY, user=carol, text="Raise the threshold to 60", kind="decision"
    )
    item = services.action_item_add(
        month=MAY, user=carol, what="Call back the April leads", owner=bob, due_on=MAY
    )
    return note, item


def test_the_review_csv_has_its_decisions_and_action_items(records, carol):
    rows = csv_rows(at_now(client_for(carol), "get", "/review/2026-05/export.csv"))
    decisions = rows.index(["Decisions", "Kind", "Recorded by", "Recorded at"])
    assert rows[decisions - 1] == []
    assert rows[decisions + 1][:3] == ["Raise the threshold to 60", "Decision", "Carol Boss"]
    actions = next(i for i, r in enumerate(rows) if r and r[0] == "Action items")
    assert rows[actions][1:4] == ["Who", "By when", "Status"]
    assert rows[actions + 1][:4] == ["Call back the April leads", "Bob Rep", "2026-05-01", "open"]
    assert rows[0][2:5] == ["2026-03", "2026-04", "2026-05"]  # the figures come first


def test_the_review_downloads_as_an_excel_workbook(records, carol):
    client = client_for(carol)
    html = at_now(client, "get", "/review/2026-05/").content.decode()
    assert 'href="/review/2026-05/export.xlsx"' in html
    response = at_now(client, "get", "/review/2026-05/export.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(body(response)))
    assert book.sheetnames == ["Figures", "Decisions", "Action items"]
    figures = {row[0]: row for row in book["Figures"].iter_rows(values_only=True)}
    assert figures["MQLs"][4] == 3  # a number, not text
    rate_row = next(r for r in book["Figures"].iter_rows() if r[0].value and r[1].value == "rate")
    assert rate_row[4].number_format == "0.0%"
    assert book["Decisions"]["A2"].value == "Raise the threshold to 60"
    assert book["Action items"]["B2"].value == "Bob Rep"


def test_statuses_are_words_in_the_wide_csv():
    from django.utils import translation

    from reports.exports import _wide_value

    assert _wide_value("mqls_status", "missed") == "missed"
    assert _wide_value("mqls_status", "no sla") == "no SLA in force"
    assert _wide_value("maturing", True) == "yes"
    assert _wide_value("acceptance_rate", 2 / 3) == "66.7"
    with translation.override("ja"):
        assert _wide_value("mqls_status", "no sla") == "SLA 適用前"
        assert _wide_value("mqls_status", "met") == "達成"
