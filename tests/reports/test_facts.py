"""The facts follow every change, and a rebuild from the history gives the same rows."""

import datetime as dt

import pytest
import time_machine
from django.forms.models import model_to_dict

from leads import services as lead_services
from leads.models import Lead
from reports import selectors, services
from reports.models import LeadDay, MqlFact, ReportState
from sla import services as sla_services

from ..factories import CompanyFactory, LeadFactory
from .conftest import NOW, mql, tokyo

pytestmark = pytest.mark.django_db


def snapshot() -> list[dict]:
    return [model_to_dict(f) for f in MqlFact.objects.order_by("mql_event_id")]


def test_the_report_facts_follow_a_stage_change_after_the_hand_off():
    followers = lead_services._followers("stage_changed")
    assert followers.index(sla_services.handoff_follow_stage) < followers.index(
        services.facts_follow_stage
    )
    assert services.facts_follow_handoff in lead_services._followers("handoff_changed")


def test_a_rebuild_gives_the_rows_the_hooks_wrote(history):
    incremental = snapshot()
    assert len(incremental) == 7
    with time_machine.travel(NOW, tick=False):
        result = services.reports_rebuild()
    assert result == {"facts": 7, "leads": 7}
    assert snapshot() == incremental


def test_a_fact_records_the_handoff_the_deadlines_and_the_outcome(history, dave):
    c = MqlFact.objects.get(lead=history.c)
    assert c.rep == dave and c.team == dave.profile.team
    assert (c.mql_date, c.mql_month, c.mql_week) == (
        dt.date(2026, 4, 8),
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 6),
    )
    # Accepted a day after its deadline (Thu 9th 11:00).
    assert c.accepted and c.accept_on_time is False and c.accept_open_due_at is None
    assert c.accept_business_s == 12 * 3600 and c.accept_clock_s == 42 * 3600
    # Never contacted, never qualified: both deadlines still open.
    assert c.contact_on_time is None and c.contact_open_due_at == tokyo(2026, 4, 9, 15)
    assert c.qualify_on_time is None and c.qualify_open_due_at == tokyo(2026, 4, 24, 10)
    assert (c.score, c.source, c.industry, c.size_band) == (72.0, "paid_search", "", "unknown")
    b1, b2 = MqlFact.objects.filter(lead=history.b).order_by("mql_at")
    assert (b1.rejected, b1.rejection_reason, b1.reached_sql) == (True, "no_budget", False)
    # A rejected MQL needs no first contact and no qualifying.
    assert b1.contact_on_time is b1.contact_open_due_at is None
    assert b1.qualify_on_time is b1.qualify_open_due_at is None
    assert b2.reached_sql and b2.qualify_on_time is True
    d = MqlFact.objects.get(lead=history.d)
    assert d.mql_date == dt.date(2026, 4, 1) and d.accept_open_due_at == tokyo(2026, 4, 1, 13)
    f = MqlFact.objects.get(lead=history.f)
    assert f.score is None and f.accept_on_time is False and f.accept_business_s == 5 * 3600


def test_a_logged_contact_and_a_reassignment_reach_the_fact(tokyo_reports, sla, bob, dave, carol):
    lead = LeadFactory(owner=bob)
    with time_machine.travel(tokyo(2026, 6, 1, 10), tick=False):
        mql(lead, tokyo(2026, 6, 1, 10))
    fact = MqlFact.objects.get(lead=lead)
    assert fact.rep == bob and fact.contact_clock_s is None
    with time_machine.travel(tokyo(2026, 6, 1, 11), tick=False):
        sla_services.contact_log(lead=lead, user=bob, channel="call", at=tokyo(2026, 6, 1, 10, 45))
    fact.refresh_from_db()
    assert fact.contact_clock_s == fact.contact_business_s == 45 * 60
    assert fact.contact_on_time is True and fact.contact_open_due_at is None
    with time_machine.travel(tokyo(2026, 6, 1, 12), tick=False):
        sla_services.lead_reassign(lead=lead, to_user=dave, by=carol)
    fact.refresh_from_db()
    assert fact.rep == dave


def test_business_latency_skips_nights_weekends_and_holidays(tokyo_reports, sla, bob):
    lead = LeadFactory(owner=bob)
    # Friday 17:00; Monday November 23rd is a holiday in Japan; accepted Tuesday 10:00.
    mql(lead, tokyo(2026, 11, 20, 17))
    with time_machine.travel(tokyo(2026, 11, 24, 10), tick=False):
        sla_services.lead_accept(lead=lead, user=bob)
    fact = MqlFact.objects.get(lead=lead)
    assert fact.accept_business_s == 2 * 3600
    assert fact.accept_clock_s == (3 * 24 + 17) * 3600
    assert fact.accept_on_time is True  # due Tuesday 12:00


def test_a_lead_attribute_edit_shows_at_its_next_stage_change(tokyo_reports, sla, bob):
    lead = LeadFactory(owner=bob, source="webinar", company=CompanyFactory(employees=12))
    mql(lead, tokyo(2026, 6, 1, 10))
    Lead.objects.filter(pk=lead.pk).update(source="referral")
    assert MqlFact.objects.get(lead=lead).source == "webinar"
    with time_machine.travel(tokyo(2026, 6, 1, 11), tick=False):
        sla_services.lead_accept(lead=lead, user=bob)
    fact = MqlFact.objects.get(lead=lead)
    assert (fact.source, fact.size_band) == ("referral", "1-49")


# New leads per day -------------------------------------------------------------------------


def test_new_leads_are_settled_once_after_the_lag_and_counted_live_before(tokyo_reports, db):
    june = selectors.Filters(start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 30))
    LeadFactory(created_at=tokyo(2026, 6, 2, 12))
    start = dt.datetime(2026, 6, 3, tzinfo=dt.UTC)
    # First pass: the highest id is only noted; nothing is old enough to settle.
    assert services.lead_days_settle(now=start) == 0
    assert selectors.new_leads(june) == 1  # counted live
    LeadFactory(created_at=tokyo(2026, 6, 3, 12))
    # 40 minutes on, the first lead's id has waited its lag; the second has not.
    assert services.lead_days_settle(now=start + dt.timedelta(minutes=40)) == 1
    assert LeadDay.objects.get().leads == 1
    assert selectors.new_leads(june) == 2
    assert services.lead_days_settle(now=start + dt.timedelta(minutes=80)) == 1
    assert services.lead_days_settle(now=start + dt.timedelta(minutes=120)) == 0
    assert sum(LeadDay.objects.values_list("leads", flat=True)) == 2
    assert selectors.new_leads(june) == 2
    assert ReportState.objects.get().lead_settled_id == Lead.objects.latest("id").id


def test_a_rebuild_settles_every_lead(history):
    with time_machine.travel(NOW, tick=False):
        services.reports_rebuild()
    state = ReportState.objects.get()
    assert state.lead_settled_id == Lead.objects.latest("id").id
    assert state.time_zone == "Asia/Tokyo"
    assert sum(LeadDay.objects.values_list("leads", flat=True)) == 7
    april_may = selectors.Filters(start=dt.date(2026, 4, 1), end=dt.date(2026, 5, 31))
    assert selectors.new_leads(april_may) == 6


def test_the_rebuild_command(history):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("reports_rebuild", stdout=out)
    assert "7 MQL facts, 7 leads counted." in out.getvalue()
