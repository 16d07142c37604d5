"""Password guessing: 30 wrong passwords lock the account for a while (the login page and the
admin alike) and say so; wrong API tokens from one address are throttled."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from ..factories import UserFactory
from ..leads.test_api import LEADS, make_token, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def guess(client: Client, url: str, username: str, times: int) -> int:
    """Wrong passwords; the status of the last answer."""
    for _ in range(times):
        response = client.post(url, {"username": username, "password": "wrong-guess"})
    return response.status_code


def test_thirty_wrong_passwords_lock_the_account_even_for_the_right_one(bob):
    client = Client()
    assert guess(client, "/login/", "bob", 29) == 200  # the form again, with its error
    # The 30th locks the account and says so.
    assert guess(client, "/login/", "bob", 1) == 429
    response = client.post("/login/", {"username": "bob", "password": "password"})
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many wrong passwords for this account" in text
    assert "15 minutes" in text
    assert "_auth_user_id" not in client.session
    # After the cool-off the right password works again.
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        response = client.post("/login/", {"username": "bob", "password": "password"})
    assert response.status_code == 302


def test_the_lock_is_per_account_and_shown_in_japanese(bob, carol):
    client = Client()
    guess(client, "/login/", "bob", 30)
    # Another account from the same address is not locked.
    assert client.post("/login/", {"username": "carol", "password": "password"}).status_code == 302
    other = Client(headers={"accept-language": "ja"})
    response = other.post("/login/", {"username": "bob", "password": "password"})
    assert response.status_code == 429
    assert "アカウント" in response.content.decode()


def test_a_few_wrong_passwords_then_the_right_one_signs_in_and_starts_over(bob):
    client = Client()
    assert guess(client, "/login/", "bob", 29) == 200
    assert client.post("/login/", {"username": "bob", "password": "password"}).status_code == 302
    client = Client()
    assert guess(client, "/login/", "bob", 29) == 200
    assert client.post("/login/", {"username": "bob", "password": "password"}).status_code == 302


def test_the_admin_login_locks_the_same_way():
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(30):
        client.post("/admin/login/", {"username": "root", "password": "nope"})
    response = client.post("/admin/login/", {"username": "root", "password": "password"})
    assert response.status_code == 429
    assert "Too many wrong passwords" in response.content.decode()


def test_wrong_api_tokens_from_one_address_are_throttled(settings):
    good = token_client(make_token("integration"))
    assert good.get(LEADS).status_code == 200
    bad = token_client("0" * 40)
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT):
        assert bad.post(LEADS, {"email": "a@b.example"}, format="json").status_code == 401
    response = bad.post(LEADS, {"email": "a@b.example"}, format="json")
    assert response.status_code == 429
    assert "wrong token" in response.json()["errors"]["non_field_errors"][0]
    assert "Retry-After" in response
    # The same address with the right token waits too, until the window has passed.
    assert good.post(LEADS, {"email": "a@b.example"}, format="json").status_code == 429
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        assert good.post(LEADS, {"email": "a@b.example"}, format="json").status_code == 201


def test_authenticate_without_a_request_still_works(bob):
    from django.contrib.auth import authenticate

    assert authenticate(username="bob", password="password") == bob
