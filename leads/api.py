"""REST API for leads and activities, mounted at /api/v1/.

Views stay thin: they validate with the input serializers shared with CSV import and webhooks
(`leads.validation`), call a service or a selector, and answer through their own output
serializer. Every error is `{"errors": {"field": ["reason"]}}` (see `core.api`).
"""

from __future__ import annotations

import logging
from typing import Any, cast

import django_filters
from django.db import DatabaseError, IntegrityError
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.api import (
    READ_ERRORS,
    WRITE_ERRORS,
    ApiView,
    BatchItems,
    ErrorsOutput,
    batch_counts,
    batch_error,
    batch_output,
    batch_result,
    validated,
)
from core.validation import MAX_ID, StrictSerializer

from . import selectors, services
from .filters import LeadFilter
from .models import Activity, Company, Lead, StageEvent
from .validation import ActivityInput, LeadInput

logger = logging.getLogger(__name__)

LEAD_WRITE_PERMS = ("leads.add_lead", "leads.change_lead")
LEAD_READ_PERMS = ("leads.view_lead",)
ACTIVITY_WRITE_PERMS = ("leads.add_activity",)


@extend_schema_field(LeadInput(many=True))
class LeadItems(BatchItems):
    max_setting = "API_LEAD_BATCH_MAX"


@extend_schema_field(ActivityInput(many=True))
class ActivityItems(BatchItems):
    max_setting = "API_ACTIVITY_BATCH_MAX"


def filter_parameters(filterset: type[django_filters.FilterSet]) -> list[OpenApiParameter]:
    """A FilterSet's query parameters, for the schema (the view validates with the FilterSet)."""
    types = {
        django_filters.NumberFilter: OpenApiTypes.NUMBER,
        django_filters.DateFilter: OpenApiTypes.DATE,
        django_filters.IsoDateTimeFilter: OpenApiTypes.DATETIME,
    }
    params = []
    for name, spec in filterset.base_filters.items():
        kind = next((t for cls, t in types.items() if isinstance(spec, cls)), OpenApiTypes.STR)
        choices = spec.extra.get("choices")
        params.append(
            OpenApiParameter(
                name,
                kind,
                OpenApiParameter.QUERY,
                description=str(spec.extra.get("help_text") or spec.label or ""),
                enum=[c[0] for c in choices] if isinstance(choices, list | tuple) else None,
            )
        )
    return params


# Output shapes reused by several views --------------------------------------------------


LEAD_FIELDS = [
    "id",
    "email",
    *Lead.PROFILE_FIELDS,
    "company",
    "custom",
    "owner",
    "stage",
    "fit_score",
    "engagement_score",
    "total_score",
    "created_at",
    "updated_at",
]


class CompanyOutput(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = ["name", "domain", *Company.PROFILE_FIELDS]
        read_only_fields = fields
        ref_name = "LeadCompany"


class LeadOutputBase(serializers.ModelSerializer):
    company = CompanyOutput(read_only=True, allow_null=True)
    custom = serializers.DictField(read_only=True)
    owner = serializers.EmailField(
        source="owner.email", read_only=True, allow_null=True, help_text="The owner's e-mail."
    )

    class Meta:
        model = Lead
        fields = LEAD_FIELDS
        read_only_fields = fields


# stage, from_stage and to_stage share one choice set; drf-spectacular would give it a name per
# property and warn, so the history fields point at the component the lead's stage produces.
@extend_schema_field({"$ref": "#/components/schemas/StageEnum"})
class StageField(serializers.CharField):
    pass


class ActivityOutputBase(serializers.ModelSerializer):
    properties = serializers.DictField(read_only=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "occurred_at",
            "properties",
            "source_system",
            "external_id",
            "created_at",
        ]
        read_only_fields = fields


# Leads --------------------------------------------------------------------------------------


class LeadCollectionApi(ApiView):
    """GET lists the leads the caller may see; POST creates or updates one lead by e-mail."""

    required_perms = {"GET": LEAD_READ_PERMS, "POST": LEAD_WRITE_PERMS}
    # api_settings imports the class its setting names; the stubs type it as that string.
    pagination_class = cast(type[BasePagination], api_settings.DEFAULT_PAGINATION_CLASS)

    InputSerializer = LeadInput

    class OutputSerializer(LeadOutputBase):
        class Meta(LeadOutputBase.Meta):
            ref_name = "Lead"

    @extend_schema(
        operation_id="leads_list",
        tags=["leads"],
        summary="List leads",
        description="The leads the caller may see (a sales rep: their own), newest first "
        "unless `ordering` says otherwise. Deleted leads are left out. The filters are the lead "
        "list page's: the page's query string works here unchanged.",
        parameters=filter_parameters(LeadFilter),
        responses={200: OutputSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        filterset = selectors.lead_list(user=request.user, params=request.query_params)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        leads = filterset.qs
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(leads, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="leads_upsert",
        tags=["leads"],
        summary="Create or update a lead",
        description="Finds the lead by e-mail, ignoring case, and creates it if there is none. "
        "Blank or missing values never overwrite known ones; custom attributes are merged. "
        "Unknown fields are refused by name.",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request.data)
        lead, created = services.lead_upsert(data=data)
        return Response(
            self.OutputSerializer(lead).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class LeadBatchApi(ApiView):
    """Upsert many leads; each item succeeds or fails on its own."""

    required_perms = {"POST": LEAD_WRITE_PERMS}
    STATUSES = ("created", "updated", "error")

    class InputSerializer(StrictSerializer):
        """A batch of leads; unknown top-level fields are refused like unknown lead fields."""

        leads = LeadItems(help_text="Up to API_LEAD_BATCH_MAX (default 1,000) leads.")

        class Meta:
            ref_name = "LeadBatchInput"

    OutputSerializer = batch_output(ref="LeadBatch", statuses=STATUSES)

    @extend_schema(
        operation_id="leads_batch_upsert",
        tags=["leads"],
        summary="Create or update many leads",
        description="Each item is validated and written on its own: an item with an error "
        "writes nothing and does not stop the others. Items are processed in order, so an "
        "e-mail that appears twice is created by the first item and updated by the second. "
        "A batch over the limit is refused as a whole (400 naming `leads`).",
        request=InputSerializer,
        responses={200: OutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        items = validated(self.InputSerializer, request.data)["leads"]
        # One bound serializer for every item: a new instance per item deep-copies its fields.
        item_input = LeadInput()
        results = []
        # One rescore task per few hundred leads after the batch, not one per lead.
        with services.lead_changes_batched():
            results = self._upsert_each(items, item_input)
        # Built as plain data: 1,000 result rows through DRF fields cost more than it is worth.
        return Response({"results": results, "counts": batch_counts(results, self.STATUSES)})

    def _upsert_each(self, items: list, item_input: LeadInput) -> list[dict[str, Any]]:
        results = []
        for index, item in enumerate(items):
            try:
                data = item_input.run_validation(item)
                lead, created = services.lead_upsert(data=data)
            except ValidationError as exc:
                results.append(batch_error(index, exc.detail))
            except IntegrityError:
                # A concurrent request wrote the same company or lead; lead_upsert's own
                # transaction has rolled this item back.
                results.append(
                    batch_error(index, [_("Changed by another request; send it again.")])
                )
            except DatabaseError:
                # Anything else the database refuses fails this item alone (rolled back).
                logger.exception("lead batch item refused by the database")
                results.append(
                    batch_error(index, [_("The database refused this item; nothing was stored.")])
                )
            else:
                results.append(batch_result(index, "created" if created else "updated", lead.pk))
        return results


class BantSerializer(serializers.Serializer):
    budget = serializers.CharField()
    authority = serializers.CharField()
    need = serializers.CharField()
    timeline = serializers.CharField()


class QualificationSerializer(BantSerializer):
    qualified_by = serializers.CharField(allow_null=True, help_text="null for the system.")
    qualified_at = serializers.DateTimeField()


class LeadDetailApi(ApiView):
    """One lead with its latest activities and its whole stage history."""

    required_perms = {"GET": LEAD_READ_PERMS}

    class OutputSerializer(LeadOutputBase):
        class ActivitySerializer(ActivityOutputBase):
            class Meta(ActivityOutputBase.Meta):
                ref_name = "LeadActivity"

        class StageEventSerializer(serializers.ModelSerializer):
            actor = serializers.CharField(
                source="actor.username",
                read_only=True,
                allow_null=True,
                help_text="Who made the change; null for the system (see origin).",
            )
            from_stage = StageField(read_only=True)
            to_stage = StageField(read_only=True)
            bant = serializers.SerializerMethodField(
                help_text="On a change to SQL: the BANT answers (budget, authority, need, "
                "timeline); null otherwise."
            )

            class Meta:
                model = StageEvent
                fields = [
                    "from_stage",
                    "to_stage",
                    "at",
                    "actor",
                    "origin",
                    "reason",
                    "note",
                    "ruleset_version",
                    "bant",
                ]
                read_only_fields = fields
                ref_name = "LeadStageEvent"

            @extend_schema_field(BantSerializer(allow_null=True))
            def get_bant(self, event: StageEvent) -> dict[str, str] | None:
                return {key: answer for key, _label, answer in event.bant} or None

        activities = serializers.SerializerMethodField(help_text="The latest 200, newest first.")
        history = serializers.SerializerMethodField(help_text="Every stage change, oldest first.")
        qualification = serializers.SerializerMethodField(
            help_text="The latest qualification to SQL: BANT answers, who qualified and when; "
            "null if the lead was never qualified in the app."
        )

        class Meta(LeadOutputBase.Meta):
            fields = [*LEAD_FIELDS, "qualification", "activities", "history"]
            ref_name = "LeadDetail"

        @extend_schema_field(QualificationSerializer(allow_null=True))
        def get_qualification(self, lead: Lead) -> dict[str, Any] | None:
            event = self.context["qualification"]
            if event is None:
                return None
            return {
                **{key: answer for key, _label, answer in event.bant},
                "qualified_by": event.actor.username if event.actor else None,
                "qualified_at": serializers.DateTimeField().to_representation(event.at),
            }

        @extend_schema_field(ActivitySerializer(many=True))
        def get_activities(self, lead: Lead) -> list:
            # many=True makes a ListSerializer, whose data is a list; the stubs say ReturnDict.
            data = self.ActivitySerializer(self.context["activities"], many=True).data
            return data  # type: ignore[return-value]

        @extend_schema_field(StageEventSerializer(many=True))
        def get_history(self, lead: Lead) -> list:
            # many=True makes a ListSerializer, whose data is a list; the stubs say ReturnDict.
            data = self.StageEventSerializer(self.context["history"], many=True).data
            return data  # type: ignore[return-value]

    @extend_schema(
        operation_id="leads_retrieve",
        tags=["leads"],
        summary="Get a lead",
        responses={200: OutputSerializer, 401: ErrorsOutput, 403: ErrorsOutput, 404: ErrorsOutput},
    )
    def get(self, request: Request, lead_id: int) -> Response:
        lead = None
        if lead_id <= MAX_ID:
            lead = selectors.lead_get_for_user(user=request.user, lead_id=lead_id)
        if lead is None:
            raise NotFound(_("No such lead, or it is not yours to see."))
        context = {
            "activities": selectors.lead_timeline(lead=lead, limit=200),
            "history": selectors.lead_history(lead=lead),
            "qualification": selectors.lead_qualification(lead=lead),
        }
        return Response(self.OutputSerializer(lead, context=context).data)


# Activities ---------------------------------------------------------------------------------


class ActivityCreateApi(ApiView):
    """Record one activity of a known lead; a resend of the same event is harmless."""

    required_perms = {"POST": ACTIVITY_WRITE_PERMS}
    InputSerializer = ActivityInput

    class OutputSerializer(ActivityOutputBase):
        lead_id = serializers.IntegerField(read_only=True)
        status = serializers.SerializerMethodField()

        class Meta(ActivityOutputBase.Meta):
            fields = ["status", "lead_id", *ActivityOutputBase.Meta.fields]
            ref_name = "ActivityRecorded"

        @extend_schema_field(serializers.ChoiceField(choices=["created", "duplicate"]))
        def get_status(self, activity: Activity) -> str:
            return self.context["status"]

    @extend_schema(
        operation_id="activities_create",
        tags=["activities"],
        summary="Record an activity",
        description="The lead is found by lead_id or by e-mail (ignoring case); an unknown "
        "lead is an error, never created implicitly. An event already stored under the same "
        "source_system and external_id is answered 200 with status duplicate and the stored "
        "activity, so senders can retry safely.",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request.data)
        lead = services.activity_lead(user=request.user, data=data)
        activity, created = services.activity_add(
            lead=lead,
            kind=data["kind"],
            occurred_at=data["occurred_at"],
            properties=data.get("properties"),
            source_system=data["source_system"],
            external_id=data.get("external_id"),
        )
        output = self.OutputSerializer(
            activity, context={"status": "created" if created else "duplicate"}
        )
        return Response(
            output.data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ActivityBatchApi(ApiView):
    """Record many activities in a few queries; each item succeeds or fails on its own."""

    required_perms = {"POST": ACTIVITY_WRITE_PERMS}
    STATUSES = ("created", "duplicate", "error")

    class InputSerializer(StrictSerializer):
        """A batch of activities; unknown top-level fields are refused by name."""

        activities = ActivityItems(help_text="Up to API_ACTIVITY_BATCH_MAX (default 5,000).")

        class Meta:
            ref_name = "ActivityBatchInput"

    OutputSerializer = batch_output(ref="ActivityBatch", statuses=STATUSES)

    @extend_schema(
        operation_id="activities_batch_create",
        tags=["activities"],
        summary="Record many activities",
        description="Items with an error write nothing and do not stop the others. An event "
        "already stored, or sent earlier in the same batch, under the same source_system and "
        "external_id is a duplicate and writes nothing. A batch over the limit is refused as "
        "a whole (400 naming `activities`).",
        request=InputSerializer,
        responses={200: OutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        items = validated(self.InputSerializer, request.data)["activities"]
        item_input = ActivityInput()
        results: list[Any] = [None] * len(items)  # every slot is filled below
        valid: list[tuple[int, dict]] = []
        for index, item in enumerate(items):
            try:
                valid.append((index, item_input.run_validation(item)))
            except ValidationError as exc:
                results[index] = batch_error(index, exc.detail)
        outcomes = services.activity_add_many(user=request.user, items=[d for _i, d in valid])
        for (index, _data), (state, pk, errors) in zip(valid, outcomes, strict=True):
            results[index] = (
                batch_error(index, errors) if errors else batch_result(index, state, pk)
            )
        return Response({"results": results, "counts": batch_counts(results, self.STATUSES)})


urlpatterns = [
    path("leads/", LeadCollectionApi.as_view(), name="api-leads"),
    path("leads/batch/", LeadBatchApi.as_view(), name="api-leads-batch"),
    path("leads/<int:lead_id>/", LeadDetailApi.as_view(), name="api-lead-detail"),
    path("activities/", ActivityCreateApi.as_view(), name="api-activities"),
    path("activities/batch/", ActivityBatchApi.as_view(), name="api-activities-batch"),
]
