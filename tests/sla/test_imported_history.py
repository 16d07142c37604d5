"""No SLA judged retroactively: an MQL is judged only by an SLA in force at its time, and
imported history never notifies or escalates anyone, whatever its dates.

The SLA (Tokyo hours, accept within 4 business hours) takes effect on 2026-06-01. The file,
imported on 2026-11-20 (a Friday) at 10:00 Tokyo:
- old@: MQL 2026-01-12, never accepted   -> before any SLA: no hand-off, no breach
- mid@: MQL 2026-07-01 10:00, no SAL      -> judged by the SLA: a hand-off, a breach later,
                                            but nobody is told
- now@: MQL 2026-11-20 09:30 (minutes ago) -> judged, never notified nor escalated
"""

import datetime as dt
import io
import json
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from leads.models import Lead, Stage
from leads.services import lead_transition
from notifications.models import Notification
from reports import selectors
from reports.selectors import Filters
from sla import services
from sla.models import Breach, Handoff, SlaVersion

from ..factories import LeadFactory

pytestmark = pytest.mark.django_db

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
IMPORTED_AT = dt.datetime(2026, 11, 20, 10, 0, tzinfo=TOKYO)
SLA_FROM = dt.datetime(2026, 6, 1, tzinfo=TOKYO)
CSV = (
    "Email,MQL date\n"
    "old@example.com,2026-01-12T10:00:00+09:00\n"
    "mid@example.com,2026-07-01T10:00:00+09:00\n"
    "now@example.com,2026-11-20T09:30:00+09:00\n"
)
MAPPING = {"columns": [{"column": "Email", "to": "email"}, {"column": "MQL date", "to": "mql_at"}]}


@pytest.fixture
def imported(sla, bob, settings, tmp_path):
    settings.REPORTS_TIME_ZONE = "Asia/Tokyo"
    SlaVersion.objects.filter(pk=sla.pk).update(effective_from=SLA_FROM)
    (tmp_path / "h.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "m.json").write_text(json.dumps(MAPPING), encoding="utf-8")
    with time_machine.travel(IMPORTED_AT, tick=False):
        call_command(
            "import_leads",
            str(tmp_path / "h.csv"),
            mapping=str(tmp_path / "m.json"),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    # Days later, every deadline has passed; the sweep runs again and again.
    for hours in (1, 3, 30, 80):
        with time_machine.travel(IMPORTED_AT + dt.timedelta(hours=hours), tick=False):
            services.breach_sweep()


def test_history_from_before_the_first_sla_has_no_handoff_and_no_breach(imported):
    old = Lead.objects.get(email="old@example.com")
    assert old.stage == Stage.MQL
    assert not Handoff.objects.filter(lead=old).exists()
    assert not Breach.objects.filter(handoff__lead=old).exists()


def test_imported_history_under_an_sla_is_judged_but_never_notifies_anyone(imported, bob):
    mid = Handoff.objects.get(lead__email="mid@example.com")
    now = Handoff.objects.get(lead__email="now@example.com")
    assert mid.imported and now.imported
    assert Breach.objects.filter(handoff=mid, kind=Breach.Kind.ACCEPT).exists()
    assert Breach.objects.filter(handoff=now, kind=Breach.Kind.ACCEPT).exists()
    assert not Notification.objects.exists()
    # Breaches are settled, never left to notify later.
    assert not Breach.objects.filter(notified_at=None).exists()


def test_a_live_mql_still_notifies_its_rep(imported, bob):
    lead = LeadFactory(owner=bob)
    with time_machine.travel(IMPORTED_AT + dt.timedelta(hours=81), tick=False):
        lead_transition(lead=lead, to_stage=Stage.MQL)
    assert Handoff.objects.get(lead=lead).imported is False
    assert Notification.objects.filter(user=bob).exists()


def test_compliance_and_targets_say_no_sla_in_force_before_the_first_sla(imported, alice):
    year = Filters(start=dt.date(2026, 1, 1), end=dt.date(2026, 7, 31))
    at = IMPORTED_AT + dt.timedelta(hours=81)
    with time_machine.travel(at, tick=False):
        compliance = {m["month"]: m for m in selectors.sla_compliance_by_month(year)["months"]}
        targets = {m["month"]: m for m in selectors.marketing_targets(year)["months"]}
        conversion = {m["month"]: m for m in selectors.conversion_by_cohort(year)["months"]}
    january = compliance["2026-01"]
    assert january["sla_in_force"] is False and january["mqls_without_sla"] == 1
    assert january["accept"] == {"due": 0, "met": 0, "rate": None}
    assert (targets["2026-01"]["mqls_status"], targets["2026-01"]["acceptance_status"]) == (
        "no sla",
        "no sla",
    )
    assert (targets["2026-01"]["mqls"], targets["2026-01"]["mqls_without_sla"]) == (0, 1)
    # The MQL still counts in its cohort.
    assert conversion["2026-01"]["mqls"] == 1
    july = compliance["2026-07"]
    assert july["sla_in_force"] is True and july["accept"] == {"due": 1, "met": 0, "rate": 0.0}
    assert targets["2026-07"]["mqls"] == 1 and targets["2026-07"]["mqls_status"] == "missed"

    client = Client()
    client.force_login(alice)
    with time_machine.travel(at, tick=False):
        page = client.get("/dashboard/", {"from": "2026-01-01", "to": "2026-01-31"})
        review = client.get("/review/2026-01/")
    html = page.content.decode()
    assert 'data-no-sla="2026-01"' in html
    assert "no SLA in force" in html
    assert "no SLA in force" in review.content.decode()
