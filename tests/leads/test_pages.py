import pytest
from django.urls import reverse

from leads.models import Stage
from leads.services import lead_transition

from ..factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_every_page_needs_a_login(client):
    lead = LeadFactory()
    for url in [reverse("leads:list"), reverse("leads:detail", args=[lead.id]), "/preferences/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_marketing_sees_every_lead(client, alice, bob):
    LeadFactory(owner=bob)
    LeadFactory()
    client.force_login(alice)
    response = client.get(reverse("leads:list"))
    assert response.context["page"].paginator.count == 2


def test_a_rep_sees_only_their_own_leads(client, bob, dave):
    mine = LeadFactory(owner=bob)
    theirs = LeadFactory(owner=dave)
    client.force_login(bob)
    response = client.get(reverse("leads:list"))
    assert [lead.id for lead in response.context["page"]] == [mine.id]
    assert client.get(reverse("leads:detail", args=[theirs.id])).status_code == 404
    assert client.get(reverse("leads:detail", args=[mine.id])).status_code == 200


def test_a_sales_manager_sees_the_team_but_not_other_teams(client, carol, bob, erin):
    team_lead = LeadFactory(owner=bob)
    other = LeadFactory(owner=erin)
    client.force_login(carol)
    assert client.get(reverse("leads:detail", args=[team_lead.id])).status_code == 200
    assert client.get(reverse("leads:detail", args=[other.id])).status_code == 404


def test_an_outsider_sees_nothing(client, mallory):
    lead = LeadFactory()
    client.force_login(mallory)
    assert client.get(reverse("leads:list")).context["page"].paginator.count == 0
    assert client.get(reverse("leads:detail", args=[lead.id])).status_code == 404


def test_the_lead_page_shows_attributes_timeline_and_history(client, alice, bob):
    lead = LeadFactory(first_name="Hana", last_name="Sato", owner=bob)
    ActivityFactory(lead=lead, properties={"url": "https://example.com/pricing"})
    lead_transition(lead=lead, to_stage=Stage.MQL)
    lead_transition(lead=lead, to_stage=Stage.SAL, actor=bob)
    client.force_login(alice)
    html = client.get(reverse("leads:detail", args=[lead.id])).content.decode()
    assert "Hana Sato" in html
    assert "https://example.com/pricing" in html
    assert "Lead → MQL" in html and "MQL → SAL" in html
    assert "Bob Rep" in html


def test_preferences_switch_language_and_time_zone(client, alice):
    client.force_login(alice)
    response = client.post("/preferences/", {"language": "ja", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    alice.profile.refresh_from_db()
    assert (alice.profile.language, alice.profile.time_zone) == ("ja", "Asia/Tokyo")
    page = client.get(reverse("leads:list"))
    assert page.wsgi_request.LANGUAGE_CODE == "ja"
    assert '<html lang="ja">' in page.content.decode()


def test_preferences_reject_an_unknown_time_zone(client, alice):
    client.force_login(alice)
    response = client.post("/preferences/", {"language": "en", "time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assert "time_zone" in response.context["form"].errors


def test_a_user_without_a_time_zone_does_not_inherit_the_previous_requests(client, alice, bob):
    alice.profile.time_zone = "Asia/Tokyo"
    alice.profile.save()
    client.force_login(alice)
    assert client.get(reverse("leads:list")).context["TIME_ZONE"] == "Asia/Tokyo"
    client.force_login(bob)  # bob chose no time zone: the server default applies
    assert client.get(reverse("leads:list")).context["TIME_ZONE"] == "UTC"
