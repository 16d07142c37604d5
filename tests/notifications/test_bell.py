"""The bell: unread count in every page's header, a list of every kind, read when opened."""

import pytest
from django.test import Client
from django.urls import reverse

from notifications.models import Notification
from notifications.services import notification_create

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db


def tell(user, kind=Notification.Kind.ASSIGNED, **extra):
    return notification_create(kind=kind, user=user, subject=f"About {kind}", **extra)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_header_bell_counts_unread_notices(bob, dave):
    client = logged_in(bob)
    text = client.get(reverse("notifications:list")).content.decode()
    assert 'id="bell-count" hidden' in text
    tell(bob)
    tell(bob, Notification.Kind.BREACH)
    tell(dave)
    text = client.get(reverse("notifications:list")).content.decode()
    assert '<span class="bell-count" id="bell-count">2</span>' in text
    assert client.get(reverse("notifications:status")).json() == {"unread": 2}


def test_the_list_shows_every_kind_newest_first(bob):
    for kind in Notification.Kind.values:
        tell(bob, kind)
    text = logged_in(bob).get(reverse("notifications:list")).content.decode()
    for kind, label in Notification.Kind.choices:
        assert f'data-kind="{kind}"' in text and str(label) in text
    assert text.index("About published") < text.index("About assigned")


def test_opening_a_notice_marks_it_read_and_goes_to_its_lead(bob):
    lead = LeadFactory(owner=bob)
    note = tell(bob, lead=lead, url=reverse("leads:detail", args=[lead.pk]))
    other = tell(bob)
    client = logged_in(bob)
    response = client.get(reverse("notifications:open", args=[note.pk]))
    assert response.status_code == 302 and response["Location"] == f"/leads/{lead.pk}/"
    note.refresh_from_db()
    other.refresh_from_db()
    assert note.read_at is not None and other.read_at is None
    assert client.get(reverse("notifications:status")).json() == {"unread": 1}


def test_mark_all_read(bob):
    tell(bob)
    tell(bob)
    client = logged_in(bob)
    response = client.post(reverse("notifications:read_all"), follow=True)
    assert "All notifications are marked read." in response.content.decode()
    assert client.get(reverse("notifications:status")).json() == {"unread": 0}


def test_someone_elses_notice_is_not_found(bob, dave):
    note = tell(dave)
    response = logged_in(bob).get(reverse("notifications:open", args=[note.pk]))
    assert response.status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_a_link_off_site_is_never_followed(bob):
    note = tell(bob, url="https://evil.example/")
    response = logged_in(bob).get(reverse("notifications:open", args=[note.pk]))
    assert response["Location"] == reverse("notifications:list")


def test_strangers_are_sent_to_log_in(client):
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302 and "/login/" in response["Location"]
