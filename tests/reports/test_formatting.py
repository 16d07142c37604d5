"""Numbers on the report pages are written as the reader's language writes them, and the
monthly review is in the navigation."""

import pytest
from django.utils import translation

from reports.templatetags.report_tags import change, figure, hours, num, pct

from .test_pages import at_now, client_for


def test_counts_rates_hours_and_changes_are_formatted_for_the_language():
    assert num(1234567) == "1,234,567" and num(None) == "—"
    assert pct(2 / 3) == "66.7%" and pct(None) == "—"
    assert hours(12.34) == "12.3 h"
    assert change(-0.05, "rate") == "-5.0 pt" and change(1200, "count") == "+1,200"
    assert figure(25000, "count") == "25,000"
    with translation.override("ja"):
        assert hours(12.34) == "12.3 時間"
        assert change(0.125, "rate") == "+12.5 ポイント"
        assert num(1234567) == "1,234,567"


@pytest.mark.django_db
def test_the_review_is_in_the_navigation_of_those_who_read_reports(history, alice, carol, bob):
    for user in (alice, carol):
        html = at_now(client_for(user), "get", "/leads/").content.decode()
        assert 'href="/review/" id="nav-review"' in html
        response = at_now(client_for(user), "get", "/review/")
        assert response.status_code == 302 and response["Location"].endswith("/review/2026-10/")
    assert 'id="nav-review"' not in at_now(client_for(bob), "get", "/leads/").content.decode()
    alice.profile.language = "ja"
    alice.profile.save()
    html = at_now(client_for(alice), "get", "/leads/").content.decode()
    assert 'id="nav-review">月次レビュー</a>' in html
