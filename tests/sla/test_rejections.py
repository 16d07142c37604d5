"""Marketing acts on sales' rejections: recycle to nurture with a note, mark the data fixed,
filter, export."""

import csv
import io

import pytest
from django.urls import reverse

from leads.models import Stage
from leads.services import lead_transition
from sla import services
from sla.models import RejectionFix

from ..factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db


def rejected(rep, reason="bad_data", note="Phone number is wrong", **lead_kw):
    lead = LeadFactory(owner=rep, **lead_kw)
    lead_transition(lead=lead, to_stage=Stage.MQL)
    event = services.lead_reject(lead=lead, user=rep, reason=reason, note=note)
    return lead, event


def said(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def test_marketing_recycles_a_rejected_lead_with_a_note(client, sla, alice, bob):
    lead, event = rejected(bob, first_name="Hiroki", last_name="Aoki")
    client.force_login(alice)
    response = client.post(
        reverse("sla:rejection_recycle", args=[event.id]),
        {"reason": "nurture", "note": "Webinar series in May", "next": "/sla/rejections/?q=x"},
    )
    assert response.url == "/sla/rejections/?q=x"
    assert said(response) == ["Hiroki Aoki went back to marketing for nurturing."]
    lead.refresh_from_db()
    assert lead.stage == Stage.RECYCLED
    last = lead.stage_events.order_by("-at", "-id").first()
    assert (last.actor, last.reason, last.note) == (alice, "nurture", "Webinar series in May")
    page = client.get(reverse("sla:rejections"), {"status": "recycled"})
    assert [e.id for e in page.context["page"]] == [event.id]
    assert list(client.get(reverse("sla:rejections"), {"status": "open"}).context["page"]) == []


def test_a_rejection_whose_lead_moved_on_cannot_be_recycled(client, sla, alice, bob):
    lead, event = rejected(bob)
    services.lead_recycle(lead=lead, user=alice, reason="nurture")
    client.force_login(alice)
    response = client.post(reverse("sla:rejection_recycle", args=[event.id]), {"reason": "nurture"})
    assert said(response) == ["The lead has moved on since this rejection (now Recycled)."]


def test_marketing_marks_the_data_fixed_once(client, sla, alice, bob):
    _lead, event = rejected(bob)
    client.force_login(alice)
    url = reverse("sla:rejection_fix", args=[event.id])
    response = client.post(url, {"note": "Phone corrected from the web form"})
    assert said(response)[-1].startswith("The rejection of")
    fix = RejectionFix.objects.get(event=event)
    assert (fix.actor, fix.note) == (alice, "Phone corrected from the web form")
    again = client.post(url, {"note": "again"})
    assert said(again)[-1] == "This rejection is already marked fixed."
    page = client.get(reverse("sla:rejections"), {"status": "fixed"})
    assert [e.id for e in page.context["page"]] == [event.id]
    assert "Phone corrected from the web form" in page.content.decode()


def test_only_marketing_follows_up_and_only_on_rejections(client, sla, alice, bob, carol):
    lead, event = rejected(bob)
    client.force_login(carol)
    page = client.get(reverse("sla:rejections"))
    assert page.context["can_follow_up"] is False
    assert "Act on it" not in page.content.decode()
    assert client.post(reverse("sla:rejection_fix", args=[event.id]), {}).status_code == 403
    assert not RejectionFix.objects.exists()
    client.force_login(bob)  # his own lead: he sees it, but fixing data is marketing's
    assert client.post(reverse("sla:rejection_fix", args=[event.id]), {}).status_code == 403
    mql_event = lead.stage_events.get(to_stage=Stage.MQL)
    client.force_login(alice)
    assert client.post(reverse("sla:rejection_fix", args=[mql_event.id]), {}).status_code == 404
    assert client.get(reverse("sla:rejection_fix", args=[event.id])).status_code == 405


def test_the_rejections_filter_by_status_reason_and_words(client, sla, alice, bob):
    _a, student = rejected(bob, reason="student", note="Thesis", first_name="Ken", last_name="Ito")
    _b, bad = rejected(bob, reason="bad_data", company=CompanyFactory(name="Sakura KK"))
    services.rejection_fix(event=bad, user=alice, note="done")
    client.force_login(alice)

    def ids(**params):
        return [e.id for e in client.get(reverse("sla:rejections"), params).context["page"]]

    assert ids() == [bad.id, student.id]
    assert ids(status="open") == [student.id]
    assert ids(status="fixed") == [bad.id]
    assert ids(q="ken ito") == [student.id]
    assert ids(q="sakura") == [bad.id]
    assert ids(q="thesis") == [student.id]
    assert ids(reason="bad_data") == [bad.id]


def test_the_rejections_export_as_csv_with_their_follow_up(client, sla, alice, bob):
    _a, student = rejected(bob, reason="student", note="Thesis", first_name="Ken", last_name="Ito")
    _b, bad = rejected(bob, reason="bad_data", note="", first_name="Ai", last_name="Mori")
    services.rejection_fix(event=bad, user=alice, note="Mail fixed")
    client.force_login(alice)
    response = client.get(reverse("sla:rejections_export"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == [
        "Rejected at",
        "Lead",
        "E-mail",
        "Company",
        "Reason",
        "Note",
        "Rep",
        "Status",
        "Fixed by",
        "Fix note",
    ]
    by_lead = {row[1]: row for row in rows[1:]}
    assert by_lead["Ken Ito"][4:8] == ["Student", "Thesis", "Bob Rep", "Open"]
    assert by_lead["Ai Mori"][7:] == ["Data fixed", "Alice Marketing", "Mail fixed"]
    open_only = client.get(reverse("sla:rejections_export"), {"status": "open"})
    rows = list(csv.reader(io.StringIO(b"".join(open_only.streaming_content).decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["Ken Ito"]


def test_the_export_needs_the_page_permission(client, sla, bob):
    client.force_login(bob)
    assert client.get(reverse("sla:rejections_export")).status_code == 403
