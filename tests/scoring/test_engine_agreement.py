"""The single-lead path (Python) and the bulk path (SQL) must agree on every lead."""

import datetime as dt

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads.models import Activity, Company, Lead
from scoring import engine
from scoring.models import Rule, RuleSetVersion

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

words = st.sampled_from(["alpha", "Beta", "gamma", "CTO", "Head of IT", "student", ""])
emails_domains = st.sampled_from(["gmail.com", "acme.example", "rival.example", "yahoo.co.jp"])
custom_values = st.one_of(
    st.none(),
    st.integers(-5, 50),
    st.booleans(),
    st.sampled_from(["select", "Yes", "no", "web", "", "Google"]),
)
urls = st.sampled_from(["/pricing", "/pricing/enterprise", "/careers", "/blog/a", "/", None])
kinds = st.sampled_from(["page_view", "content_download", "demo_request", "email_open"])

text_fields = st.sampled_from(
    [
        "title",
        "seniority",
        "country",
        "source",
        "company.industry",
        "company.listed",
        "custom.segment",
        "custom.visits",
        "custom.flag",
    ]
)
number_fields = st.sampled_from(["company.employees", "company.annual_revenue", "custom.visits"])


@st.composite
def conditions(draw):
    choice = draw(st.integers(0, 4))
    if choice == 0:
        op = draw(st.sampled_from(["equals", "not_equals", "contains", "starts_with", "ends_with"]))
        value = draw(st.sampled_from(["alpha", "beta", "cto", "head", "it", "true", "5", "web"]))
        return draw(text_fields), op, value
    if choice == 1:
        return (
            draw(text_fields),
            "in",
            draw(
                st.lists(
                    st.sampled_from(["alpha", "cto", "false", "10", "yes", "google"]),
                    min_size=1,
                    max_size=3,
                )
            ),
        )
    if choice == 2:
        op = draw(st.sampled_from(["gt", "gte", "lt", "lte"]))
        return draw(number_fields), op, draw(st.integers(-10, 1000))
    if choice == 3:
        lo = draw(st.integers(-10, 500))
        return draw(number_fields), "between", [lo, lo + draw(st.integers(0, 600))]
    op = draw(st.sampled_from(["is_empty", "not_empty", "email_domain_in", "free_mail"]))
    if op == "email_domain_in":
        return (
            "email",
            op,
            draw(st.lists(st.sampled_from(["acme.example", "rival.example"]), min_size=1)),
        )
    field = "email" if op == "free_mail" else draw(st.one_of(text_fields, number_fields))
    return field, op, None


@st.composite
def prop_conditions(draw):
    return draw(
        st.lists(
            st.sampled_from(
                [
                    {"property": "url", "operator": "contains", "value": "/pricing"},
                    {"property": "url", "operator": "starts_with", "value": "/blog"},
                    {"property": "url", "operator": "equals", "value": "/"},
                    {"property": "url", "operator": "is_empty"},
                    {"property": "url", "operator": "in", "value": ["/careers", "/"]},
                ]
            ),
            max_size=2,
        )
    )


@st.composite
def rulesets(draw):
    rules = []
    for i in range(draw(st.integers(0, 4))):
        field, op, value = draw(conditions())
        rules.append(
            dict(
                kind="fit",
                name=f"fit{i}",
                field=field,
                operator=op,
                value=value,
                points=draw(st.integers(-50, 50)),
            )
        )
    for i in range(draw(st.integers(0, 3))):
        rules.append(
            dict(
                kind="behaviour",
                name=f"beh{i}",
                activity_kind=draw(kinds),
                property_conditions=draw(prop_conditions()),
                points=draw(st.integers(-20, 30)),
                cap=draw(st.one_of(st.none(), st.integers(1, 60))),
                window_days=draw(st.one_of(st.none(), st.integers(0, 90))),
                min_count=draw(st.one_of(st.none(), st.integers(1, 4))),
            )
        )
    for i in range(draw(st.integers(0, 2))):
        field, op, value = draw(conditions())
        rules.append(dict(kind="exclusion", name=f"excl{i}", field=field, operator=op, value=value))
    for i in range(draw(st.integers(0, 1))):
        rules.append(
            dict(
                kind="fast_track",
                name=f"ft{i}",
                activity_kind=draw(kinds),
                property_conditions=draw(prop_conditions()),
                window_days=draw(st.one_of(st.none(), st.integers(1, 30))),
            )
        )
    return dict(
        threshold=draw(st.integers(-20, 80)),
        min_fit=draw(st.one_of(st.none(), st.integers(-10, 40))),
        half_life=draw(st.one_of(st.none(), st.floats(0.5, 90))),
        rules=rules,
    )


@st.composite
def leads(draw):
    return dict(
        email_user=draw(st.sampled_from(["a", "b", "c"])),
        domain=draw(emails_domains),
        title=draw(words),
        seniority=draw(st.sampled_from(["", "c_level", "manager"])),
        country=draw(st.sampled_from(["", "Japan", "India"])),
        source=draw(st.sampled_from(["", "web", "Google"])),
        company=draw(
            st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {
                        "industry": words,
                        "employees": st.one_of(st.none(), st.integers(0, 5000)),
                        "annual_revenue": st.one_of(st.none(), st.integers(0, 10_000)),
                        "listed": st.one_of(st.none(), st.booleans()),
                    }
                ),
            )
        ),
        custom=draw(st.dictionaries(st.sampled_from(["segment", "visits", "flag"]), custom_values)),
        stage=draw(st.sampled_from(["lead", "lead", "recycled", "mql"])),
        recycled_days_ago=draw(st.integers(0, 120)),
        activities=draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "kind": kinds,
                        "url": urls,
                        "minutes_ago": st.integers(-3000, 200 * 1440),
                    }
                ),
                max_size=7,
            )
        ),
    )


def _build(spec, ruleset_spec):
    version = RuleSetVersion.objects.create(
        number=1,
        status="published",
        mql_threshold=ruleset_spec["threshold"],
        min_fit_score=ruleset_spec["min_fit"],
        decay_half_life_days=ruleset_spec["half_life"],
    )
    for position, r in enumerate(ruleset_spec["rules"]):
        rule = Rule(version=version, position=position, **r)
        assert not engine.validate_rule(rule), (r, engine.validate_rule(rule))
        rule.save()
    created = []
    for i, lead_spec in enumerate(spec):
        company = None
        if lead_spec["company"] is not None:
            company = Company.objects.create(name=f"Co {i}", **lead_spec["company"])
        lead = Lead.objects.create(
            email=f"{lead_spec['email_user']}{i}@{lead_spec['domain']}",
            title=lead_spec["title"],
            seniority=lead_spec["seniority"],
            country=lead_spec["country"],
            source=lead_spec["source"],
            company=company,
            custom=lead_spec["custom"],
            stage=lead_spec["stage"],
            stage_changed_at=NOW - dt.timedelta(days=lead_spec["recycled_days_ago"])
            if lead_spec["stage"] != "lead"
            else None,
        )
        Activity.objects.bulk_create(
            Activity(
                lead=lead,
                kind=a["kind"],
                occurred_at=NOW - dt.timedelta(minutes=a["minutes_ago"]),
                properties={} if a["url"] is None else {"url": a["url"]},
            )
            for a in lead_spec["activities"]
        )
        created.append(lead)
    return version, created


@pytest.mark.django_db
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=st.lists(leads(), min_size=1, max_size=4), ruleset_spec=rulesets())
def test_bulk_and_single_lead_paths_agree(spec, ruleset_spec):
    with transaction.atomic():
        version, created = _build(spec, ruleset_spec)
        ruleset = engine.compile_ruleset(version)
        expected = {}
        for lead in Lead.objects.select_related("company").filter(pk__in=[x.pk for x in created]):
            expected[lead.pk] = engine.evaluate(lead, list(lead.activities.all()), ruleset, NOW)
        lo, hi = min(expected), max(expected)
        sql, params = engine.chunk_sql(ruleset, connection, lo, hi, NOW)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            q_sql, q_params = engine.qualifying_sql(ruleset, lo, hi)
            cursor.execute(q_sql, q_params)
            qualifying = {row[0] for row in cursor.fetchall()}
        for lead in Lead.objects.filter(pk__in=expected):
            want = expected[lead.pk]
            got = (lead.fit_score, lead.engagement_score, lead.excluded_reason, lead.fast_tracked)
            assert got[0] == want.fit
            assert got[1] == pytest.approx(want.engagement, abs=2e-4)
            assert lead.total_score == pytest.approx(want.total, abs=2e-4)
            assert got[2] == want.excluded_reason
            assert bool(got[3]) == want.fast_tracked
            assert (lead.pk in qualifying) == want.qualifies, (want, lead.stage)
        transaction.set_rollback(True)
