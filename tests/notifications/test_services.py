import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from notifications import services, tasks
from notifications.models import Notification
from notifications.selectors import unread_count

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 16, 1, 0, tzinfo=dt.UTC)


class BrokerDown(Exception):
    pass


@pytest.fixture
def broker_down(monkeypatch):
    """Every enqueue fails as it does while Redis is unreachable."""
    calls = []

    def refuse(*args):
        calls.append(args)
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.notification_deliver_task, "delay", refuse)
    return calls


def tell(user, **extra):
    return services.notification_create(
        kind=Notification.Kind.ASSIGNED,
        user=user,
        subject="New MQL for you",
        body="Accept by 14:00.",
        url="/leads/1/",
        **extra,
    )


def test_a_notice_is_in_the_app_at_once_and_delivered_after_commit(
    bob, mailoutbox, django_capture_on_commit_callbacks, celery_eager
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        note = tell(bob, lead=LeadFactory())
        assert unread_count(user=bob) == 1  # before commit: in the app already
    assert len(callbacks) == 1
    note.refresh_from_db()
    assert note.delivered_at is not None and note.attempts == 1
    assert mailoutbox[0].to == [bob.email]
    assert mailoutbox[0].body == "Accept by 14:00.\n\nhttp://127.0.0.1:8000/leads/1/"


def test_a_broker_outage_at_commit_loses_nothing_and_raises_nothing(
    bob, mailoutbox, broker_down, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            note = tell(bob)  # the commit succeeds although the enqueue fails
        assert len(broker_down) == 1
        note.refresh_from_db()
        assert note.delivered_at is None
        # The broker is still away: the sweep tries, fails quietly, and stops early.
        with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
            assert services.notifications_redeliver() == 0


def test_the_sweep_delivers_what_the_outage_left_once_the_broker_is_back(
    bob, mailoutbox, celery_eager
):
    with time_machine.travel(NOW, tick=False):
        note = tell(bob)
    # Nothing ran at commit (no on-commit callbacks in this test): as after an outage.
    with time_machine.travel(NOW + dt.timedelta(seconds=5), tick=False):
        assert services.notifications_redeliver() == 0  # too fresh: its own task may run
    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
        assert services.notifications_redeliver() == 1
        assert services.notifications_redeliver() == 0
    note.refresh_from_db()
    assert note.delivered_at is not None
    assert len(mailoutbox) == 1


def test_a_delivery_claimed_by_a_worker_that_died_is_claimed_again(bob, mailoutbox):
    with time_machine.travel(NOW, tick=False):
        note = tell(bob)
        Notification.objects.filter(pk=note.pk).update(claimed_at=timezone.now())
        assert services.notification_deliver(notification_id=note.pk) is False  # held
    with time_machine.travel(NOW + services.CLAIM_EXPIRES + dt.timedelta(seconds=1)):
        assert services.notification_deliver(notification_id=note.pk) is True
    assert len(mailoutbox) == 1


def test_a_failing_delivery_is_retried_then_given_up(bob, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr(services, "send_mail", fail)
    note = tell(bob)
    for _ in range(services.MAX_ATTEMPTS):
        assert services.notification_deliver(notification_id=note.pk) is False
    note.refresh_from_db()
    assert note.attempts == services.MAX_ATTEMPTS and "unreachable" in note.error
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        assert services.notifications_redeliver() == 0


def test_a_person_without_an_e_mail_is_told_in_the_app_only(bob, mailoutbox):
    bob.email = ""
    bob.save()
    note = tell(bob)
    assert services.notification_deliver(notification_id=note.pk) is True
    assert mailoutbox == []


def test_reading_marks_only_ones_own_notices(bob, dave):
    mine, other = tell(bob), tell(dave)
    assert services.notifications_mark_read(user=bob) == 1
    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.read_at is not None and other.read_at is None
    assert unread_count(user=bob) == 0 and unread_count(user=dave) == 1


def test_a_team_without_a_chat_channel_gets_no_post(team):
    assert services.team_post(kind=Notification.Kind.ASSIGNED, team=team, text="x") is None
    assert not Notification.objects.exists()
