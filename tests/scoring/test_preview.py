import datetime as dt

import pytest
import time_machine

from leads.models import Stage
from leads.services import lead_transition
from scoring import selectors, services

from ..factories import ActivityFactory, LeadFactory
from .helpers import make_version, rule

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def live_and_draft(alice):
    live = make_version(number=1, threshold=50)
    rule(live, "behaviour", "Page view", activity_kind="page_view", points=30)
    draft = services.draft_get_or_create(user=alice)
    draft.mql_threshold = 25
    draft.save()
    draft.rules.filter(name="Page view").update(points=20)
    rule(draft, "fit", "CTO", field="title", operator="equals", value="cto", points=40)
    return live, draft


def test_impact_counts_new_mqls_and_threshold_crossings(live_and_draft):
    live, draft = live_and_draft
    one_view = LeadFactory(title="Engineer")
    ActivityFactory(lead=one_view, kind="page_view", occurred_at=NOW - dt.timedelta(days=1))
    two_views = LeadFactory(title="Engineer")
    for _ in range(2):
        ActivityFactory(lead=two_views, kind="page_view", occurred_at=NOW - dt.timedelta(days=1))
    cto = LeadFactory(title="CTO")
    already_sql = LeadFactory(title="CTO", stage=Stage.SQL)
    with time_machine.travel(NOW, tick=False):
        for lead in (one_view, two_views, cto, already_sql):
            services.lead_rescore(lead_id=lead.pk, ruleset=services.engine.compile_ruleset(live))
        impact = selectors.draft_impact(draft=draft, live=live, now=NOW)
    # Live (threshold 50, 30/view): two_views at 60 was above and is an MQL now.
    # Draft (threshold 25, 20/view, CTO +40): one_view 20, two_views 40, both CTOs 40.
    assert impact["leads"] == 4
    assert impact["would_become_mql"] == 1  # cto; two_views is already MQL, already_sql past it
    assert impact["newly_above"] == 2  # both CTOs
    assert impact["dropped_below"] == 0
    assert dict(impact["draft_histogram"]) == {20: 1, 40: 3}
    assert dict(impact["live_histogram"]) == {0: 2, 30: 1, 60: 1}


def test_backtest_counts_first_crossings_per_month_and_their_sql_share(live_and_draft):
    live, draft = live_and_draft
    with time_machine.travel(NOW - dt.timedelta(days=90), tick=False):
        early = LeadFactory(title="Engineer")
    for days in (80, 79):
        ActivityFactory(lead=early, kind="page_view", occurred_at=NOW - dt.timedelta(days=days))
    lead_transition(lead=early, to_stage=Stage.MQL, at=NOW - dt.timedelta(days=78))
    lead_transition(lead=early, to_stage=Stage.SAL, at=NOW - dt.timedelta(days=77))
    lead_transition(lead=early, to_stage=Stage.SQL, at=NOW - dt.timedelta(days=70))
    with time_machine.travel(NOW - dt.timedelta(days=20), tick=False):
        late = LeadFactory(title="CTO")
    rows = selectors.backtest(version=draft, months=4, now=NOW)
    by_month = {r["month"]: r for r in rows}
    assert list(by_month) == ["2026-03", "2026-04", "2026-05", "2026-06"]
    march = (NOW - dt.timedelta(days=80)).strftime("%Y-%m")
    may = (NOW - dt.timedelta(days=20)).strftime("%Y-%m")
    assert by_month[march]["mqls"] == 1 and by_month[march]["sql_rate"] == 1.0
    assert by_month[may]["mqls"] == 1 and by_month[may]["reached_sql"] == 0
    actual = {r["month"]: r for r in selectors.actual_mqls_by_month(months=4, now=NOW)}
    assert actual[march]["mqls"] == 1 and actual[march]["reached_sql"] == 1
    assert by_month["2026-04"]["mqls"] == 0 and by_month["2026-04"]["sql_rate"] is None
    assert late.pk


def test_diff_lists_settings_added_and_changed_rules(live_and_draft):
    live, draft = live_and_draft
    diff = selectors.version_diff(old=live, new=draft)
    assert [str(s["field"]) for s in diff["settings"]] == ["MQL threshold"]
    assert [r.name for r in diff["added"]] == ["CTO"]
    assert diff["removed"] == []
    [change] = diff["changed"]
    assert change["rule"].name == "Page view"
    assert [(str(c["field"]), c["old"], c["new"]) for c in change["changes"]] == [
        ("points", 30, 20)
    ]


def test_rule_history_says_who_changed_what(live_and_draft, carol):
    _live, draft = live_and_draft
    cto = draft.rules.get(name="CTO")
    cto._history_user = carol
    cto.points = 45
    cto.save()
    [latest, *_rest] = selectors.rule_change_history(version=draft)
    assert latest["user"] == carol and latest["rule"] == "CTO"
    [change] = latest["changes"]
    assert (change["field"], change["old"], change["new"]) == ("points", 40, 45)
    assert (change["old_text"], change["new_text"]) == ("40", "45")
