import datetime as dt

import pytest
import time_machine

from reports.models import ReviewNote
from scoring.models import RuleSetVersion

from ..scoring.tuning_history import NOW, plant_history, planted_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted():
    version = planted_model()
    plant_history(leads=3000)
    return version


def test_the_review_shows_the_top_three_suggestions_and_records_apply_n(planted, client, alice):
    client.force_login(alice)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/review/2026-06/")
        assert page.status_code == 200
        top = page.context["suggestions"]["top"]
        assert [s["number"] for s in top] == [1, 2, 3]
        body = page.content.decode()
        assert "Suggested rule changes" in body and "Decide: apply suggestion 2" in body
        assert top[1]["backtest_text"] in body
        response = client.post("/review/2026-06/suggestions/", {"number": 2})
    assert response.status_code == 302
    note = ReviewNote.objects.get(month=dt.date(2026, 6, 1))
    assert note.kind == "decision" and note.text.startswith("Apply suggestion 2: ")
    assert top[1]["title_text"] in note.text
    # A scoring editor's decision also puts the change into the draft.
    draft = RuleSetVersion.objects.get(status="draft")
    assert "Tuning suggestion 2" in draft.comments.get().text


def test_deciding_an_unknown_suggestion_records_nothing(planted, client, alice):
    client.force_login(alice)
    with time_machine.travel(NOW, tick=False):
        response = client.post("/review/2026-06/suggestions/", {"number": 99})
        assert response.status_code == 302
        response = client.post("/review/2026-06/suggestions/", {"number": "x"})
    assert not ReviewNote.objects.exists()
    assert not RuleSetVersion.objects.filter(status="draft").exists()
