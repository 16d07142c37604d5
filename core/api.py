"""The REST API's plumbing, shared by every app's api.py: the base view with per-method
permissions, JSON-only parsing, the error shape and batch helpers.

Every error is `{"errors": {"field": ["reason"]}}` (see `exception_handler`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .validation import flatten_errors

logger = logging.getLogger(__name__)


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
    # A declared field (the metaclass takes it off the class), not Serializer.errors.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name (dotted for nested fields, non_field_errors for the body as a "
        "whole) mapped to the reasons it was refused.",
    )

    class Meta:
        ref_name = "Errors"


READ_ERRORS = {400: ErrorsOutput, 401: ErrorsOutput, 403: ErrorsOutput, 429: ErrorsOutput}
WRITE_ERRORS = {**READ_ERRORS, 413: ErrorsOutput, 415: ErrorsOutput}


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict:
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


def batch_result(index: int, status_: str, id_: int | None) -> dict[str, Any]:
    return {"index": index, "status": status_, "id": id_}


def batch_error(index: int, detail: Any) -> dict[str, Any]:
    return {"index": index, "status": "error", "id": None, "errors": flatten_errors(detail)}


def batch_counts(results: Iterable[dict[str, Any]], statuses: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(statuses, 0)
    for result in results:
        counts[result["status"]] += 1
    return counts


def batch_output(*, ref: str, statuses: tuple[str, ...]) -> type[serializers.Serializer]:
    """The documented shape of a batch answer (results in request order, and counts)."""

    class ResultSerializer(serializers.Serializer):
        index = serializers.IntegerField(help_text="Position of the item in the request.")
        status = serializers.ChoiceField(choices=statuses, help_text="What happened to this item.")
        id = serializers.IntegerField(allow_null=True, help_text="The stored row, if any.")
        # A declared field (the metaclass takes it off the class), not Serializer.errors.
        errors = serializers.DictField(  # type: ignore[assignment]
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


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        response.data = {"errors": flatten_errors(exc.detail)}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"errors": {"non_field_errors": [str(response.data["detail"])]}}
    return response


def error_response(errors: dict[str, list[str]], code: int = status.HTTP_400_BAD_REQUEST):
    return Response({"errors": errors}, status=code)


class ApiPagination(PageNumberPagination):
    """DRF's page numbers, but a page that does not exist (0, -1, past the end, "abc") is a
    400 naming `page`, as every other bad query parameter is, not a 404."""

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({self.page_query_param: [str(exc.detail)]}) from None


def schema_server_limits(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the HTTP server, before Django, answers 414 to a
    request line over its limit (gunicorn's --limit-request-line, 4,094 bytes by default) with
    a short HTML page; every operation says so."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault(
                    "414",
                    {
                        "description": "The address with its query is longer than the server "
                        "accepts (gunicorn's request-line limit, 4,094 bytes by default).",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    },
                )
    return result


def schema_closed_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: request bodies are StrictSerializers, which refuse
    unknown fields with a 400, so every request component says `additionalProperties: false`."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if (
            name.endswith("Request")
            and component.get("type") == "object"
            and "properties" in component
        ):
            component.setdefault("additionalProperties", False)
    return result
