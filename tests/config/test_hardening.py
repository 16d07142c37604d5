"""Chart text is plain text; production refuses the development key; the schema and the API
docs need a login in production; a rule set with no rules is never published."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from core.charts import plain_text_figure
from reports import charts
from scoring import services
from scoring.models import Approval

from ..leads.test_api import make_token, token_client
from .test_settings import _manage


def test_chart_text_is_escaped_before_plotly_sees_it():
    evil = '<a href="https://evil.example">click</a><span style="font-size:90px">x</span>'
    figure = charts.mql_volume_figure(
        {
            "grain": "month",
            "sources": [evil],
            "periods": [{"period": "2026-05", "by_source": {evil: 3}, "target": None, "total": 3}],
        }
    )
    trace = figure["data"][0]
    assert "<a" not in trace["name"] and "&lt;a href" in trace["name"]
    assert "<span" not in repr(figure)


def test_plain_text_figure_keeps_templates_and_numbers():
    figure = {
        "data": [{"x": ["R&D", "<b>"], "y": [1, 2.5], "hovertemplate": "%{y}<extra></extra>"}],
        "layout": {"title": {"text": "a < b"}, "template": {"layout": {"font": {"color": "#000"}}}},
    }
    clean = plain_text_figure(figure)
    assert clean["data"][0]["x"] == ["R&amp;D", "&lt;b&gt;"]
    assert clean["data"][0]["y"] == [1, 2.5]
    assert clean["data"][0]["hovertemplate"] == "%{y}<extra></extra>"
    assert clean["layout"]["title"]["text"] == "a &lt; b"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage(
        "check",
        DEBUG="0",
        SECRET_KEY="",
        ALLOWED_HOSTS="handoff.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        HANDOFF_VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.django_db
def test_the_schema_and_docs_need_a_login_in_production(settings, bob):
    settings.API_DOCS_PUBLIC = False
    anonymous = APIClient()
    assert anonymous.get("/api/schema/").status_code in (401, 403)
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith("/login/?next=/api/docs/")
    assert token_client(make_token("integration")).get("/api/schema/").status_code == 200
    signed_in = APIClient()
    signed_in.force_login(bob)
    assert signed_in.get("/api/schema/").status_code == 200
    assert signed_in.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_a_rule_set_with_no_rules_cannot_be_approved_or_published(alice, carol):
    draft = services.draft_get_or_create(user=alice)
    assert not draft.rules.exists()
    client = APIClient()
    client.force_authenticate(alice)
    response = client.post("/api/v1/scoring/draft/approve/")
    assert response.status_code == 400
    assert "no rules" in str(response.json()["errors"])
    # Even with approvals recorded some other way, publishing refuses.
    Approval.objects.create(version=draft, user=alice, side="marketing")
    Approval.objects.create(version=draft, user=carol, side="sales")
    with pytest.raises(ValidationError, match="no rules"):
        services.ruleset_publish(version=draft, user=alice)
    draft.refresh_from_db()
    assert draft.status == "draft"
