import csv
import datetime as dt
import io
import re

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client

from reports.models import ActionItem, ReviewNote

from ..factories import UserFactory
from .conftest import NOW

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def at_now(client: Client, method: str, url: str, data=None):
    with time_machine.travel(NOW, tick=False):
        return getattr(client, method)(url, data or {})


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)<', html, re.S)
    assert match, element_id
    return match.group(1).strip()


def csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


# Who sees what -----------------------------------------------------------------------------


def test_managers_see_the_dashboard_and_reps_do_not(history, alice, carol, bob, mallory):
    for user in (alice, carol):
        response = at_now(client_for(user), "get", "/dashboard/")
        assert response.status_code == 200
        assert 'href="/dashboard/"' in response.content.decode()  # the nav link
    for user in (bob, mallory):
        assert at_now(client_for(user), "get", "/dashboard/").status_code == 403
        assert at_now(client_for(user), "get", "/review/2026-05/").status_code == 403
    assert at_now(Client(), "get", "/dashboard/").status_code == 302


def test_the_dashboard_shows_the_filtered_figures_and_keeps_filters_in_the_url(history, carol):
    client = client_for(carol)
    html = at_now(client, "get", "/dashboard/", {"from": "2026-04-01", "to": "2026-05-31"})
    html = html.content.decode()
    assert text_of(html, "kpi-mqls") == "7"
    assert text_of(html, "kpi-acceptance") == "66.7%"  # 4 accepted, 2 rejected
    assert 'id="chart-volume"' in html and 'id="figures-data"' in html
    assert "from=2026-04-01&amp;to=2026-05-31" in html  # CSV and API links carry the filters
    webinar = at_now(
        client,
        "get",
        "/dashboard/",
        {"from": "2026-04-01", "to": "2026-05-31", "source": "webinar"},
    ).content.decode()
    assert text_of(webinar, "kpi-mqls") == "4"
    assert '<option value="webinar" selected>' in webinar


def test_a_bad_filter_is_a_400_page_naming_it(history, carol):
    response = at_now(client_for(carol), "get", "/dashboard/", {"from": "2026-13-01"})
    assert response.status_code == 400
    assert "<b>from</b>" in response.content.decode()
    response = at_now(client_for(carol), "get", "/dashboard/export.csv", {"size": "huge"})
    assert response.status_code == 400 and b"size" in response.content


def test_a_month_without_data_renders_zeros(tokyo_reports, sla, carol):
    response = at_now(
        client_for(carol), "get", "/dashboard/", {"from": "2026-06-01", "to": "2026-06-30"}
    )
    assert response.status_code == 200
    assert text_of(response.content.decode(), "kpi-mqls") == "0"
    review = at_now(client_for(carol), "get", "/review/2026-06/")
    assert review.status_code == 200


# The monthly review ------------------------------------------------------------------------


def test_the_review_marks_targets_met_and_missed(history, carol):
    html = at_now(client_for(carol), "get", "/review/2026-05/").content.decode()
    assert "Monthly review: May 2026" in html
    assert 'class="target-met" id="target-mqls"' in html
    assert 'class="target-met" id="target-acceptance"' in html
    # March, three MQLs short, is missed; the figures table has the three months.
    assert "2026-03</th>" in html and "2026-05</th>" in html
    html = at_now(client_for(carol), "get", "/review/2026-06/").content.decode()
    assert 'class="target-missed" id="target-mqls"' in html
    assert "✗ missed" in html


def test_review_urls(history, carol):
    client = client_for(carol)
    response = at_now(client, "get", "/review/")
    assert response.status_code == 302 and response["Location"] == "/review/2026-10/"
    assert at_now(client, "get", "/review/2026-12/").status_code == 404
    assert at_now(client, "get", "/review/2026-13/").status_code == 404


def test_decisions_are_recorded_edited_and_kept_with_the_month(history, carol, alice):
    client = client_for(carol)
    response = at_now(
        client,
        "post",
        "/review/2026-05/notes/",
        {"kind": "decision", "text": "Raise the threshold to 60"},
    )
    assert response.status_code == 302 and response["Location"].endswith(
        "/review/2026-05/#decisions"
    )
    note = ReviewNote.objects.get()
    assert (note.month, note.author, note.kind) == (dt.date(2026, 5, 1), carol, "decision")
    html = at_now(client, "get", "/review/2026-05/").content.decode()
    assert "Raise the threshold to 60" in html and "Carol Boss" in html
    assert "Raise the threshold" not in at_now(client, "get", "/review/2026-04/").content.decode()
    at_now(
        client_for(alice),
        "post",
        f"/review/2026-05/notes/{note.pk}/",
        {"kind": "decision", "text": "Raise the threshold to 65"},
    )
    note.refresh_from_db()
    assert note.text == "Raise the threshold to 65" and note.author == carol
    assert note.history.count() == 2
    # An empty decision is refused, nothing recorded.
    at_now(client, "post", "/review/2026-05/notes/", {"kind": "decision", "text": " "})
    assert ReviewNote.objects.count() == 1


def test_action_items_with_who_and_by_when_are_completed_and_reopened(history, carol, bob):
    client = client_for(carol)
    at_now(
        client,
        "post",
        "/review/2026-05/actions/",
        {"what": "Call back the April leads", "owner": bob.pk, "due_on": "2026-06-10"},
    )
    item = ActionItem.objects.get()
    assert (item.owner, item.due_on, item.author, item.done_at) == (
        bob,
        dt.date(2026, 6, 10),
        carol,
        None,
    )
    html = at_now(client, "get", "/review/2026-05/").content.decode()
    assert "Call back the April leads" in html and "Bob Rep" in html and "2026-06-10" in html
    at_now(client, "post", f"/review/2026-05/actions/{item.pk}/done/", {"done": "1"})
    item.refresh_from_db()
    assert item.done_at == NOW and item.done_by == carol
    at_now(client, "post", f"/review/2026-05/actions/{item.pk}/done/", {"done": "0"})
    item.refresh_from_db()
    assert item.done_at is None
    at_now(
        client,
        "post",
        f"/review/2026-05/actions/{item.pk}/",
        {"what": "Call back April and May leads", "owner": "", "due_on": ""},
    )
    item.refresh_from_db()
    assert (item.what, item.owner, item.due_on) == ("Call back April and May leads", None, None)
    # Still open: the next month's review lists it.
    html = at_now(client, "get", "/review/2026-06/").content.decode()
    assert "Still open from earlier reviews" in html and "Call back April and May leads" in html


def test_viewing_is_not_editing(history):
    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client = client_for(viewer)
    html = at_now(client, "get", "/review/2026-05/").content.decode()
    assert 'id="note-form"' not in html
    at_now(client, "post", "/review/2026-05/notes/", {"kind": "decision", "text": "Mine"})
    assert not ReviewNote.objects.exists()


def test_the_review_page_prints_without_its_forms(history, carol):
    html = at_now(client_for(carol), "get", "/review/2026-05/").content.decode()
    assert 'id="note-form"' in html and "noprint" in html
    assert "data-print" in html  # static/js/plots.js prints on click (no inline handlers)


# One number, three places ------------------------------------------------------------------


def test_page_api_and_csv_give_the_same_numbers(history, carol):
    client = client_for(carol)
    query = {"from": "2026-04-01", "to": "2026-05-31"}
    page = at_now(client, "get", "/dashboard/", query).content.decode()
    api = at_now(client, "get", "/api/v1/metrics/conversion/", query).json()["data"]["months"]
    volume = at_now(client, "get", "/api/v1/metrics/mql-volume/", query).json()["data"]
    funnel = at_now(client, "get", "/api/v1/metrics/funnel/", query).json()["data"]["steps"]
    rows = csv_rows(at_now(client, "get", "/dashboard/export.csv", {**query, "format": "long"}))
    dashboard_csv = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}

    for month in api:
        in_page = re.search(rf'data-mqls="{month["month"]}">(\d+)<', page).group(1)
        in_volume = re.search(rf'data-total="{month["month"]}">(\d+)<', page).group(1)
        in_csv = dashboard_csv["conversion", month["month"], "mqls"]
        total = next(p["total"] for p in volume["periods"] if p["period"] == month["month"])
        assert int(in_page) == int(in_volume) == int(in_csv) == month["mqls"] == total
        assert dashboard_csv["conversion", month["month"], "reached_sql"] == str(
            month["reached_sql"]
        )
    assert text_of(page, "kpi-mqls") == str(sum(m["mqls"] for m in api))
    for step in funnel:
        assert re.search(rf'data-stage="{step["stage"]}">(\d+)<', page).group(1) == str(
            step["count"]
        )
        assert dashboard_csv["funnel", step["stage"], "count"] == str(step["count"])

    # The review of May: its page, its CSV and the API over May alone.
    review = at_now(client, "get", "/review/2026-05/").content.decode()
    review_csv = csv_rows(at_now(client, "get", "/review/2026-05/export.csv"))
    assert review_csv[0][2:5] == ["2026-03", "2026-04", "2026-05"]
    by_label = {r[0]: r for r in review_csv if r}
    may = {"from": "2026-05-01", "to": "2026-05-31"}
    targets = at_now(client, "get", "/api/v1/metrics/marketing-targets/", may).json()["data"]
    compliance = at_now(client, "get", "/api/v1/metrics/sla-compliance/", may).json()["data"]
    latency = at_now(client, "get", "/api/v1/metrics/latency-accept/", may).json()["data"]
    assert by_label["MQLs"][4] == str(targets["months"][0]["mqls"]) == "3"
    assert by_label["MQLs"][7] == "met"
    row = re.search(r'data-key="mqls">(.*?)</tr>', review, re.S).group(1)
    assert re.findall(r'class="num[^"]*">(\d+)', row)[:3] == ["0", "4", "3"]
    rate = targets["months"][0]["acceptance_rate"]
    assert float(by_label["Acceptance rate (SAL / decided)"][4]) == pytest.approx(rate, abs=1e-5)
    assert f"{100 * rate:.1f}%" in re.search(
        r'data-key="acceptance_rate">(.*?)</tr>', review, re.S
    ).group(1)
    on_time = compliance["months"][0]["accept"]["rate"]
    assert float(by_label["Accepted or rejected on time"][4]) == pytest.approx(on_time, abs=1e-5)
    median = latency["months"][0]["median_business_h"]
    assert float(by_label["MQL → accepted, median (business hours)"][4]) == pytest.approx(median)
    assert f"{median:.1f} h" in re.search(
        r'data-key="accept_median_business_h">(.*?)</tr>', review, re.S
    ).group(1)
