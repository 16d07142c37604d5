"""Metrics API: /api/v1/metrics/<metric>/ answers each chart's numbers as JSON.

Every metric takes the dashboard's filters as query parameters (from, to, source, industry,
size, team, rep), validated by the same form, and answers what the same selector gives the
page and the CSV export: {"metric", "time_zone", "filters", "data"}. Each operation's
description in the OpenAPI schema is the metric's definition (the selector's docstring).
"""

from __future__ import annotations

import inspect

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import READ_ERRORS, ApiView

from . import selectors
from .forms import MetricFilterForm
from .models import SIZE_BAND_CODES

VIEW = ("reports.view_dashboard",)

FILTER_PARAMETERS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        description="First day (YYYY-MM-DD, reporting time zone); default: the first day of "
        "the month eleven months ago.",
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, inclusive; default: today."),
    OpenApiParameter("source", OpenApiTypes.STR, description="Lead source, exactly."),
    OpenApiParameter("industry", OpenApiTypes.STR, description="Company industry, exactly."),
    OpenApiParameter(
        "size",
        OpenApiTypes.STR,
        enum=list(SIZE_BAND_CODES),
        description="Company size band (employees).",
    ),
    # Ids start at 1; the form refuses 0 and below, so the schema says so.
    OpenApiParameter(
        "team", {"type": "integer", "minimum": 1}, description="The hand-off's team id."
    ),
    OpenApiParameter(
        "rep", {"type": "integer", "minimum": 1}, description="The hand-off's rep (user id)."
    ),
]


def _s(name: str, fields: dict[str, serializers.Field]) -> type[serializers.Serializer]:
    return type(
        name, (serializers.Serializer,), {**fields, "Meta": type("Meta", (), {"ref_name": name})}
    )


def _rate(**kw) -> serializers.FloatField:
    return serializers.FloatField(
        allow_null=True, help_text="A fraction from 0 to 1; null with nothing to divide.", **kw
    )


def _count() -> serializers.IntegerField:
    return serializers.IntegerField()


def _month() -> serializers.CharField:
    return serializers.CharField(help_text="YYYY-MM")


Step = _s("MetricStep", {"due": _count(), "met": _count(), "rate": _rate()})
StepFields = {"accept": Step(), "first_contact": Step(), "qualify": Step()}
VolumePeriod = _s(
    "MetricVolumePeriod",
    {
        "period": serializers.CharField(help_text="YYYY-MM, or the Monday of a week (YYYY-MM-DD)."),
        "total": _count(),
        "by_source": serializers.DictField(child=serializers.IntegerField()),
        "target": serializers.IntegerField(allow_null=True),
    },
)
Volume = _s(
    "MetricMqlVolume",
    {
        "grain": serializers.ChoiceField(choices=["month", "week"]),
        "sources": serializers.ListField(child=serializers.CharField()),
        "periods": VolumePeriod(many=True),
    },
)
Latency = _s(
    "MetricLatency",
    {
        "step": serializers.ChoiceField(choices=["accept", "first_contact"]),
        "months": _s(
            "MetricLatencyMonth",
            {
                "month": _month(),
                "n": _count(),
                "not_recorded": serializers.IntegerField(
                    allow_null=True,
                    help_text="Acceptance: MQLs accepted at a time nobody recorded (imported "
                    "history that reached SQL with no SAL), left out of the latency. Null for "
                    "first contact.",
                ),
                "median_business_h": serializers.FloatField(allow_null=True),
                "p90_business_h": serializers.FloatField(allow_null=True),
                "median_clock_h": serializers.FloatField(allow_null=True),
                "p90_clock_h": serializers.FloatField(allow_null=True),
            },
        )(many=True),
    },
)
LatencyDistribution = _s(
    "MetricLatencyDistribution",
    {
        "buckets": serializers.ListField(child=serializers.CharField()),
        **{
            key: serializers.ListField(child=serializers.IntegerField())
            for key in (
                "accept_business",
                "accept_clock",
                "first_contact_business",
                "first_contact_clock",
            )
        },
    },
)
Compliance = _s(
    "MetricSlaCompliance",
    {
        "months": _s(
            "MetricSlaComplianceMonth",
            {
                "month": _month(),
                **StepFields,
                "sla_in_force": serializers.BooleanField(
                    help_text="False: the month ended before the first SLA took effect; "
                    "nothing is judged (no SLA in force), not 0% on time."
                ),
                "mqls_without_sla": serializers.IntegerField(
                    help_text="MQLs from before the first SLA took effect: no deadlines."
                ),
            },
        )(many=True)
    },
)
ComplianceByRep = _s(
    "MetricSlaComplianceByRep",
    {
        "reps": _s(
            "MetricSlaComplianceRep",
            {
                "rep_id": serializers.IntegerField(allow_null=True),
                "rep": serializers.CharField(help_text="Empty for hand-offs without a rep."),
                "mqls": _count(),
                **StepFields,
            },
        )(many=True)
    },
)


def _status() -> serializers.CharField:
    # One string, not an enum: two enum fields with the same values upset the schema's naming.
    return serializers.CharField(
        help_text="met; missed (the month is over); open (the month still runs); no data; "
        "no sla (no SLA in force: the month ended before the first SLA took effect)."
    )


Targets = _s(
    "MetricMarketingTargets",
    {
        "months": _s(
            "MetricMarketingTargetsMonth",
            {
                "month": _month(),
                "sla_version": serializers.IntegerField(allow_null=True),
                "mqls": serializers.IntegerField(help_text="MQLs judged by an SLA."),
                "mqls_without_sla": serializers.IntegerField(
                    help_text="MQLs from before the first SLA took effect: left out."
                ),
                "min_mqls": serializers.IntegerField(allow_null=True),
                "mqls_status": _status(),
                "acceptance_rate": _rate(),
                "min_acceptance_rate": _rate(),
                "acceptance_status": _status(),
            },
        )(many=True)
    },
)
Conversion = _s(
    "MetricConversion",
    {
        "maturity_days": _count(),
        "months": _s(
            "MetricConversionMonth",
            {
                "month": _month(),
                "mqls": _count(),
                "accepted": _count(),
                "rejected": _count(),
                "acceptance_not_recorded": serializers.IntegerField(
                    help_text="Imported history that reached SQL with no SAL recorded: out of "
                    "the acceptance rate, in the conversion."
                ),
                "undecided": _count(),
                "acceptance_rate": _rate(),
                "reached_sql": _count(),
                "sql_rate": _rate(),
                "maturing": serializers.BooleanField(),
            },
        )(many=True),
    },
)
Funnel = _s(
    "MetricFunnel",
    {
        "steps": _s(
            "MetricFunnelStep",
            {
                "stage": serializers.ChoiceField(choices=["lead", "mql", "sal", "sql"]),
                "count": serializers.IntegerField(
                    allow_null=True, help_text="New leads: null with a team or rep filter."
                ),
                "rate_from_previous": _rate(),
                "not_recorded": serializers.IntegerField(
                    required=False,
                    help_text="SAL only: MQLs that reached SQL with no SAL recorded (imported "
                    "history); SQL's rate is relative to SAL plus these.",
                ),
            },
        )(many=True)
    },
)
Rejections = _s(
    "MetricRejectionReasons",
    {
        "reasons": _s(
            "MetricRejectionReason",
            {"code": serializers.CharField(), "label": serializers.CharField()},
        )(many=True),
        "months": _s(
            "MetricRejectionMonth",
            {
                "month": _month(),
                "rejected": _count(),
                "by_reason": serializers.DictField(child=serializers.IntegerField()),
            },
        )(many=True),
    },
)
Calibration = _s(
    "MetricScoreCalibration",
    {
        "maturing": _count(),
        "bands": _s(
            "MetricScoreBand",
            {
                "band": serializers.CharField(),
                "mqls": _count(),
                "accepted": _count(),
                "rejected": _count(),
                "reached_sql": _count(),
                "sql_rate": _rate(),
                "acceptance_rate": _rate(),
            },
        )(many=True),
    },
)

OUTPUTS: dict[str, type[serializers.Serializer]] = {
    "mql-volume": Volume,
    "mql-volume-weekly": Volume,
    "latency-accept": Latency,
    "latency-first-contact": Latency,
    "latency-distribution": LatencyDistribution,
    "sla-compliance": Compliance,
    "sla-compliance-by-rep": ComplianceByRep,
    "marketing-targets": Targets,
    "conversion": Conversion,
    "funnel": Funnel,
    "rejection-reasons": Rejections,
    "score-calibration": Calibration,
}
DEFINITIONS = {
    "mql-volume": selectors.mql_volume,
    "mql-volume-weekly": selectors.mql_volume,
    "latency-accept": selectors.latency_by_month,
    "latency-first-contact": selectors.latency_by_month,
    "latency-distribution": selectors.latency_distribution,
    "sla-compliance": selectors.sla_compliance_by_month,
    "sla-compliance-by-rep": selectors.sla_compliance_by_rep,
    "marketing-targets": selectors.marketing_targets,
    "conversion": selectors.conversion_by_cohort,
    "funnel": selectors.funnel,
    "rejection-reasons": selectors.rejection_reasons,
    "score-calibration": selectors.score_calibration,
}
FiltersOutput = _s(
    "MetricFilters",
    {
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "source": serializers.CharField(),
        "industry": serializers.CharField(),
        "size": serializers.CharField(),
        "team": serializers.IntegerField(allow_null=True),
        "rep": serializers.IntegerField(allow_null=True),
    },
)


def filters_output(f: selectors.Filters) -> dict:
    return {
        "from": f.start.isoformat(),
        "to": f.end.isoformat(),
        "source": f.source,
        "industry": f.industry,
        "size": f.size,
        "team": f.team,
        "rep": f.rep,
    }


class MetricApi(ApiView):
    required_perms = {"GET": VIEW}
    metric = ""

    def get(self, request: Request) -> Response:
        form = MetricFilterForm(request.query_params)
        if not form.is_valid():
            raise ValidationError({k: [str(m) for m in v] for k, v in form.errors.items()})
        filters = form.filters()
        return Response(
            {
                "metric": self.metric,
                "time_zone": selectors.report_time_zone().key,
                "filters": filters_output(filters),
                "data": selectors.metric(self.metric, filters),
            }
        )


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _view(name: str) -> type[MetricApi]:
    camel = _camel(name)
    envelope = _s(
        f"Metric{camel}Response",
        {
            "metric": serializers.CharField(),
            "time_zone": serializers.CharField(
                help_text="The reporting time zone of months and days."
            ),
            "filters": FiltersOutput(),
            "data": OUTPUTS[name](),
        },
    )
    definition = inspect.getdoc(DEFINITIONS[name]) or ""
    if name == "mql-volume-weekly":
        definition = "Weekly variant (weeks start on Monday).\n\n" + definition
    elif name.startswith("latency-") and name != "latency-distribution":
        step = "acceptance" if name == "latency-accept" else "first contact"
        definition = f"The step from MQL to {step}.\n\n" + definition

    @extend_schema(
        operation_id=f"metrics_{name.replace('-', '_')}",
        tags=["metrics"],
        parameters=FILTER_PARAMETERS,
        responses={200: envelope, **READ_ERRORS},
        description=definition,
    )
    def get(self, request: Request) -> Response:
        return MetricApi.get(self, request)

    return type(f"{camel}Api", (MetricApi,), {"get": get, "metric": name})


urlpatterns = [
    path(f"metrics/{name}/", _view(name).as_view(), name=f"api-metric-{name}")
    for name in selectors.METRICS
]
