"""Every metric against the hand-computed history of conftest.py (read its docstring first)."""

import datetime as dt

import pytest

from reports import selectors
from reports.selectors import Filters

from .conftest import NOW

pytestmark = pytest.mark.django_db

MARCH_TO_JUNE = Filters(start=dt.date(2026, 3, 1), end=dt.date(2026, 6, 30))
APRIL_MAY = Filters(start=dt.date(2026, 4, 1), end=dt.date(2026, 5, 31))


def by_month(rows, key="month"):
    return {r[key]: r for r in rows}


def approx(value):
    return pytest.approx(value, abs=1e-9)


def test_mql_volume_counts_each_mql_in_its_tokyo_month_by_source(history):
    volume = selectors.mql_volume(MARCH_TO_JUNE)
    months = by_month(volume["periods"], "period")
    assert list(months) == ["2026-03", "2026-04", "2026-05", "2026-06"]
    # D (2026-03-31T16:00Z) is April in Tokyo; E (2026-04-30T15:30Z) is May.
    assert months["2026-03"]["total"] == 0
    assert months["2026-04"]["by_source"] == {
        "webinar": 3,
        "paid_search": 1,
        "event": 0,
        "partner": 0,
    }
    assert months["2026-05"]["by_source"] == {
        "webinar": 1,
        "paid_search": 0,
        "event": 1,
        "partner": 1,
    }
    # A month without MQLs is a row of zeros, not a missing row.
    assert months["2026-06"] == {
        "period": "2026-06",
        "total": 0,
        "by_source": {"webinar": 0, "paid_search": 0, "event": 0, "partner": 0},
        "target": 3,
    }
    assert volume["sources"] == ["webinar", "event", "paid_search", "partner"]


def test_weekly_volume_starts_weeks_on_monday_in_tokyo(history):
    volume = selectors.mql_volume(APRIL_MAY, grain="week")
    weeks = {p["period"]: p["total"] for p in volume["periods"] if p["total"]}
    # D on Wed April 1st (week of Mon March 30th); A, B1, C the week of April 6th; E on
    # Fri May 1st (week of April 27th); B2 and F the week of May 11th.
    assert weeks == {"2026-03-30": 1, "2026-04-06": 3, "2026-04-27": 1, "2026-05-11": 2}
    assert all(p["target"] is None for p in volume["periods"])


def test_the_same_history_in_utc_moves_the_boundary_events_after_a_rebuild(history, settings):
    from reports.services import reports_rebuild

    settings.REPORTS_TIME_ZONE = "UTC"
    reports_rebuild()
    months = by_month(selectors.mql_volume(MARCH_TO_JUNE)["periods"], "period")
    assert [months[m]["total"] for m in months] == [1, 4, 2, 0]
    assert months["2026-03"]["by_source"]["webinar"] == 1


def test_latency_medians_and_p90_in_business_and_clock_hours(history):
    accept = selectors.latency_by_month(MARCH_TO_JUNE, step="accept")
    contact = selectors.latency_by_month(MARCH_TO_JUNE, step="first_contact")
    assert (accept["step"], contact["step"]) == ("accept", "first_contact")
    months = by_month(accept["months"])
    april = months["2026-04"]
    # A: 1 h and 1 h; C (accepted after its breach): 12 business hours, 42 clock hours.
    assert april["n"] == 2
    assert april["median_business_h"] == approx(6.5)
    assert april["p90_business_h"] == approx(1 + 0.9 * 11)
    assert april["median_clock_h"] == approx(21.5)
    assert april["p90_clock_h"] == approx(1 + 0.9 * 41)
    may = months["2026-05"]
    # B2 3 h, F (imported) 5 h; E was rejected, so it has no acceptance latency.
    assert may["n"] == 2
    assert may["median_business_h"] == approx(4) and may["p90_business_h"] == approx(4.8)
    assert months["2026-06"] == {
        "month": "2026-06",
        "n": 0,
        "not_recorded": 0,
        "median_business_h": None,
        "p90_business_h": None,
        "median_clock_h": None,
        "p90_clock_h": None,
    }
    contacts = by_month(contact["months"])
    assert contacts["2026-04"]["n"] == 1 and contacts["2026-04"]["median_business_h"] == approx(0.5)
    assert contacts["2026-05"]["median_clock_h"] == approx(20 / 60)


def test_latency_distribution_buckets(history):
    dist = selectors.latency_distribution(APRIL_MAY)
    buckets = dict(zip(dist["buckets"], dist["accept_business"], strict=True))
    # A 1 h, B2 3 h (1-4 h); F 5 h (4-8 h); C 12 h (8-24 h).
    assert buckets == {
        "<5m": 0,
        "5–30m": 0,
        "30–60m": 0,
        "1–4h": 2,
        "4–8h": 1,
        "8–24h": 1,
        "24–72h": 0,
        "72h+": 0,
    }
    clock = dict(zip(dist["buckets"], dist["accept_clock"], strict=True))
    assert clock["24–72h"] == 1 and clock["8–24h"] == 0
    contact = dict(zip(dist["buckets"], dist["first_contact_business"], strict=True))
    assert contact["5–30m"] == 1 and contact["30–60m"] == 1 and sum(contact.values()) == 2


def test_sla_compliance_per_month_counts_due_and_met_for_each_deadline(history):
    months = by_month(selectors.sla_compliance_by_month(MARCH_TO_JUNE, now=NOW)["months"])
    april = months["2026-04"]
    # Accept: A on time; B1 rejected late; C accepted after its breach; D never decided.
    assert april["accept"] == {"due": 4, "met": 1, "rate": 0.25}
    # First contact: A on time; C and D never contacted; B1 was rejected (not due).
    assert april["first_contact"] == {"due": 3, "met": 1, "rate": approx(1 / 3)}
    # Qualify: A on time; C never qualified.
    assert april["qualify"] == {"due": 2, "met": 1, "rate": 0.5}
    may = months["2026-05"]
    assert may["accept"] == {"due": 3, "met": 2, "rate": approx(2 / 3)}
    assert may["first_contact"] == {"due": 2, "met": 1, "rate": 0.5}
    assert may["qualify"] == {"due": 2, "met": 1, "rate": 0.5}
    assert months["2026-06"]["accept"] == {"due": 0, "met": 0, "rate": None}


def test_a_deadline_not_yet_passed_is_not_due(history):
    # On April 1st at noon in Tokyo D's accept deadline (13:00) has not passed yet.
    months = by_month(
        selectors.sla_compliance_by_month(
            Filters(start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 1)),
            now=dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.UTC),
        )["months"]
    )
    assert months["2026-04"]["accept"] == {"due": 0, "met": 0, "rate": None}


def test_sla_compliance_per_rep(history, bob, dave, erin):
    reps = {r["rep_id"]: r for r in selectors.sla_compliance_by_rep(APRIL_MAY, now=NOW)["reps"]}
    assert set(reps) == {bob.pk, dave.pk, erin.pk}
    assert reps[bob.pk]["rep"] == "Bob Rep" and reps[bob.pk]["mqls"] == 3
    assert reps[bob.pk]["accept"] == {"due": 3, "met": 2, "rate": approx(2 / 3)}
    assert reps[dave.pk]["accept"] == {"due": 2, "met": 0, "rate": 0.0}
    # E rejected on time, F (imported, routed to erin) accepted late.
    assert reps[erin.pk]["accept"] == {"due": 2, "met": 1, "rate": 0.5}
    assert reps[erin.pk]["first_contact"] == {"due": 1, "met": 0, "rate": 0.0}


def test_marketing_targets_met_or_missed(history):
    months = by_month(selectors.marketing_targets(MARCH_TO_JUNE, now=NOW)["months"])
    assert months["2026-03"]["mqls_status"] == "missed"
    assert months["2026-03"]["acceptance_status"] == "no data"
    april = months["2026-04"]
    assert (april["mqls"], april["min_mqls"], april["mqls_status"]) == (4, 3, "met")
    assert april["acceptance_rate"] == approx(2 / 3)
    assert april["min_acceptance_rate"] == approx(0.6)
    assert april["acceptance_status"] == "met"
    assert months["2026-05"]["mqls_status"] == "met"
    assert months["2026-05"]["acceptance_status"] == "met"
    assert months["2026-06"]["mqls_status"] == "missed"


def test_targets_stay_open_while_the_month_runs(history):
    webinar = Filters(start=APRIL_MAY.start, end=APRIL_MAY.end, source="webinar")
    during = selectors.marketing_targets(webinar, now=dt.datetime(2026, 5, 20, tzinfo=dt.UTC))
    may = by_month(during["months"])["2026-05"]
    # One webinar MQL in May (B2), below the three committed: not missed while May runs.
    assert (may["mqls"], may["mqls_status"], may["acceptance_status"]) == (1, "open", "open")
    after = selectors.marketing_targets(webinar, now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    may = by_month(after["months"])["2026-05"]
    assert (may["mqls_status"], may["acceptance_status"]) == ("missed", "met")


def test_conversion_by_cohort_counts_the_recycled_lead_in_both_cohorts(history):
    months = by_month(selectors.conversion_by_cohort(MARCH_TO_JUNE, now=NOW)["months"])
    april, may = months["2026-04"], months["2026-05"]
    # B1 (rejected) stays unconverted in April although the lead reached SQL after B2.
    assert april == {
        "month": "2026-04",
        "mqls": 4,
        "accepted": 2,
        "rejected": 1,
        "acceptance_not_recorded": 0,
        "undecided": 1,
        "acceptance_rate": approx(2 / 3),
        "reached_sql": 1,
        "sql_rate": 0.25,
        "maturing": False,
    }
    assert (may["mqls"], may["accepted"], may["rejected"], may["reached_sql"]) == (3, 2, 1, 1)
    assert may["sql_rate"] == approx(1 / 3)
    assert months["2026-06"]["sql_rate"] is None
    assert months["2026-06"]["acceptance_rate"] is None


def test_recent_cohorts_are_marked_maturing(history):
    months = by_month(
        selectors.conversion_by_cohort(MARCH_TO_JUNE, now=dt.datetime(2026, 8, 15, tzinfo=dt.UTC))[
            "months"
        ]
    )
    # Maturing until 90 days after the month's end: April ended 107 days before, May 76.
    assert [months[m]["maturing"] for m in months] == [False, False, True, True]


def test_funnel_of_the_period(history):
    steps = {s["stage"]: s for s in selectors.funnel(APRIL_MAY)["steps"]}
    # New leads in April-May (Tokyo): B, C, D, E, G and F (imported: created at its first
    # stage date, May 12th); A was created in March.
    assert steps["lead"]["count"] == 6
    assert steps["mql"]["count"] == 7
    assert steps["sal"]["count"] == 4
    assert steps["sql"]["count"] == 2
    assert steps["mql"]["rate_from_previous"] == approx(7 / 6)
    assert steps["sal"]["rate_from_previous"] == approx(4 / 7)
    assert steps["sql"]["rate_from_previous"] == approx(2 / 4)


def test_funnel_with_a_rep_filter_has_no_lead_step(history, bob):
    steps = {
        s["stage"]: s
        for s in selectors.funnel(Filters(start=APRIL_MAY.start, end=APRIL_MAY.end, rep=bob.pk))[
            "steps"
        ]
    }
    assert steps["lead"]["count"] is None and steps["mql"]["rate_from_previous"] is None
    assert (steps["mql"]["count"], steps["sal"]["count"], steps["sql"]["count"]) == (3, 2, 2)


def test_rejection_reasons_per_mql_month(history):
    result = selectors.rejection_reasons(MARCH_TO_JUNE)
    assert [r["code"] for r in result["reasons"]] == ["not_a_fit", "no_budget"]
    months = by_month(result["months"])
    assert months["2026-04"]["by_reason"] == {"not_a_fit": 0, "no_budget": 1}
    assert months["2026-05"]["by_reason"] == {"not_a_fit": 1, "no_budget": 0}
    assert months["2026-06"] == {
        "month": "2026-06",
        "rejected": 0,
        "by_reason": {"not_a_fit": 0, "no_budget": 0},
    }


def test_score_calibration_by_band_at_the_moment_of_mql(history):
    result = selectors.score_calibration(APRIL_MAY, now=NOW)
    bands = {b["band"]: b for b in result["bands"]}
    assert (bands["< 50"]["mqls"], bands["< 50"]["rejected"], bands["< 50"]["reached_sql"]) == (
        1,
        1,
        0,
    )
    assert bands["50–59"]["mqls"] == 1 and bands["50–59"]["sql_rate"] == 0.0
    assert bands["60–69"]["sql_rate"] == 1.0
    assert bands["70–79"]["mqls"] == 1 and bands["70–79"]["sql_rate"] == 0.0
    assert bands["80–89"]["sql_rate"] == 1.0 and bands["80–89"]["acceptance_rate"] == 1.0
    # D had no context, F was imported: unknown.
    assert bands["unknown"]["mqls"] == 2 and bands["unknown"]["accepted"] == 1
    assert bands["90–99"] == {
        "band": "90–99",
        "mqls": 0,
        "accepted": 0,
        "rejected": 0,
        "reached_sql": 0,
        "sql_rate": None,
        "acceptance_rate": None,
    }
    assert result["maturing"] == 0


@pytest.mark.parametrize(
    "segment,mqls",
    [
        ({"source": "webinar"}, 4),
        ({"industry": "Software"}, 3),
        ({"size": "1-49"}, 2),
        ({"size": "unknown"}, 2),
        ({"team": "inside"}, 5),
        ({"rep": "erin"}, 2),
    ],
)
def test_filters_select_the_segment(history, team, erin, segment, mqls):
    if segment.get("team") == "inside":
        segment = {"team": team.pk}
    if segment.get("rep") == "erin":
        segment = {"rep": erin.pk}
    f = Filters(start=APRIL_MAY.start, end=APRIL_MAY.end, **segment)
    volume = selectors.mql_volume(f)
    assert sum(p["total"] for p in volume["periods"]) == mqls
    conversion = selectors.conversion_by_cohort(f, now=NOW)
    assert sum(m["mqls"] for m in conversion["months"]) == mqls


def test_new_leads_honour_source_industry_and_size(history):
    def count(**segment):
        return selectors.new_leads(Filters(start=APRIL_MAY.start, end=APRIL_MAY.end, **segment))

    assert count() == 6
    assert count(source="webinar") == 3  # B, D, G
    assert count(industry="Retail") == 1
    assert count(size="250-999") == 3  # D, E, G
    assert count(size="unknown") == 2  # C, F


def test_the_review_puts_the_month_beside_the_two_before(history):
    review = selectors.review(dt.date(2026, 5, 1), now=NOW)
    assert review["months"] == ["2026-03", "2026-04", "2026-05"]
    rows = {r["key"]: r for r in review["rows"]}
    assert rows["mqls"]["values"] == [0, 4, 3] and rows["mqls"]["change"] == -1
    assert rows["mqls"]["statuses"] == ["missed", "met", "met"]
    assert rows["acceptance_rate"]["values"][1:] == [approx(2 / 3), approx(2 / 3)]
    assert rows["new_leads"]["values"] == [1, 4, 2]  # A; B, C, D, E; G, F
    assert rows["accept_on_time"]["values"] == [None, 0.25, approx(2 / 3)]
    assert rows["accept_median_business_h"]["values"] == [None, approx(6.5), approx(4)]
    reps = review["data"]["sla-compliance-by-rep"]["reps"]
    assert sum(r["mqls"] for r in reps) == 3  # the month alone
