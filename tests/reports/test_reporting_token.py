"""A reporting token reads the metrics API and is refused everything else."""

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def token(name, *args):
    out = io.StringIO()
    call_command("create_api_token", name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_a_reporting_token_reads_metrics_and_nothing_else():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token('bi', '--role', 'reporting')}")
    assert api.get("/api/v1/metrics/conversion/").status_code == 200
    assert api.get("/api/v1/metrics/funnel/").status_code == 200
    assert api.get("/api/v1/leads/").status_code == 403
    assert api.post("/api/v1/leads/", {"email": "x@example.com"}, format="json").status_code == 403
    assert api.get("/dashboard/").status_code in (302, 403)


def test_an_integration_token_still_gets_no_metrics():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token('crm')}")
    assert api.get("/api/v1/metrics/conversion/").status_code == 403


def test_the_review_month_picker_goes_to_any_past_month(alice):
    from django.test import Client

    client = Client()
    client.force_login(alice)
    page = client.get("/review/2026-05/")
    assert 'id="review-month-picker"' in page.content.decode()
    assert client.get("/review/", {"month": "2018-03"})["Location"] == "/review/2018-03/"
    # Not a month, or one not started: the month that just ended.
    assert (
        client.get("/review/", {"month": "2018-13"})["Location"]
        == client.get("/review/")["Location"]
    )
    assert (
        client.get("/review/", {"month": "2999-01"})["Location"]
        == client.get("/review/")["Location"]
    )
