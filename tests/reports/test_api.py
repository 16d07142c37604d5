import datetime as dt
import io
import json

import pytest
import time_machine
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from reports import selectors
from reports.selectors import Filters

from .conftest import NOW

pytestmark = pytest.mark.django_db

RANGE = {"from": "2026-04-01", "to": "2026-05-31"}


@pytest.fixture
def api():
    return APIClient()


def get(api, user, metric, **params):
    api.force_authenticate(user)
    with time_machine.travel(NOW, tick=False):
        return api.get(f"/api/v1/metrics/{metric}/", params)


def test_every_metric_answers_what_its_selector_gives(api, history, alice):
    f = Filters(start=dt.date(2026, 4, 1), end=dt.date(2026, 5, 31))
    for name in selectors.METRICS:
        response = get(api, alice, name, **RANGE)
        assert response.status_code == 200, (name, response.content)
        body = response.json()
        assert body["metric"] == name and body["time_zone"] == "Asia/Tokyo"
        assert body["filters"] == {
            "from": "2026-04-01",
            "to": "2026-05-31",
            "source": "",
            "industry": "",
            "size": "",
            "team": None,
            "rep": None,
        }
        assert body["data"] == json.loads(json.dumps(selectors.metric(name, f, now=NOW)))


def test_the_api_takes_the_dashboards_filters(api, history, carol, team):
    response = get(api, carol, "conversion", source="webinar", **RANGE)
    months = {m["month"]: m["mqls"] for m in response.json()["data"]["months"]}
    assert months == {"2026-04": 3, "2026-05": 1}
    response = get(api, carol, "conversion", team=team.pk, **RANGE)
    assert sum(m["mqls"] for m in response.json()["data"]["months"]) == 5


def test_defaults_are_the_last_twelve_months(api, history, alice):
    body = get(api, alice, "mql-volume").json()
    assert body["filters"]["from"] == "2025-12-01" and body["filters"]["to"] == "2026-11-01"
    assert len(body["data"]["periods"]) == 12


@pytest.mark.parametrize(
    "params,field",
    [
        ({"from": "2026-02-30"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "to"),
        ({"from": "1999-12-31"}, "from"),
        ({"from": "2010-01-01", "to": "2026-01-01"}, "to"),
        ({"size": "huge"}, "size"),
        ({"team": "999999"}, "team"),
        ({"team": "inside"}, "team"),
        ({"rep": "-3"}, "rep"),
        ({"source": "x" * 101}, "source"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(api, alice, params, field):
    response = get(api, alice, "funnel", **params)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [field] and errors[field][0]


def test_reps_and_outsiders_get_no_metrics(api, bob, mallory):
    assert get(api, bob, "funnel").status_code == 403
    assert get(api, mallory, "funnel").status_code == 403
    api.force_authenticate(None)
    response = api.get("/api/v1/metrics/funnel/")
    assert response.status_code in (401, 403) and "errors" in response.json()


def test_the_schema_documents_every_metric_with_its_filters_and_definition(tmp_path):
    out = tmp_path / "schema.yml"
    call_command(
        "spectacular", validate=True, fail_on_warn=True, file=str(out), stdout=io.StringIO()
    )
    schema = yaml.safe_load(out.read_text())
    for name in selectors.METRICS:
        operation = schema["paths"][f"/api/v1/metrics/{name}/"]["get"]
        params = {p["name"] for p in operation["parameters"]}
        assert {"from", "to", "source", "industry", "size", "team", "rep"} <= params
        assert "400" in operation["responses"] and operation["description"]
    assert "reached SQL" in schema["paths"]["/api/v1/metrics/conversion/"]["get"]["description"]


def test_the_schema_says_team_and_rep_ids_start_at_1(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", file=str(out), stdout=io.StringIO())
    schema = yaml.safe_load(out.read_text())
    for name in selectors.METRICS:
        operation = schema["paths"][f"/api/v1/metrics/{name}/"]["get"]
        params = {p["name"]: p["schema"] for p in operation["parameters"]}
        assert params["team"] == params["rep"] == {"type": "integer", "minimum": 1}
