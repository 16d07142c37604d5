"""REST API for leads and activities, mounted at /api/v1/.

Views stay thin: they validate with the input serializers shared with CSV import and webhooks
(`leads.validation`), call a service or a selector, and answer through their own output
serializer. Every error is `{"errors": {"field": ["reason"]}}` (see `leads.api_errors`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from . import selectors, services
from .models import Activity, Company, Lead, Stage, StageEvent
from .validation import ActivityInput, LeadInput, StrictSerializer, flatten_errors

# The largest id the databases store (bigint). Larger numbers in a query would overflow the
# SQLite driver instead of simply matching nothing.
MAX_ID = 2**63 - 1

LEAD_WRITE_PERMS = ("leads.add_lead", "leads.change_lead")
LEAD_READ_PERMS = ("leads.view_lead",)
ACTIVITY_WRITE_PERMS = ("leads.add_activity",)


# Plumbing shared by the views -------------------------------------------------------------


class HasRequiredPerms(BasePermission):
    """Every permission the view lists for the request's method (HEAD counts as GET)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        method = "GET" if request.method == "HEAD" else request.method
        return request.user.has_perms(getattr(view, "required_perms", {}).get(method, ()))


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, plus a 400 for input nested deeper than Python's decoder goes."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - nested too deeply.")) from None


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request body is too large; send smaller batches.")
    default_code = "too_large"


class ApiView(APIView):
    permission_classes = [IsAuthenticated, HasRequiredPerms]
    # JSON only: anything else is a 415, never a form silently parsed into something else.
    parser_classes = [StrictJSONParser]
    required_perms: Mapping[str, tuple[str, ...]] = {}

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RequestDataTooBig):
            # Django raises this outside DRF's exception types; keep the JSON error format.
            exc = PayloadTooLarge()
        return super().handle_exception(exc)


class ErrorsOutput(serializers.Serializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name (dotted for nested fields, non_field_errors for the body as a "
        "whole) mapped to the reasons it was refused.",
    )

    class Meta:
        ref_name = "Errors"


READ_ERRORS = {400: ErrorsOutput, 401: ErrorsOutput, 403: ErrorsOutput}
WRITE_ERRORS = {**READ_ERRORS, 413: ErrorsOutput, 415: ErrorsOutput}


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class BatchItems(serializers.ListField):
    """A list whose items the view validates one by one, so one bad item fails alone.

    The cap is read from settings on every request (a deploy can tune it; tests lower it).
    """

    max_setting = ""

    def to_internal_value(self, data: Any) -> list:
        limit = getattr(settings, self.max_setting)
        if isinstance(data, list) and len(data) > limit:
            raise ValidationError(
                _("At most %(limit)d items per request (got %(count)d); split the batch.")
                % {"limit": limit, "count": len(data)}
            )
        return super().to_internal_value(data)


@extend_schema_field(LeadInput(many=True))
class LeadItems(BatchItems):
    max_setting = "API_LEAD_BATCH_MAX"


@extend_schema_field(ActivityInput(many=True))
class ActivityItems(BatchItems):
    max_setting = "API_ACTIVITY_BATCH_MAX"


def _result(index: int, status_: str, id_: int | None) -> dict[str, Any]:
    return {"index": index, "status": status_, "id": id_}


def _error_result(index: int, detail: Any) -> dict[str, Any]:
    return {"index": index, "status": "error", "id": None, "errors": flatten_errors(detail)}


def _counts(results: Iterable[dict[str, Any]], statuses: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(statuses, 0)
    for result in results:
        counts[result["status"]] += 1
    return counts


def _batch_output(*, ref: str, statuses: tuple[str, ...]) -> type[serializers.Serializer]:
    """The documented shape of a batch answer (results in request order, and counts)."""

    class ResultSerializer(serializers.Serializer):
        index = serializers.IntegerField(help_text="Position of the item in the request.")
        status = serializers.ChoiceField(choices=statuses, help_text="What happened to this item.")
        id = serializers.IntegerField(allow_null=True, help_text="The stored row, if any.")
        errors = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="Only when status is error: field name mapped to reasons.",
        )

        class Meta:
            ref_name = f"{ref}Result"

    CountsSerializer = type(
        "CountsSerializer",
        (serializers.Serializer,),
        {
            **{name: serializers.IntegerField() for name in statuses},
            "Meta": type("Meta", (), {"ref_name": f"{ref}Counts"}),
        },
    )

    class OutputSerializer(serializers.Serializer):
        results = ResultSerializer(many=True)
        counts = CountsSerializer()

        class Meta:
            ref_name = f"{ref}Output"

    return OutputSerializer


# Output shapes reused by several views --------------------------------------------------


LEAD_FIELDS = [
    "id",
    "email",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "department",
    "phone",
    "country",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
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
        fields = ["name", "domain", "industry", "employees", "annual_revenue", "listed"]
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
    pagination_class = api_settings.DEFAULT_PAGINATION_CLASS

    class FilterSerializer(serializers.Serializer):
        stage = serializers.ChoiceField(choices=Stage.choices, required=False, allow_blank=True)
        source = serializers.CharField(required=False, allow_blank=True, max_length=100)
        owner = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_ID, help_text="The owner's user id."
        )
        q = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=200,
            help_text="Text in the e-mail, the name or the company name.",
        )
        min_score = serializers.FloatField(required=False, help_text="Lowest total score.")
        updated_since = serializers.DateTimeField(
            required=False, help_text="ISO 8601 date-time; leads updated at or after it."
        )

        class Meta:
            ref_name = "LeadFilter"

        def validate_min_score(self, value: float) -> float:
            if not math.isfinite(value):
                raise ValidationError(_("A finite number is required."))
            return value

    InputSerializer = LeadInput

    class OutputSerializer(LeadOutputBase):
        class Meta(LeadOutputBase.Meta):
            ref_name = "Lead"

    @extend_schema(
        operation_id="leads_list",
        tags=["leads"],
        summary="List leads",
        description="The leads the caller may see (a sales rep: their own), newest first. "
        "Deleted leads are left out.",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = _validated(self.FilterSerializer, request.query_params)
        leads = selectors.lead_list(user=request.user, filters=filters)
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
        data = _validated(self.InputSerializer, request.data)
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

    OutputSerializer = _batch_output(ref="LeadBatch", statuses=STATUSES)

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
        items = _validated(self.InputSerializer, request.data)["leads"]
        # One bound serializer for every item: a new instance per item deep-copies its fields.
        item_input = LeadInput()
        results = []
        for index, item in enumerate(items):
            try:
                data = item_input.run_validation(item)
                lead, created = services.lead_upsert(data=data)
            except ValidationError as exc:
                results.append(_error_result(index, exc.detail))
            except IntegrityError:
                # A concurrent request wrote the same company or lead; lead_upsert's own
                # transaction has rolled this item back.
                results.append(
                    _error_result(index, [_("Changed by another request; send it again.")])
                )
            else:
                results.append(_result(index, "created" if created else "updated", lead.pk))
        # Built as plain data: 1,000 result rows through DRF fields cost more than it is worth.
        return Response({"results": results, "counts": _counts(results, self.STATUSES)})


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
                ]
                read_only_fields = fields
                ref_name = "LeadStageEvent"

        activities = serializers.SerializerMethodField(help_text="The latest 200, newest first.")
        history = serializers.SerializerMethodField(help_text="Every stage change, oldest first.")

        class Meta(LeadOutputBase.Meta):
            fields = [*LEAD_FIELDS, "activities", "history"]
            ref_name = "LeadDetail"

        @extend_schema_field(ActivitySerializer(many=True))
        def get_activities(self, lead: Lead) -> list:
            return self.ActivitySerializer(self.context["activities"], many=True).data

        @extend_schema_field(StageEventSerializer(many=True))
        def get_history(self, lead: Lead) -> list:
            return self.StageEventSerializer(self.context["history"], many=True).data

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
        }
        return Response(self.OutputSerializer(lead, context=context).data)


# Activities ---------------------------------------------------------------------------------


def _no_lead(field: str) -> dict[str, list[str]]:
    if field == "lead_id":
        return {"lead_id": [_("No lead with this id.")]}
    return {"email": [_("No lead with this e-mail.")]}


def _match_lead(
    data: Mapping[str, Any], by_id: Mapping[int, Lead], by_email: Mapping[str, Lead]
) -> Lead:
    """The lead an activity names, by lead_id or else by e-mail; a ValidationError if none.

    Leads are never created implicitly: an activity for an unknown person is an error the
    sender has to fix (send the lead first).
    """
    email = data.get("email") or ""
    if data.get("lead_id"):
        lead = by_id.get(data["lead_id"])
        if lead is None:
            raise ValidationError(_no_lead("lead_id"))
        if email and lead.email.lower() != email.lower():
            raise ValidationError({"email": [_("This is not the e-mail of that lead_id.")]})
        return lead
    lead = by_email.get(email.lower())
    if lead is None:
        raise ValidationError(_no_lead("email"))
    return lead


def _visible_leads(
    *, user: Any, ids: Iterable[int], emails: Iterable[str]
) -> tuple[dict[int, Lead], dict[str, Lead]]:
    """The leads the user may see among these ids and e-mails, in one query."""
    ids = {i for i in ids if i <= MAX_ID}
    emails = set(emails)
    if not ids and not emails:
        return {}, {}
    # LOWER(email) on both sides, as in the unique index, so the lookup can use that index.
    match = Q(pk__in=ids) | Q(email_lower__in=[Lower(Value(e)) for e in emails])
    qs = (
        Lead.objects.filter(selectors.lead_visible_q(user))
        .alias(email_lower=Lower("email"))
        .filter(match)
        .only("id", "email")
    )
    leads = list(qs)
    return {lead.pk: lead for lead in leads}, {lead.email.lower(): lead for lead in leads}


def _stored_activity_ids(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids of activities already stored under these (source_system, external_id) pairs."""
    if not keys:
        return {}
    rows = Activity.objects.filter(
        external_id__isnull=False,
        source_system__in={s for s, _e in keys},
        external_id__in={e for _s, e in keys},
    ).values_list("source_system", "external_id", "pk")
    return {(s, e): pk for s, e, pk in rows if (s, e) in keys}


def _activity_key(data: Mapping[str, Any]) -> tuple[str, str] | None:
    external_id = data.get("external_id")
    return (data["source_system"], external_id) if external_id else None


def _activities_store(pending: list[Activity]) -> list[tuple[int, bool]]:
    """Store new activities; (id, created) for each, in order.

    The caller checked for stored duplicates, so normally this is one bulk insert. If another
    request stored one of the same events in between, the unique constraint stops the insert
    and we fall back to the service one by one, which tells duplicates apart.
    """
    if not pending:
        return []
    if connection.features.can_return_rows_from_bulk_insert:
        try:
            with transaction.atomic():
                Activity.objects.bulk_create(pending, batch_size=1000)
            return [(activity.pk, True) for activity in pending]
        except IntegrityError:
            pass  # rolled back as a whole; redo item by item below
    # Each call notifies scoring itself; the caller's single notify then repeats those ids,
    # which only costs a redundant rescore on this rare path.
    out = []
    for activity in pending:
        stored, created = services.activity_add(
            lead=activity.lead,
            kind=activity.kind,
            occurred_at=activity.occurred_at,
            properties=activity.properties,
            source_system=activity.source_system,
            external_id=activity.external_id,
        )
        out.append((stored.pk, created))
    return out


def activities_add_many(*, user: Any, items: list[Any]) -> list[dict[str, Any]]:
    """Validate and record a batch of activities; one result per item, in order.

    Set-based: one query finds the leads, one finds already stored events, one bulk insert
    writes the rest. Resends (same source_system and external_id, stored before or earlier
    in the same batch) are "duplicate" and write nothing. Leads are not created implicitly.
    """
    item_input = ActivityInput()
    results: list[Any] = [None] * len(items)  # every slot is filled below
    valid: list[tuple[int, dict]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, item_input.run_validation(item)))
        except ValidationError as exc:
            results[index] = _error_result(index, exc.detail)

    by_id, by_email = _visible_leads(
        user=user,
        ids=(d["lead_id"] for _i, d in valid if d.get("lead_id")),
        emails=(d["email"] for _i, d in valid if d.get("email") and not d.get("lead_id")),
    )
    stored = _stored_activity_ids({k for _i, d in valid if (k := _activity_key(d))})

    pending: list[Activity] = []
    pending_index: list[int] = []
    first_in_batch: dict[tuple[str, str], int] = {}  # key -> position in pending
    repeats: list[tuple[int, int]] = []  # (item index, position in pending)
    for index, data in valid:
        try:
            lead = _match_lead(data, by_id, by_email)
        except ValidationError as exc:
            results[index] = _error_result(index, exc.detail)
            continue
        key = _activity_key(data)
        if key in stored:
            results[index] = _result(index, "duplicate", stored[key])
            continue
        if key in first_in_batch:
            repeats.append((index, first_in_batch[key]))
            continue
        if key is not None:
            first_in_batch[key] = len(pending)
        pending.append(
            Activity(
                lead=lead,
                kind=data["kind"],
                occurred_at=data["occurred_at"],
                properties=dict(data.get("properties") or {}),
                source_system=data["source_system"],
                external_id=data.get("external_id") or None,
            )
        )
        pending_index.append(index)

    written = _activities_store(pending)
    for index, (pk, created) in zip(pending_index, written, strict=True):
        results[index] = _result(index, "created" if created else "duplicate", pk)
    for index, position in repeats:
        results[index] = _result(index, "duplicate", written[position][0])
    touched = [a.lead_id for a, (_pk, created) in zip(pending, written, strict=True) if created]
    # Once for the whole batch, so scoring sees one change per lead, not one per event.
    services.notify_lead_changed(touched)
    return results


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
        data = _validated(self.InputSerializer, request.data)
        by_id, by_email = _visible_leads(
            user=request.user,
            ids=[data["lead_id"]] if data.get("lead_id") else [],
            emails=[data["email"]] if data.get("email") and not data.get("lead_id") else [],
        )
        lead = _match_lead(data, by_id, by_email)
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

    OutputSerializer = _batch_output(ref="ActivityBatch", statuses=STATUSES)

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
        items = _validated(self.InputSerializer, request.data)["activities"]
        results = activities_add_many(user=request.user, items=items)
        return Response({"results": results, "counts": _counts(results, self.STATUSES)})


urlpatterns = [
    path("leads/", LeadCollectionApi.as_view(), name="api-leads"),
    path("leads/batch/", LeadBatchApi.as_view(), name="api-leads-batch"),
    path("leads/<int:lead_id>/", LeadDetailApi.as_view(), name="api-lead-detail"),
    path("activities/", ActivityCreateApi.as_view(), name="api-activities"),
    path("activities/batch/", ActivityBatchApi.as_view(), name="api-activities-batch"),
]
