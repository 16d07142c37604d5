"""A small history in Tokyo whose every figure is worked out by hand in test_metrics.py.

SLA: Mon-Fri 09:00-18:00 Asia/Tokyo with Japanese holidays; accept within 4 business
hours, first contact within 8, qualify within 10 business days; marketing commits to at
least 3 MQLs a month and a 60% acceptance rate. Reports count months in Asia/Tokyo.

April 2026 (Tokyo) MQLs
- A  webinar, Software/250, bob. MQL Mon 6th 10:00, contact 10:30, SAL 11:00, SQL 20th 10:00.
  Score 85. All on time. Accept latency 1 h business = 1 h clock; contact 0.5 h.
- B1 webinar, Retail/30, bob. MQL Tue 7th 09:00, rejected (no budget) 17:00: 8 business
  hours, late. Recycled on the 20th. Score 55.
- C  paid_search, no company, dave. MQL Wed 8th 16:00, accept due Thu 9th 11:00, breach
  swept at 12:00, SAL Fri 10th 10:00: 12 h business, 42 h clock, late. Never contacted,
  never qualified. Score 72.
- D  webinar, Software/250, dave. MQL 2026-03-31T16:00Z = April 1st 01:00 in Tokyo (March
  in UTC). Never accepted. No score (no context).
May 2026 (Tokyo) MQLs
- B2 the same lead as B1, MQL again Mon 11th 09:00, contact 09:20, SAL 12:00, SQL Fri 15th
  10:00. Score 65. On time. Accept 3 h; contact 1/3 h.
- E  event, Software/250, erin (other team). MQL 2026-04-30T15:30Z = May 1st 00:30 in Tokyo.
  Rejected (not a fit) May 1st 10:00: on time (due 13:00). Score 40.
- F  partner, imported from CSV: MQL Tue 12th 10:00, SAL 15:00 (5 h: late), routed to erin.
  No score. Created at its first stage date in the file (the MQL, May 12th).
No MQLs in March (Tokyo) or June. G (webinar) was created on May 5th and never became MQL.
Leads were created: A March 25th, B April 2nd, C April 3rd, D 2026-03-31T15:30Z (April 1st
in Tokyo), E April 25th, G May 5th.
"""

import dataclasses
import datetime as dt
import io
import json
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command

from leads.models import Lead, Stage
from leads.services import lead_transition
from sla import services as sla_services

from ..conftest import tokyo_sla
from ..factories import CompanyFactory, LeadFactory

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
UTC = dt.UTC
# When the history is recorded and the reports are read: every cohort above is mature.
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=TOKYO)


def tokyo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TOKYO)


@pytest.fixture
def sla(db):
    return tokyo_sla(min_mqls_per_month=3, min_acceptance_rate=60)


@pytest.fixture
def tokyo_reports(settings):
    settings.REPORTS_TIME_ZONE = "Asia/Tokyo"


@dataclasses.dataclass
class History:
    a: Lead
    b: Lead
    c: Lead
    d: Lead
    e: Lead
    f: Lead
    g: Lead


def _step(when: dt.datetime, action, **kwargs):
    with time_machine.travel(when, tick=False):
        return action(**kwargs)


def mql(lead: Lead, when: dt.datetime, score: float | None = None):
    context = {"total": score} if score is not None else {}
    return lead_transition(lead=lead, to_stage=Stage.MQL, at=when, context=context)


def build_history(tmp_path, bob, dave, erin) -> History:
    software = CompanyFactory(industry="Software", employees=250)
    retail = CompanyFactory(industry="Retail", employees=30)
    a = LeadFactory.create(
        source="webinar", company=software, owner=bob, created_at=tokyo(2026, 3, 25, 12)
    )
    b = LeadFactory.create(
        source="webinar", company=retail, owner=bob, created_at=tokyo(2026, 4, 2, 12)
    )
    c = LeadFactory.create(
        source="paid_search", company=None, owner=dave, created_at=tokyo(2026, 4, 3, 12)
    )
    d = LeadFactory.create(
        source="webinar",
        company=software,
        owner=dave,
        created_at=dt.datetime(2026, 3, 31, 15, 30, tzinfo=UTC),
    )
    e = LeadFactory.create(
        source="event", company=software, owner=erin, created_at=tokyo(2026, 4, 25, 12)
    )
    g = LeadFactory.create(source="webinar", company=software, created_at=tokyo(2026, 5, 5, 12))

    # A: on time all the way.
    mql(a, tokyo(2026, 4, 6, 10), score=85)
    _step(
        tokyo(2026, 4, 6, 10, 30),
        sla_services.contact_log,
        lead=a,
        user=bob,
        channel="call",
        at=tokyo(2026, 4, 6, 10, 30),
    )
    _step(tokyo(2026, 4, 6, 11), sla_services.lead_accept, lead=a, user=bob)
    _step(
        tokyo(2026, 4, 20, 10),
        sla_services.lead_qualify,
        lead=a,
        user=bob,
        bant={"budget": "yes", "authority": "CTO", "need": "SLA", "timeline": "Q3"},
    )
    # B: rejected late, recycled, MQL again in May, qualified.
    mql(b, tokyo(2026, 4, 7, 9), score=55)
    _step(tokyo(2026, 4, 7, 17), sla_services.lead_reject, lead=b, user=bob, reason="no_budget")
    _step(tokyo(2026, 4, 20, 9), sla_services.lead_recycle, lead=b, user=bob)
    # C: accepted after a breach.
    mql(c, tokyo(2026, 4, 8, 16), score=72)
    _step(tokyo(2026, 4, 9, 12), sla_services.breach_sweep)
    _step(tokyo(2026, 4, 10, 10), sla_services.lead_accept, lead=c, user=dave)
    # D: the first hour of April in Tokyo, still March in UTC; never accepted.
    mql(d, dt.datetime(2026, 3, 31, 16, 0, tzinfo=UTC))
    # E: the first minutes of May in Tokyo; rejected on time.
    mql(e, dt.datetime(2026, 4, 30, 15, 30, tzinfo=UTC), score=40)
    _step(tokyo(2026, 5, 1, 10), sla_services.lead_reject, lead=e, user=erin, reason="not_a_fit")
    # B2.
    mql(b, tokyo(2026, 5, 11, 9), score=65)
    _step(
        tokyo(2026, 5, 11, 9, 20),
        sla_services.contact_log,
        lead=b,
        user=bob,
        channel="email",
        at=tokyo(2026, 5, 11, 9, 20),
    )
    _step(tokyo(2026, 5, 11, 12), sla_services.lead_accept, lead=b, user=bob)
    _step(
        tokyo(2026, 5, 15, 10),
        sla_services.lead_qualify,
        lead=b,
        user=bob,
        bant={"budget": "yes", "authority": "VP", "need": "speed", "timeline": "now"},
    )
    # F: history imported from a CSV file.
    mapping = {
        "time_zone": "Asia/Tokyo",
        "columns": [
            {"column": "Email", "to": "email"},
            {"column": "Source", "to": "source"},
            {"column": "MQL", "to": "mql_at"},
            {"column": "SAL", "to": "sal_at"},
        ],
    }
    (tmp_path / "history.csv").write_text(
        "Email,Source,MQL,SAL\nfumi@imported.example,partner,2026-05-12 10:00,2026-05-12 15:00\n"
    )
    (tmp_path / "mapping.json").write_text(json.dumps(mapping))
    call_command(
        "import_leads",
        str(tmp_path / "history.csv"),
        mapping=str(tmp_path / "mapping.json"),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    f = Lead.objects.get(email="fumi@imported.example")
    for lead in (a, b, c, d, e, g):
        lead.refresh_from_db()
    return History(a=a, b=b, c=c, d=d, e=e, f=f, g=g)


@pytest.fixture
def history(tokyo_reports, sla, tmp_path, bob, dave, erin, carol, alice):
    with time_machine.travel(NOW, tick=False):
        return build_history(tmp_path, bob, dave, erin)
