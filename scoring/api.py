"""Scoring API: versions, the draft and its rules, preview, approval, publishing, progress,
and a lead's score with its explanation."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import READ_ERRORS, WRITE_ERRORS, ApiView
from core.validation import RejectUnknownFields, storable_json
from leads import selectors as lead_selectors
from leads.models import StageEvent

from . import selectors, services, tuning
from .engine import PROPERTY_OPERATORS
from .forms import TUNING_MAX_DAYS
from .models import RescoreRun, Rule, RuleSetVersion

VIEW = ("scoring.view_rulesetversion",)
EDIT = ("scoring.view_rulesetversion", "scoring.edit_draft")


class RuleOutput(serializers.ModelSerializer):
    class Meta:
        model = Rule
        fields = ["id", *Rule.EDITABLE_FIELDS]
        ref_name = "Rule"


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "property": {"type": "string"},
                "operator": {"type": "string", "enum": sorted(PROPERTY_OPERATORS)},
                "value": {},
            },
            "required": ["property", "operator"],
            "additionalProperties": False,
        },
    }
)
class PropertyConditionsField(serializers.JSONField):
    """A list of {property, operator, value}; the engine's validate_rule checks each one."""


class RuleInput(RejectUnknownFields, serializers.ModelSerializer):
    value = serializers.JSONField(required=False, allow_null=True, validators=[storable_json])
    property_conditions = PropertyConditionsField(required=False, validators=[storable_json])

    class Meta:
        model = Rule
        fields = [f for f in RuleOutput.Meta.fields if f != "id"]
        ref_name = "RuleInput"


class VersionOutput(serializers.ModelSerializer):
    rules = RuleOutput(many=True, read_only=True)
    approvals = serializers.SerializerMethodField()
    missing_approvals = serializers.SerializerMethodField()

    class Meta:
        model = RuleSetVersion
        fields = [
            "number",
            "status",
            "name",
            *RuleSetVersion.SETTINGS_FIELDS,
            "created_at",
            "published_at",
            "rules",
            "approvals",
            "missing_approvals",
        ]
        ref_name = "RuleSetVersion"

    def get_approvals(self, obj) -> list[dict[str, str]]:
        return [
            {"side": a.side, "user": a.user.get_username(), "at": a.at.isoformat()}
            for a in obj.approvals.select_related("user")
        ]

    def get_missing_approvals(self, obj) -> list[str]:
        return services.missing_approvals(obj) if obj.is_draft else []


class DraftSettingsInput(RejectUnknownFields, serializers.ModelSerializer):
    class Meta:
        model = RuleSetVersion
        fields = ["name", *RuleSetVersion.SETTINGS_FIELDS]
        extra_kwargs = {"decay_half_life_days": {"min_value": 0.1}}
        ref_name = "DraftSettingsInput"


class RunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.FloatField()
    seconds_left = serializers.FloatField(allow_null=True)
    changed = serializers.IntegerField()
    new_mqls = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "RescoreProgress"


def _draft_or_404() -> RuleSetVersion:
    draft = RuleSetVersion.objects.filter(status=RuleSetVersion.Status.DRAFT).first()
    if draft is None:
        raise NotFound(_("There is no open draft."))
    return draft


class VersionListApi(ApiView):
    required_perms = {"GET": VIEW}

    @extend_schema(tags=["scoring"], responses={200: VersionOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        versions = RuleSetVersion.objects.prefetch_related("rules").order_by("-number")
        return Response(VersionOutput(versions, many=True).data)


class VersionDetailApi(ApiView):
    required_perms = {"GET": VIEW}

    @extend_schema(tags=["scoring"], responses={200: VersionOutput, 404: None, **READ_ERRORS})
    def get(self, request: Request, number: int) -> Response:
        return Response(VersionOutput(get_object_or_404(RuleSetVersion, number=number)).data)


class DraftApi(ApiView):
    required_perms = {"GET": VIEW, "POST": EDIT, "PATCH": EDIT}

    @extend_schema(tags=["scoring"], responses={200: VersionOutput, 404: None, **READ_ERRORS})
    def get(self, request: Request) -> Response:
        return Response(VersionOutput(_draft_or_404()).data)

    @extend_schema(
        tags=["scoring"],
        request=None,
        responses={200: VersionOutput, 201: VersionOutput, **WRITE_ERRORS},
        description="Open the draft (a copy of the live version); answers the open one if any.",
    )
    def post(self, request: Request) -> Response:
        existed = RuleSetVersion.objects.filter(status=RuleSetVersion.Status.DRAFT).exists()
        draft = services.draft_get_or_create(user=request.user)
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(VersionOutput(draft).data, status=code)

    @extend_schema(
        tags=["scoring"], request=DraftSettingsInput, responses={200: VersionOutput, **WRITE_ERRORS}
    )
    def patch(self, request: Request) -> Response:
        draft = _draft_or_404()
        serializer = DraftSettingsInput(draft, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.draft_settings_update(
            version=draft, data=serializer.validated_data, user=request.user
        )
        return Response(VersionOutput(draft).data)


class DraftRulesApi(ApiView):
    required_perms = {"POST": EDIT}

    @extend_schema(tags=["scoring"], request=RuleInput, responses={201: RuleOutput, **WRITE_ERRORS})
    def post(self, request: Request) -> Response:
        draft = _draft_or_404()
        serializer = RuleInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = services.rule_create(
            version=draft, data=serializer.validated_data, user=request.user
        )
        return Response(RuleOutput(rule).data, status=status.HTTP_201_CREATED)


class DraftRuleApi(ApiView):
    required_perms = {"PATCH": EDIT, "DELETE": EDIT}

    def _rule(self, rule_id: int) -> Rule:
        return get_object_or_404(Rule, pk=rule_id, version=_draft_or_404())

    @extend_schema(
        tags=["scoring"], request=RuleInput, responses={200: RuleOutput, 404: None, **WRITE_ERRORS}
    )
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = self._rule(rule_id)
        serializer = RuleInput(rule, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.rule_update(rule=rule, data=serializer.validated_data, user=request.user)
        return Response(RuleOutput(rule).data)

    @extend_schema(tags=["scoring"], responses={204: None, 404: None, **WRITE_ERRORS})
    def delete(self, request: Request, rule_id: int) -> Response:
        services.rule_delete(rule=self._rule(rule_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DraftPreviewApi(ApiView):
    required_perms = {"GET": VIEW}

    @extend_schema(
        tags=["scoring"],
        responses={
            200: inline_serializer(
                "DraftPreview",
                {
                    "leads": serializers.IntegerField(),
                    "would_become_mql": serializers.IntegerField(),
                    "newly_above": serializers.IntegerField(),
                    "dropped_below": serializers.IntegerField(),
                    "threshold": serializers.FloatField(),
                    "live_threshold": serializers.FloatField(allow_null=True),
                    "draft_histogram": serializers.ListField(child=serializers.ListField()),
                    "live_histogram": serializers.ListField(child=serializers.ListField()),
                    "backtest": serializers.DictField(),
                },
            ),
            **READ_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        draft = _draft_or_404()
        live = services.ruleset_live()
        impact = selectors.draft_impact(draft=draft, live=live)
        impact.pop("as_of")
        impact["backtest"] = {
            "draft": selectors.backtest(version=draft),
            "live": selectors.backtest(version=live) if live else [],
            "actual": selectors.actual_mqls_by_month(),
        }
        return Response(impact)


class DraftApproveApi(ApiView):
    required_perms = {"POST": VIEW}

    @extend_schema(tags=["scoring"], request=None, responses={200: VersionOutput, **WRITE_ERRORS})
    def post(self, request: Request) -> Response:
        draft = _draft_or_404()
        services.ruleset_approve(version=draft, user=request.user)
        return Response(VersionOutput(draft).data)


class DraftPublishApi(ApiView):
    required_perms = {"POST": VIEW}

    @extend_schema(tags=["scoring"], request=None, responses={202: RunOutput, **WRITE_ERRORS})
    def post(self, request: Request) -> Response:
        draft = _draft_or_404()
        run = services.ruleset_publish(version=draft, user=request.user)
        run = RescoreRun.objects.select_related("version").get(pk=run.pk)
        return Response(selectors.run_progress(run), status=status.HTTP_202_ACCEPTED)


class RunApi(ApiView):
    required_perms = {"GET": VIEW}

    @extend_schema(tags=["scoring"], responses={200: RunOutput, 404: None, **READ_ERRORS})
    def get(self, request: Request, run_id: int) -> Response:
        run = get_object_or_404(RescoreRun.objects.select_related("version"), pk=run_id)
        return Response(selectors.run_progress(run))


class LeadScoreApi(ApiView):
    required_perms = {"GET": ("leads.view_lead",)}

    @extend_schema(
        tags=["leads"],
        responses={
            200: inline_serializer(
                "LeadScore",
                {
                    "fit": serializers.IntegerField(),
                    "engagement": serializers.FloatField(),
                    "total": serializers.FloatField(),
                    "excluded_reason": serializers.CharField(),
                    "fast_tracked": serializers.BooleanField(),
                    "ruleset_version": serializers.IntegerField(allow_null=True),
                    "explanation": serializers.ListField(child=serializers.DictField()),
                    "mql_explanations": serializers.ListField(child=serializers.DictField()),
                },
            ),
            404: None,
            **READ_ERRORS,
        },
        description="The lead's score now, which rules gave or took its points (with the "
        "activities behind behaviour points), and the explanation frozen when it became MQL.",
    )
    def get(self, request: Request, lead_id: int) -> Response:
        lead = lead_selectors.lead_get_for_user(user=request.user, lead_id=lead_id)
        if lead is None:
            raise NotFound()
        return Response(lead_score_payload(lead))


def lead_score_payload(lead: Any) -> dict[str, Any]:
    ruleset = services.compiled_live()
    result = services.lead_explain(lead=lead, ruleset=ruleset) if ruleset else None
    frozen = [
        {"at": e.at.isoformat(), "ruleset_version": e.ruleset_version, **(e.context or {})}
        for e in StageEvent.objects.filter(lead=lead, to_stage="mql").order_by("at")
    ]
    return {
        "fit": lead.fit_score,
        "engagement": lead.engagement_score,
        "total": lead.total_score,
        "excluded_reason": lead.excluded_reason,
        "fast_tracked": lead.fast_tracked,
        "ruleset_version": ruleset.version if ruleset else None,
        "explanation": result.explanation if result else [],
        "mql_explanations": frozen,
    }


class TuningPeriodInput(RejectUnknownFields, serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    class Meta:
        ref_name = "TuningPeriodInput"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if bool(start) != bool(end):
            raise serializers.ValidationError(
                {"start" if not start else "end": _("Give both days, or neither.")}
            )
        if start and end:
            if start > end:
                raise serializers.ValidationError(
                    {"end": _("The end must not be before the start.")}
                )
            if (end - start).days > TUNING_MAX_DAYS:
                raise serializers.ValidationError({"start": _("Choose at most three years.")})
        return attrs


def tuning_period_from(request: Request) -> tuning.Period:
    serializer = TuningPeriodInput(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    if data.get("start"):
        return tuning.period_from_dates(data["start"], data["end"])
    return tuning.default_period()


def _live_or_404() -> RuleSetVersion:
    live = services.ruleset_live()
    if live is None:
        raise NotFound(_("Nothing is live yet."))
    return live


class RuleEvidenceOutput(serializers.Serializer):
    rule_id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    points = serializers.IntegerField()
    fired = serializers.IntegerField()
    fire_rate = serializers.FloatField(allow_null=True)
    fired_sqls = serializers.IntegerField()
    fired_sql_rate = serializers.FloatField(allow_null=True)
    fired_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    not_fired = serializers.IntegerField()
    not_fired_sqls = serializers.IntegerField()
    not_fired_sql_rate = serializers.FloatField(allow_null=True)
    not_fired_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    rejected_fired = serializers.IntegerField()
    rejected_share = serializers.FloatField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())

    class Meta:
        ref_name = "RuleEvidence"


class EvidenceOutput(serializers.Serializer):
    version = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    mqls = serializers.IntegerField()
    sqls = serializers.IntegerField()
    sql_rate = serializers.FloatField(allow_null=True)
    rejected = serializers.IntegerField()
    rules = RuleEvidenceOutput(many=True)

    class Meta:
        ref_name = "TuningEvidence"


class TuningEvidenceApi(ApiView):
    required_perms = {"GET": VIEW}

    @extend_schema(
        tags=["scoring"],
        parameters=[TuningPeriodInput],
        responses={200: EvidenceOutput, 404: None, **READ_ERRORS},
        description="Per rule of the live version, over the MQLs of a period (default: the "
        "last six calendar months): how often it fired, the SQL rate where it fired and where "
        "it did not (95% Wilson intervals), the share of rejected MQLs it fired for, and flags "
        "(never_fires, nearly_everyone, sign_disagrees).",
    )
    def get(self, request: Request) -> Response:
        period = tuning_period_from(request)
        live = _live_or_404()
        return Response(EvidenceOutput(tuning.evidence(version=live, period=period)).data)


class TuningSuggestionsInput(TuningPeriodInput):
    commitment = serializers.IntegerField(required=False, min_value=1, max_value=10_000_000)

    class Meta:
        ref_name = "TuningSuggestionsInput"


class TuningSuggestionsApi(ApiView):
    required_perms = {"GET": VIEW}

    @extend_schema(
        tags=["scoring"],
        parameters=[TuningSuggestionsInput],
        responses={
            200: inline_serializer(
                "TuningSuggestions",
                {
                    "commitment": serializers.IntegerField(allow_null=True),
                    "mature_sqls": serializers.IntegerField(),
                    "maturing_months": serializers.ListField(child=serializers.CharField()),
                    "too_few": serializers.BooleanField(),
                    "items": serializers.ListField(child=serializers.DictField()),
                },
            ),
            404: None,
            **READ_ERRORS,
        },
        description="The changes the period's outcomes suggest (points per rule, the threshold "
        "that keeps the monthly MQL commitment, exclusions and negative rules from rejections), "
        "numbered best first, each with its evidence and its backtest by month. `too_few` is "
        "true (and `items` empty) when fewer than 30 mature MQLs reached SQL.",
    )
    def get(self, request: Request) -> Response:
        serializer = TuningSuggestionsInput(data=request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        period = (
            tuning.period_from_dates(data["start"], data["end"])
            if data.get("start")
            else tuning.default_period()
        )
        live = _live_or_404()
        found = tuning.suggestions(version=live, period=period, commitment=data.get("commitment"))
        return Response(_jsonable(found))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "flag_labels"}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


urlpatterns = [
    path("scoring/versions/", VersionListApi.as_view(), name="api-scoring-versions"),
    path("scoring/versions/<int:number>/", VersionDetailApi.as_view(), name="api-scoring-version"),
    path("scoring/draft/", DraftApi.as_view(), name="api-scoring-draft"),
    path("scoring/draft/rules/", DraftRulesApi.as_view(), name="api-scoring-draft-rules"),
    path(
        "scoring/draft/rules/<int:rule_id>/", DraftRuleApi.as_view(), name="api-scoring-draft-rule"
    ),
    path("scoring/draft/preview/", DraftPreviewApi.as_view(), name="api-scoring-preview"),
    path("scoring/draft/approve/", DraftApproveApi.as_view(), name="api-scoring-approve"),
    path("scoring/draft/publish/", DraftPublishApi.as_view(), name="api-scoring-publish"),
    path("scoring/runs/<int:run_id>/", RunApi.as_view(), name="api-scoring-run"),
    path("scoring/tuning/evidence/", TuningEvidenceApi.as_view(), name="api-scoring-evidence"),
    path(
        "scoring/tuning/suggestions/",
        TuningSuggestionsApi.as_view(),
        name="api-scoring-suggestions",
    ),
    path("leads/<int:lead_id>/score/", LeadScoreApi.as_view(), name="api-lead-score"),
]
