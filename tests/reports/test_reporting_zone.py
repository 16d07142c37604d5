"""The reporting time zone is one setting, shown on the dashboard and the review; the
dashboard's default range starts at the first month with data."""

import io
import re

import pytest
import time_machine
from django.core.management import call_command

from reports import selectors
from reports.models import ReportState

from .conftest import NOW
from .test_pages import at_now, client_for

pytestmark = pytest.mark.django_db


def default_range(html: str) -> tuple[str, str]:
    start = re.search(r'name="from" value="([0-9-]+)"', html)
    end = re.search(r'name="to" value="([0-9-]+)"', html)
    assert start and end
    return start.group(1), end.group(1)


def test_the_default_range_starts_at_the_first_month_with_data(history, carol):
    html = at_now(client_for(carol), "get", "/dashboard/").content.decode()
    # The history starts in March 2026 (lead A created on the 25th); today is 2026-11-01.
    assert default_range(html) == ("2026-03-01", "2026-11-01")
    figures = re.search(r'id="table-volume".*?</table>', html, re.S)
    assert figures and "2025-" not in figures.group(0)


def test_without_data_the_default_range_is_the_last_twelve_months(tokyo_reports, carol):
    html = at_now(client_for(carol), "get", "/dashboard/").content.decode()
    assert default_range(html) == ("2025-12-01", "2026-11-01")


def test_the_default_range_is_at_most_twelve_months(history):
    with time_machine.travel(NOW.replace(year=2028), tick=False):
        filters = selectors.default_filters()
    assert (filters.start.isoformat(), filters.end.isoformat()) == ("2027-12-01", "2028-11-01")


def test_the_dashboard_and_the_review_say_which_time_zone_counts(history, carol):
    client = client_for(carol)
    for url in ("/dashboard/", "/review/2026-05/"):
        html = at_now(client, "get", url).content.decode()
        assert "Reporting time zone: Asia/Tokyo (UTC+09:00)" in html
        assert 'id="zone-warnings"' not in html


def test_a_zone_other_than_the_slas_is_flagged_with_the_way_to_fix_it(history, carol, settings):
    settings.REPORTS_TIME_ZONE = "UTC"
    html = at_now(client_for(carol), "get", "/dashboard/").content.decode()
    assert "Reporting time zone: UTC (UTC+00:00)" in html
    assert "REPORTS_TIME_ZONE=Asia/Tokyo" in html


def test_figures_counted_in_an_old_zone_are_flagged_until_rebuilt(history, carol):
    ReportState.objects.update_or_create(pk=1, defaults={"time_zone": "UTC"})
    client = client_for(carol)
    html = at_now(client, "get", "/dashboard/").content.decode()
    assert "last counted in UTC, not Asia/Tokyo" in html
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("reports_rebuild", "--if-zone-changed", stdout=out)
    assert "Counting months and weeks in Asia/Tokyo." in out.getvalue()
    assert "last counted in" not in at_now(client, "get", "/dashboard/").content.decode()
    out = io.StringIO()
    call_command("reports_rebuild", "--if-zone-changed", stdout=out)
    assert out.getvalue().strip() == "Reports already count months in Asia/Tokyo."
