"""Inbound webhooks. The signature is the authentication: no session, no token, no CSRF."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_response
from core.validation import json_text_problems

from .mautic import (
    SIGNATURE_HEADER,
    MauticPayloadError,
    mautic_delivery_process,
    signature_is_valid,
)

logger = logging.getLogger(__name__)


class MauticDeliveryCreatedOutput(serializers.Serializer):
    leads = serializers.IntegerField(help_text="Leads created (others were updated).")
    activities = serializers.IntegerField(help_text="Activities created.")
    duplicates = serializers.IntegerField(
        help_text="Activities already received earlier (a resend); nothing was written."
    )


class MauticDeliverySkippedOutput(serializers.Serializer):
    path = serializers.CharField(help_text='The event, e.g. "mautic.page_on_hit[0]".')
    reason = serializers.CharField()


class MauticDeliveryOutput(serializers.Serializer):
    processed = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='Events applied per type, e.g. {"mautic.page_on_hit": 2}.',
    )
    created = MauticDeliveryCreatedOutput()
    deleted = serializers.IntegerField(help_text="Leads marked deleted (history kept).")
    ignored = serializers.ListField(
        child=serializers.CharField(),
        help_text="Event types this receiver does not handle; not an error.",
    )
    skipped = serializers.ListField(
        child=MauticDeliverySkippedOutput(),
        help_text="Events with nothing to apply: an anonymous contact with no e-mail "
        "and no known Mautic id, the deletion of a contact never received, or a contact "
        "event older than the last one applied to that contact (a replay or an "
        "out-of-order retry; its fields are not applied).",
    )


class MauticErrorOutput(serializers.Serializer):
    # A declared field (the metaclass takes it off the class), not Serializer.errors.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Each offending path with its reasons, e.g. "
        '{"mautic.page_on_hit[0].hit.lead.fields.core.email": ["Enter a valid email '
        'address."]}.',
    )


class MauticWebhookView(APIView):
    # APIView.as_view() is already csrf_exempt; with no authentication classes DRF does not
    # re-enforce CSRF either. The HMAC signature checked below authenticates the sender.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # The body is read raw (the signature covers its exact bytes); JSONParser only tells
    # the schema what Mautic sends.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="webhooks_mautic",
        tags=["webhooks"],
        summary="Receive a Mautic webhook delivery",
        description=(
            'Mautic posts `{"mautic.<event>": [event, ...], ...}`, signed with the header '
            "`Webhook-Signature` = base64(HMAC-SHA256(secret, raw body)) using "
            "MAUTIC_WEBHOOK_SECRET. Handled: lead_post_save_new, lead_post_save_update, "
            "lead_points_change, lead_post_delete, form_on_submit, page_on_hit, "
            "email_on_open; other types are ignored and listed. The delivery is validated "
            "whole and written in one transaction: a 400 writes nothing. Resends create "
            "nothing (each activity has a stable external id). Each contact remembers the time of "
            "the last event applied (the event's `timestamp`, or the activity's own time): an "
            "older event never overwrites newer fields nor touches a lead deleted later; its "
            "activity is still recorded."
        ),
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter(
                SIGNATURE_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="base64(HMAC-SHA256(MAUTIC_WEBHOOK_SECRET, raw body))",
            )
        ],
        responses={
            200: OpenApiResponse(
                MauticDeliveryOutput, description="The delivery was applied (or was a resend)."
            ),
            400: OpenApiResponse(
                MauticErrorOutput,
                description="Not UTF-8, not JSON, or a malformed event; nothing was written.",
            ),
            401: OpenApiResponse(
                MauticErrorOutput, description="Webhook-Signature is missing or wrong."
            ),
            413: OpenApiResponse(MauticErrorOutput, description="The body is too large."),
            503: OpenApiResponse(
                MauticErrorOutput,
                description="MAUTIC_WEBHOOK_SECRET is not configured; nothing is accepted.",
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        secret = settings.MAUTIC_WEBHOOK_SECRET
        if not secret:
            logger.error("Mautic webhook received but MAUTIC_WEBHOOK_SECRET is not set")
            return error_response(
                {
                    "non_field_errors": [
                        _(
                            "The Mautic webhook receiver is not set up: "
                            "MAUTIC_WEBHOOK_SECRET is not configured."
                        )
                    ]
                },
                status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature.strip():
            return error_response(
                {SIGNATURE_HEADER: [_("Missing signature.")]}, status.HTTP_401_UNAUTHORIZED
            )
        try:
            body = request.body
        except RequestDataTooBig:
            return error_response(
                {"body": [_("The delivery is too large.")]},
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        if not signature_is_valid(body=body, signature=signature, secret=secret):
            logger.warning("Mautic webhook with a wrong signature")
            return error_response(
                {SIGNATURE_HEADER: [_("The signature does not match the body.")]},
                status.HTTP_401_UNAUTHORIZED,
            )
        try:
            payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            return error_response({"body": [_("The body is not UTF-8 text.")]})
        except (ValueError, RecursionError):
            return error_response({"body": [_("The body is not valid JSON.")]})
        problems = json_text_problems(payload)
        if problems:
            # PostgreSQL refuses NUL, UTF-8 refuses lone surrogates: refuse them here, by
            # path, rather than fail later.
            return error_response(problems)
        try:
            result = mautic_delivery_process(payload=payload)
        except MauticPayloadError as exc:
            return error_response(exc.errors)
        return Response(result)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


urlpatterns = [
    path("webhooks/mautic/", MauticWebhookView.as_view(), name="webhook-mautic"),
]
