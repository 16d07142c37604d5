"""Numbers, money and booleans as the user's language writes them, on the lead page."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from leads.templatetags.handoff import attr_value, money, number, yes_no

from ..factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "lang,expected",
    [
        (
            "en",
            ["2,852,000,000", "2,852,000,000 (2.85 billion)", "1,234.5", "Yes", "No", "—"],
        ),
        ("ja", ["2,852,000,000", "2,852,000,000 (28.5億)", "1,234.5", "はい", "いいえ", "—"]),
    ],
)
def test_the_filters_speak_the_users_language(lang, expected):
    with translation.override(lang):
        revenue = Decimal("2852000000.00")
        assert [
            number(revenue),
            money(revenue),
            number(1234.5),
            yes_no(True),
            yes_no(False),
            yes_no(None),
        ] == expected


def test_custom_attributes_are_words_not_python():
    assert attr_value(False) == "No"
    assert attr_value(["a", 2000]) == "a, 2,000"
    assert attr_value(None) == "—"
    assert attr_value({"plan": "pro", "seats": 12}) == "plan: pro; seats: 12"


def _page(client, user, lead, lang="en"):
    user.profile.language = lang
    user.profile.save()
    client.force_login(user)
    return client.get(reverse("leads:detail", args=[lead.id])).content.decode()


def test_the_lead_page_shows_no_raw_python_values(client, alice):
    company = CompanyFactory(annual_revenue=Decimal("2852000000.00"), employees=1200, listed=True)
    lead = LeadFactory(company=company, custom={"newsletter": False, "visits": 12000})
    html = _page(client, alice, lead)
    assert "2852000000.00" not in html and "2,852,000,000 (2.85 billion)" in html
    assert "<dd>1,200</dd>" in html
    assert "<dt>Listed</dt><dd>Yes</dd>" in html
    assert "<dt>newsletter</dt><dd>No</dd>" in html
    assert "False" not in html
    assert "<dd>12,000</dd>" in html


def test_the_lead_page_in_japanese(client, alice):
    company = CompanyFactory(annual_revenue=Decimal("2852000000.00"), listed=False)
    lead = LeadFactory(company=company, custom={"newsletter": True})
    html = _page(client, alice, lead, "ja")
    assert "2,852,000,000 (28.5億)" in html
    assert "<dd>いいえ</dd>" in html and "<dd>はい</dd>" in html


def test_the_score_explanation_says_what_each_rule_tests(client, alice):
    from scoring.models import Rule

    from ..scoring.helpers import make_version, rule

    live = make_version(number=3, threshold=50)
    rule(live, "fit", "Title is CTO", field="title", operator="in", value=["cto", "ceo"], points=30)
    lead = LeadFactory(title="CTO")
    html = _page(client, alice, lead)
    assert Rule.objects.count() == 1
    assert "['cto', 'ceo']" not in html
    assert "cto, ceo" in html
