"""The SLA draft's editor in the app: managers (not staff) edit terms and closed days."""

import datetime as dt

import pytest
from django.urls import reverse

from sla import services
from sla.models import SlaVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(sla, alice):
    return services.sla_draft_get_or_create(user=alice)


def _terms(draft: SlaVersion, **over):
    data = {
        "time_zone": draft.time_zone,
        "working_days": [str(d) for d in draft.working_days],
        "day_start": draft.day_start.strftime("%H:%M"),
        "day_end": draft.day_end.strftime("%H:%M"),
        "holiday_country": draft.holiday_country,
        "holiday_subdivision": draft.holiday_subdivision,
        "accept_within_hours": str(draft.accept_within_hours),
        "first_contact_hot_minutes": str(draft.first_contact_hot_minutes),
        "first_contact_hours": str(draft.first_contact_hours),
        "qualify_within_days": str(draft.qualify_within_days),
        "hot_score": "" if draft.hot_score is None else str(draft.hot_score),
        "escalation_grace_minutes": str(draft.escalation_grace_minutes),
        "min_mqls_per_month": str(draft.min_mqls_per_month),
        "min_acceptance_rate": str(draft.min_acceptance_rate),
    }
    data.update(over)
    return data


@pytest.mark.parametrize("persona", ["alice", "carol"])
def test_managers_who_are_not_staff_edit_the_sla_draft(client, request, draft, persona):
    user = request.getfixturevalue(persona)
    assert not user.is_staff
    client.force_login(user)
    overview = client.get(reverse("sla:overview")).content.decode()
    assert 'href="/admin/' not in overview and reverse("sla:draft_edit") in overview
    page = client.get(reverse("sla:draft_edit"))
    assert page.status_code == 200 and 'href="/admin/' not in page.content.decode()
    response = client.post(
        reverse("sla:draft_edit"),
        _terms(
            draft,
            day_start="10:00",
            working_days=["0", "1", "2", "3"],
            accept_within_hours="2",
            time_zone="Europe/Berlin",
            holiday_country="DE",
            holiday_subdivision="BY",
        ),
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.day_start == dt.time(10) and draft.working_days == [0, 1, 2, 3]
    assert draft.accept_within_hours == 2 and draft.time_zone == "Europe/Berlin"
    assert (draft.holiday_country, draft.holiday_subdivision) == ("DE", "BY")
    assert draft.history.first().history_user == user


def test_a_rep_cannot_edit_the_sla(client, bob, draft):
    client.force_login(bob)
    assert client.get(reverse("sla:draft_edit")).status_code == 403
    assert client.post(reverse("sla:closed_day_add"), {"date": "2026-12-28"}).status_code == 403


@pytest.mark.parametrize(
    "over,message",
    [
        ({"day_end": "08:00"}, "The closing time must be after the opening time."),
        ({"working_days": []}, "This field is required."),
        ({"accept_within_hours": "0"}, "Must be more than zero."),
        ({"min_acceptance_rate": "120"}, "A percentage from 0 to 100."),
        ({"time_zone": "Mars/Olympus"}, "Select a valid choice."),
        ({"holiday_country": "US", "holiday_subdivision": "ZZ"}, "Unknown region"),
        ({"qualify_within_days": "-1"}, "greater than or equal to 0"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(client, alice, draft, over, message):
    client.force_login(alice)
    before = {f: getattr(draft, f) for f in SlaVersion.TERMS}
    response = client.post(reverse("sla:draft_edit"), _terms(draft, **over))
    assert response.status_code == 400
    html = response.content.decode()
    summary = html.split('class="formerrors"')[1].split("</div>")[0]
    assert message in summary and ": " in summary, summary
    draft.refresh_from_db()
    assert {f: getattr(draft, f) for f in SlaVersion.TERMS} == before


def test_closed_days_are_added_and_removed_and_withdraw_approvals(client, alice, carol, draft):
    services.sla_approve(version=draft, user=carol)
    client.force_login(alice)
    response = client.post(
        reverse("sla:closed_day_add"), {"date": "2026-12-29", "name": "Year end"}, follow=True
    )
    assert "approvals were withdrawn" in response.content.decode()
    day = draft.closed_days.get()
    assert (day.date, day.name) == (dt.date(2026, 12, 29), "Year end")
    again = client.post(reverse("sla:closed_day_add"), {"date": "2026-12-29"})
    assert again.status_code == 400 and "This day is already closed." in again.content.decode()
    bad = client.post(reverse("sla:closed_day_add"), {"date": "29/13/2026"})
    assert bad.status_code == 400 and "Enter a valid date." in bad.content.decode()
    client.post(reverse("sla:closed_day_delete", args=[day.pk]))
    assert not draft.closed_days.exists()


def test_the_service_refuses_unknown_terms_and_published_versions(alice, draft, sla):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.sla_draft_update(version=draft, data={"status": "published"}, user=alice)
    assert "status" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.sla_draft_update(version=sla, data={"accept_within_hours": 2}, user=alice)


def test_the_worked_example_follows_hours_and_closed_days(client, alice, draft):
    import time_machine

    client.force_login(alice)
    with time_machine.travel(dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC), tick=False):
        html = client.get(reverse("sla:draft_edit")).content.decode()
        assert "An MQL at <b>Friday 17:30</b> must be accepted or rejected by" in html
        assert '<b class="accept-by">Monday 12:30</b>' in html
        client.post(reverse("sla:closed_day_add"), {"date": "2026-12-07", "name": "Offsite"})
        html = client.get(reverse("sla:draft_edit")).content.decode()
        assert '<b class="accept-by">Tuesday 12:30</b>' in html
        client.post(reverse("sla:draft_edit"), _terms(draft, day_end="17:00", day_start="08:00"))
        html = client.get(reverse("sla:draft_edit")).content.decode()
        assert "An MQL at <b>Friday 16:30</b>" in html
        assert '<b class="accept-by">Tuesday 11:30</b>' in html


def test_the_next_twelve_months_of_public_holidays_are_listed(client, alice, draft):
    import time_machine

    client.force_login(alice)
    with time_machine.travel(dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC), tick=False):
        html = client.get(reverse("sla:draft_edit")).content.decode()
    assert "New Year&#x27;s Day" in html or "New Year's Day" in html
    assert 'datetime="2027-01-01"' in html and 'datetime="2027-11-23"' in html
    assert 'datetime="2027-12-31"' not in html
    assert '<option value="Asia/Tokyo" selected>' in html
    assert 'id="holiday-regions"' in html
