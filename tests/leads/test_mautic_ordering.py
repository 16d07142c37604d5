"""Mautic ordering: each contact remembers the time of the last event applied; an older event
(a replay of a signed delivery, or Mautic's own retries out of order) never overwrites newer
data and never touches a lead deleted later."""

import copy

import pytest

from leads.models import Activity, Lead, LeadIdentity

from ..conftest import realdata_path
from .test_mautic_webhook import _contact, _hit, _post, _real, secret  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

T1, T2, T3 = "2026-11-20T09:00:00+00:00", "2026-11-20T10:00:00+00:00", "2026-11-20T11:00:00+00:00"


def update(title: str, at: str, contact_id: int = 7) -> dict:
    return {
        "contact": _contact("ann@acme.example", contact_id, position=title),
        "timestamp": at,
    }


def deliver(*events, kind: str = "mautic.lead_post_save_update"):
    response = _post({kind: list(events)})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_stale_replay_never_reverts_newer_data():
    deliver(update("Intern", T1))
    deliver(update("CEO", T2))
    result = deliver(update("Intern", T1))  # the first delivery, replayed later
    assert Lead.objects.get().title == "CEO"
    assert result["skipped"][0]["path"] == "mautic.lead_post_save_update[0]"
    assert LeadIdentity.objects.get().last_event_at.isoformat() == T2


def test_events_out_of_order_in_one_delivery_keep_the_newest():
    deliver(update("CEO", T2), update("Intern", T1))
    assert Lead.objects.get().title == "CEO"


def test_a_newer_event_applies():
    deliver(update("Intern", T1))
    deliver(update("CEO", T2))
    assert Lead.objects.get().title == "CEO"


def test_a_replay_never_revives_or_updates_a_deleted_lead():
    deliver(update("CEO", T1))
    deliver({"id": 7, "contact": {"id": None}, "timestamp": T2}, kind="mautic.lead_post_delete")
    lead = Lead.objects.get()
    assert lead.deleted_at is not None
    result = deliver(update("Intern", T1))
    result_same_time = deliver(update("Intern", T2))
    lead.refresh_from_db()
    assert lead.title == "CEO" and lead.deleted_at is not None
    assert result["skipped"] and result_same_time["skipped"]


def test_an_older_page_hit_is_recorded_but_its_contact_fields_are_not_applied():
    deliver(update("CEO", T3))
    hit = _hit(dateHit=T1, id=99)
    hit["hit"]["lead"] = _contact("ann@acme.example", 7, position="Intern")
    result = deliver(hit, kind="mautic.page_on_hit")
    assert result["created"]["activities"] == 1 and result["skipped"] == []
    assert Lead.objects.get().title == "CEO"
    assert Activity.objects.count() == 1


def test_the_real_bodies_replayed_out_of_order_keep_the_newer_contact():
    realdata_path("mautic/mautic.lead_post_save_update.json")  # skips without the data
    newer = _real("mautic.lead_post_save_update.json")
    older = copy.deepcopy(newer)
    older[0]["timestamp"] = "2017-06-19T09:31:00+00:00"
    older[0]["contact"]["fields"]["core"]["firstname"]["value"] = "Old"
    assert _post({"mautic.lead_post_save_update": newer}).status_code == 200
    result = _post({"mautic.lead_post_save_update": older}).json()
    assert Lead.objects.get().first_name == "John"
    assert result["skipped"][0]["path"] == "mautic.lead_post_save_update[0]"
