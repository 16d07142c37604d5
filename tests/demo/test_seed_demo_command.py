"""`seed_demo` on an empty database and on one that already holds leads."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from demo.seed import DEMO_PASSWORD
from leads.models import Activity, Lead, StageEvent

pytestmark = pytest.mark.django_db


def test_seed_demo_if_empty_does_nothing_the_second_time():
    out = StringIO()
    call_command("seed_demo", "--leads", "40", "--months", "2", "--if-empty", stdout=out)
    assert "Seeded 40 leads" in out.getvalue()
    before = (Lead.objects.count(), StageEvent.objects.count(), Activity.objects.count())

    out = StringIO()
    call_command("seed_demo", "--if-empty", stdout=out)
    assert "already holds 40 leads" in out.getvalue()
    assert (Lead.objects.count(), StageEvent.objects.count(), Activity.objects.count()) == before


def test_seed_demo_if_empty_still_creates_missing_demo_users(alice):
    Lead.objects.create(email="someone@example.com")
    call_command("seed_demo", "--if-empty", stdout=StringIO())
    assert Lead.objects.count() == 1
    assert authenticate(username="rep1", password=DEMO_PASSWORD) is not None


def test_seed_demo_refuses_to_mix_demo_data_into_existing_leads():
    Lead.objects.create(email="someone@example.com")
    with pytest.raises(CommandError, match="already holds 1 leads"):
        call_command("seed_demo", "--leads", "10", stdout=StringIO())
