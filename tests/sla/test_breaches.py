import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.db import connection

from leads.models import Stage
from leads.services import lead_transition
from notifications.models import Notification
from notifications.services import notification_deliver
from sla import services
from sla.models import Breach, Handoff

from ..factories import LeadFactory
from .conftest import TOKYO

pytestmark = pytest.mark.django_db
MONDAY_10 = dt.datetime(2026, 11, 16, 10, 0, tzinfo=TOKYO)


def mql(lead, at=MONDAY_10):
    with time_machine.travel(at, tick=False):
        lead_transition(lead=lead, to_stage=Stage.MQL)
    return Handoff.objects.get(lead=lead)


def test_a_missed_deadline_is_marked_once_and_the_rep_is_told_once(sla, bob):
    handoff = mql(LeadFactory(owner=bob))
    assert handoff.accept_due_at == dt.datetime(2026, 11, 16, 14, 0, tzinfo=TOKYO)
    before = services.breach_sweep(now=dt.datetime(2026, 11, 16, 13, 59, tzinfo=TOKYO))
    assert before["breaches"] == 0
    late = dt.datetime(2026, 11, 16, 14, 1, tzinfo=TOKYO)
    first = services.breach_sweep(now=late)
    second = services.breach_sweep(now=late + dt.timedelta(minutes=1))
    assert (first["breaches"], first["notified"]) == (1, 1)
    assert (second["breaches"], second["notified"]) == (0, 0)
    breach = Breach.objects.get()
    assert breach.kind == "accept" and breach.due_at == handoff.accept_due_at
    assert Notification.objects.filter(kind="breach", user=bob).count() == 1


def test_escalation_goes_to_the_team_manager_after_the_grace(sla, bob, carol):
    mql(LeadFactory(owner=bob))
    services.breach_sweep(now=dt.datetime(2026, 11, 16, 14, 1, tzinfo=TOKYO))
    early = services.breach_sweep(now=dt.datetime(2026, 11, 16, 14, 59, tzinfo=TOKYO))
    assert early["escalated"] == 0
    due = services.breach_sweep(now=dt.datetime(2026, 11, 16, 15, 1, tzinfo=TOKYO))
    again = services.breach_sweep(now=dt.datetime(2026, 11, 16, 15, 5, tzinfo=TOKYO))
    assert (due["escalated"], again["escalated"]) == (1, 0)
    note = Notification.objects.get(kind="escalation")
    assert note.user == carol and "Bob Rep" in note.subject


def test_a_late_but_done_step_is_a_breach_without_escalation(sla, bob, carol):
    lead = LeadFactory(owner=bob)
    mql(lead)
    with time_machine.travel(dt.datetime(2026, 11, 16, 14, 30, tzinfo=TOKYO), tick=False):
        services.lead_accept(lead=lead, user=bob)
    result = services.breach_sweep(now=dt.datetime(2026, 11, 16, 16, 0, tzinfo=TOKYO))
    assert Breach.objects.filter(kind="accept").count() == 1
    assert result["escalated"] == 0 and not Notification.objects.filter(kind="escalation").exists()


def test_first_contact_and_qualify_deadlines_breach_too(sla, bob):
    lead = LeadFactory(owner=bob)
    mql(lead)
    with time_machine.travel(dt.datetime(2026, 11, 16, 11, 0, tzinfo=TOKYO), tick=False):
        services.lead_accept(lead=lead, user=bob)
    services.breach_sweep(now=dt.datetime(2026, 12, 31, 12, 0, tzinfo=TOKYO))
    assert set(Breach.objects.values_list("kind", flat=True)) == {"first_contact", "qualify"}


def test_old_history_is_recorded_but_nobody_is_paged(sla, bob):
    handoff = mql(LeadFactory(owner=bob), at=dt.datetime(2026, 1, 5, 10, 0, tzinfo=TOKYO))
    result = services.breach_sweep(now=dt.datetime(2026, 6, 1, 10, 0, tzinfo=TOKYO))
    assert result["breaches"] == 2 and result["notified"] == 0 and result["escalated"] == 0
    assert Breach.objects.filter(handoff=handoff).count() == 2


@pytest.mark.django_db(transaction=True)
def test_parallel_sweeps_mark_each_breach_once(sla, bob):
    if connection.vendor != "postgresql":
        pytest.skip("parallel transactions need PostgreSQL")
    for _ in range(5):
        mql(LeadFactory(owner=bob))
    now = dt.datetime(2026, 11, 16, 14, 1, tzinfo=TOKYO)
    barrier = threading.Barrier(3)
    errors = []

    def sweep():
        try:
            barrier.wait()
            services.breach_sweep(now=now)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Breach.objects.count() == 5
    assert Notification.objects.filter(kind="breach").count() == 5


def test_the_assignment_notice_says_what_who_why_and_by_when(sla, bob, mailoutbox, settings):
    settings.SITE_URL = "https://handoff.example.com"
    from leads.models import StageEvent

    lead = LeadFactory(owner=bob, first_name="Hana", last_name="Sato", total_score=42, fit_score=30)
    with time_machine.travel(MONDAY_10, tick=False):
        lead_transition(
            lead=lead,
            to_stage=Stage.MQL,
            context={
                "explanation": [
                    {"rule": "CTO", "kind": "fit", "points": 30},
                    {"rule": "Pricing page", "kind": "behaviour", "points": 12},
                ]
            },
        )
    note = Notification.objects.get(kind="assigned")
    assert note.user == bob
    assert note.subject == f"New MQL for you: Hana Sato ({lead.company.name})"
    assert "Accept or reject by 2026-11-16 14:00 JST." in note.body
    assert "Why: CTO (+30); Pricing page (+12)" in note.body
    assert note.url == f"/leads/{lead.pk}/" and note.lead == lead
    assert notification_deliver(notification_id=note.pk) is True
    assert notification_deliver(notification_id=note.pk) is False  # never twice
    assert mailoutbox[0].to == [bob.email] and mailoutbox[0].subject == note.subject
    assert f"https://handoff.example.com/leads/{lead.pk}/" in mailoutbox[0].body
    assert StageEvent.objects.filter(lead=lead).count() == 1


def test_the_assignment_notice_rounds_decayed_points_as_the_lead_page_does(sla, bob):
    # Decayed behaviour points are floats: the notice showed "Pricing page (+13.3608)".
    lead = LeadFactory(owner=bob, total_score=61.23456, fit_score=30, engagement_score=31.23456)
    with time_machine.travel(MONDAY_10, tick=False):
        lead_transition(
            lead=lead,
            to_stage=Stage.MQL,
            context={
                "explanation": [{"rule": "Pricing page", "kind": "behaviour", "points": 13.3608}]
            },
        )
    body = Notification.objects.get(kind="assigned").body
    assert "Why: Pricing page (+13.4)" in body
    assert "Score: 61.2 (fit 30, engagement 31.2)." in body


def test_a_japanese_rep_gets_the_notice_in_japanese_and_local_time(sla, bob):
    bob.profile.language, bob.profile.time_zone = "ja", "America/New_York"
    bob.profile.save()
    mql(LeadFactory(owner=bob))
    note = Notification.objects.get(kind="assigned")
    assert "2026-11-16 00:00 EST" in note.body
    assert "MQL" in note.subject


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_a_team_slack_webhook_hears_about_new_mqls(sla, bob, team):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        team.slack_webhook_url = f"http://127.0.0.1:{server.server_port}/hook"
        team.save()
        mql(LeadFactory(owner=bob, first_name="Ken", last_name="Mori"))
        slack = Notification.objects.get(channel="slack")
        assert notification_deliver(notification_id=slack.pk)
        assert "Ken Mori" in _Hook.received[-1]["text"]
        assert "Bob Rep" in _Hook.received[-1]["text"]
    finally:
        server.shutdown()


def test_a_failed_delivery_is_recorded_not_raised(sla, bob, team):
    team.slack_webhook_url = "http://127.0.0.1:9/nothing-listens-here"
    team.save()
    mql(LeadFactory(owner=bob))
    slack = Notification.objects.get(channel="slack")
    assert notification_deliver(notification_id=slack.pk) is False
    slack.refresh_from_db()
    assert slack.error
