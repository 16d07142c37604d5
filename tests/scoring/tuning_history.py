"""A synthetic history with planted signals for the tuning assistant, written in bulk.

The live model (`planted_model`) has six rules. The planted truth:
- directors and large companies convert more, pricing-page visitors convert more;
- careers-page visitors never convert (and the live model gives them +5 points);
- the webinar rule gives 40 points but has no bearing on conversion (far too high);
- sales rejects students (title Student / 学生, an .ac.jp or .edu address) with "student".
With `noise=True` every lead converts with the same probability, whatever it is or did.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

from leads.models import Activity, Company, Lead, Stage, StageEvent

from .helpers import make_version, rule

NOW = dt.datetime(2026, 7, 10, 12, 0, tzinfo=dt.UTC)


def planted_model(number: int = 1):
    v = make_version(number=number, threshold=40)
    rule(v, "fit", "Director", field="title", operator="contains", value="director", points=20)
    rule(v, "fit", "Large company", field="company.employees", operator="gte", value=500, points=15)
    rule(
        v,
        "behaviour",
        "Pricing page",
        activity_kind="page_view",
        property_conditions=[{"property": "url", "operator": "contains", "value": "/pricing"}],
        points=20,
    )
    rule(
        v,
        "behaviour",
        "Careers page",
        activity_kind="page_view",
        property_conditions=[{"property": "url", "operator": "contains", "value": "/careers"}],
        points=5,
    )
    rule(v, "behaviour", "Webinar", activity_kind="webinar_attendance", points=40)
    rule(v, "fit", "Fax number", field="custom.fax", operator="not_empty", points=5)
    return v


def plant_history(
    *,
    leads: int = 3000,
    seed: int = 1,
    noise: bool = False,
    now: dt.datetime = NOW,
    other_activities: int = 0,
) -> None:
    """`other_activities`: that many more page views and e-mail opens per lead, which no rule
    of the planted model looks for (volume, for timing)."""
    rng = random.Random(seed)
    big = Company.objects.create(name="Big Corp", domain="big.example", employees=2000)
    small = Company.objects.create(name="Small Ltd", domain="small.example", employees=20)
    people: list[dict[str, Any]] = []
    for i in range(leads):
        draw = rng.random()
        student = draw < 0.08
        if student:
            title = rng.choice(["Student", "学生", "Graduate student"])
            email = f"s{i}@{rng.choice(['u-tokyo.ac.jp', 'keio.ac.jp', 'mit.edu', 'ucla.edu'])}"
        else:
            title = rng.choice(["Director of IT", "Engineer", "Manager", "Marketing Director"])
            email = f"p{i}@{rng.choice(['big.example', 'small.example', 'gmail.com'])}"
        mql_at = now - dt.timedelta(days=rng.uniform(40, 155))
        careers = student and rng.random() < 0.7 or rng.random() < 0.1
        person = {
            "lead": Lead(
                email=email,
                title=title,
                company=big if rng.random() < 0.4 else small,
                created_at=mql_at - dt.timedelta(days=30),
            ),
            "student": student,
            "mql_at": mql_at,
            "pricing": rng.random() < 0.4,
            "careers": careers,
            "webinar": rng.random() < 0.5,
        }
        people.append(person)
    Lead.objects.bulk_create([p["lead"] for p in people], batch_size=2000)
    activities, events = [], []
    for p in people:
        lead, at = p["lead"], p["mql_at"]
        for key, kind, url in (
            ("pricing", "page_view", "https://x.example/pricing"),
            ("careers", "page_view", "https://x.example/careers/jobs"),
            ("webinar", "webinar_attendance", ""),
        ):
            if p[key]:
                activities.append(
                    Activity(
                        lead=lead,
                        kind=kind,
                        occurred_at=at - dt.timedelta(days=rng.uniform(0.1, 20)),
                        properties={"url": url} if url else {},
                    )
                )
        for _j in range(other_activities):
            activities.append(
                Activity(
                    lead=lead,
                    kind=rng.choice(["page_view", "email_open"]),
                    occurred_at=at - dt.timedelta(days=rng.uniform(0.1, 60)),
                    properties={"url": f"https://x.example/blog/{rng.randrange(50)}"},
                )
            )
        events.append(StageEvent(lead=lead, from_stage=Stage.LEAD, to_stage=Stage.MQL, at=at))
        if noise:
            rejected = rng.random() < 0.1
            reason = rng.choice(["student", "not_a_fit"])
        else:
            rejected = p["student"] and rng.random() < 0.9
            reason = "student"
        if rejected:
            events.append(
                StageEvent(
                    lead=lead,
                    from_stage=Stage.MQL,
                    to_stage=Stage.REJECTED,
                    at=at + dt.timedelta(hours=2),
                    reason=reason,
                )
            )
            lead.stage = Stage.REJECTED
            continue
        if not noise and rng.random() < 0.06:
            events.append(
                StageEvent(
                    lead=lead,
                    from_stage=Stage.MQL,
                    to_stage=Stage.REJECTED,
                    at=at + dt.timedelta(hours=3),
                    reason="not_a_fit",
                )
            )
            lead.stage = Stage.REJECTED
            continue
        if noise:
            chance = 0.2
        elif p["careers"]:
            chance = 0.0
        else:
            logit = -2.4
            logit += 1.2 if "director" in lead.title.lower() else 0
            logit += 0.9 if lead.company is not None and lead.company.employees >= 500 else 0
            logit += 1.3 if p["pricing"] else 0
            chance = 1 / (1 + math.exp(-logit))
        events.append(
            StageEvent(
                lead=lead, from_stage=Stage.MQL, to_stage=Stage.SAL, at=at + dt.timedelta(hours=4)
            )
        )
        lead.stage = Stage.SAL
        if rng.random() < chance:
            events.append(
                StageEvent(
                    lead=lead,
                    from_stage=Stage.SAL,
                    to_stage=Stage.SQL,
                    at=at + dt.timedelta(days=rng.uniform(2, 30)),
                )
            )
            lead.stage = Stage.SQL
    Activity.objects.bulk_create(activities, batch_size=5000)
    StageEvent.objects.bulk_create(events, batch_size=5000)
    Lead.objects.bulk_update([p["lead"] for p in people], ["stage"], batch_size=2000)
