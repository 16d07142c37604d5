"""API errors: always JSON, always naming the field and the reason, never a 500 for bad input."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .validation import flatten_errors

logger = logging.getLogger(__name__)


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
