"""Routing's note on an assignment is shown in the reader's language, whoever's request routed
the lead."""

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from sla.models import Assignment

from .test_views import MONDAY_10, mql, page_text

pytestmark = pytest.mark.django_db


def test_routing_is_recorded_once_and_shown_in_each_readers_language(client, sla, bob):
    with translation.override("ja"), time_machine.travel(MONDAY_10, tick=False):
        # A Japanese request made the MQL.
        lead = mql(bob)
    assert Assignment.objects.get(lead=lead).reason == "Routed on MQL"
    client.force_login(bob)
    assert "Routed on MQL" in page_text(client.get(reverse("leads:detail", args=[lead.pk])))
    bob.profile.language = "ja"
    bob.profile.save()
    html = page_text(client.get(reverse("leads:detail", args=[lead.pk])))
    assert "MQL 化時に自動で振り分け" in html and "Routed on MQL" not in html
