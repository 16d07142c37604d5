"""Error pages: the app's layout with navigation, both languages, no debug details for
anyone but staff, even with DEBUG on."""

import pytest
from django.test import Client
from django.urls import reverse

from leads.models import Lead

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db
DEBUG_MARKS = ("URLconf", "Traceback", "Django settings", "DEBUG = True", "technical")


def as_user(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def assert_app_page(response, status: int, *words: str) -> str:
    assert response.status_code == status
    text = response.content.decode()
    assert f'data-status="{status}"' in text
    assert 'class="mainnav"' in text and "Log out" in text
    for mark in DEBUG_MARKS:
        assert mark not in text, mark
    for word in words:
        assert word in text, word
    return text


@pytest.mark.parametrize("debug", [True, False])
def test_someone_elses_lead_is_a_plain_404_in_the_layout(settings, bob, dave, debug):
    settings.DEBUG = debug
    lead = LeadFactory(owner=dave)
    response = as_user(bob).get(reverse("leads:detail", args=[lead.pk]))
    assert_app_page(response, 404, "No such lead, or it is not yours to see.", "Back to my work")


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_address_is_a_404_in_the_layout(settings, bob, debug):
    settings.DEBUG = debug
    response = as_user(bob).get("/no/such/page/")
    assert_app_page(response, 404, "Page not found")


def test_an_unknown_address_still_gets_its_missing_slash(settings, bob):
    settings.DEBUG = True
    response = as_user(bob).get("/leads")
    assert response.status_code == 301 and response["Location"] == "/leads/"


def test_a_stranger_gets_the_404_page_with_a_login_link(settings):
    settings.DEBUG = True
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "Page not found" in text and reverse("login") in text
    assert "URLconf" not in text


@pytest.mark.parametrize("debug", [True, False])
def test_a_rep_on_a_managers_page_gets_403_in_the_layout(settings, bob, debug):
    settings.DEBUG = debug
    response = as_user(bob).get(reverse("sla:rejections"))
    assert_app_page(response, 403, "Not allowed")


@pytest.mark.parametrize("debug", [True, False])
def test_a_crash_is_a_500_page_without_details(settings, bob, monkeypatch, debug):
    settings.DEBUG = debug

    def boom(**kwargs):
        raise RuntimeError("secret detail of the crash")

    monkeypatch.setattr("leads.selectors.lead_get_for_user", boom)
    lead = LeadFactory(owner=bob)
    client = as_user(bob, raise_request_exception=False)
    response = client.get(reverse("leads:detail", args=[lead.pk]))
    text = assert_app_page(response, 500, "Server error")
    assert "secret detail" not in text


def test_staff_keep_djangos_debug_pages_in_development(settings, bob):
    settings.DEBUG = True
    bob.is_staff = True
    bob.save()
    response = as_user(bob).get("/no/such/page/")
    assert response.status_code == 404
    assert "URLconf" in response.content.decode()


def test_error_pages_speak_japanese(settings, bob, dave):
    settings.DEBUG = True
    bob.profile.language = "ja"
    bob.profile.save()
    lead = LeadFactory(owner=dave)
    client = as_user(bob)
    text = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert '<html lang="ja">' in text and "ログアウト" in text
    text = client.get("/no/such/page/").content.decode()
    assert "ページが見つかりません" in text
    text = client.get(reverse("sla:rejections")).content.decode()
    assert "アクセスできません" in text
    assert Lead.objects.filter(pk=lead.pk).exists()
