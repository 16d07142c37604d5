"""Logging in lands each role on its own work."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "target"),
    [
        ("bob", "/sla/queue/"),
        ("carol", "/sla/queue/?scope=team"),
        ("alice", "/dashboard/"),
        ("mallory", "/leads/"),
    ],
)
def test_home_sends_each_role_to_its_page(client, request, persona, target):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == target


def test_logging_in_lands_a_rep_on_the_queue(client, bob):
    bob.set_password("pw")
    bob.save()
    response = client.post(reverse("login"), {"username": "bob", "password": "pw"}, follow=True)
    assert response.redirect_chain[-1][0] == "/sla/queue/"
    assert response.status_code == 200


def test_a_next_address_still_wins_over_the_role_page(client, alice):
    alice.set_password("pw")
    alice.save()
    response = client.post(
        reverse("login") + "?next=/leads/",
        {"username": "alice", "password": "pw", "next": "/leads/"},
    )
    assert response["Location"] == "/leads/"
