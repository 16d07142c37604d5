"""Error pages in the app's layout (403, 404, 500), in the person's language.

Django's debug pages list the URL patterns, settings and code; with DEBUG on they are for
staff only, so everyone else sees the same pages as in production (`ErrorPagesMiddleware`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.translation import gettext as _

logger = logging.getLogger("django.request")


def _message(exception: Exception | None) -> str:
    # Only our own messages are shown (translated, for people); Django's are English and
    # may name models ("No Lead matches the given query.").
    if exception is None or not exception.args or not isinstance(exception.args[0], str):
        return ""
    text = exception.args[0]
    return "" if text.startswith("No ") and "matches the given query" in text else text


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        # An address under the API that no route matches (e.g. /api/v1/leads/abc/) answers in
        # the API's error shape, never the HTML page.
        return JsonResponse({"errors": {"non_field_errors": [_("Not found.")]}}, status=404)
    return render(request, "404.html", {"message": _message(exception)}, status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", {"message": _message(exception)}, status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "400.html", status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    """The layout needs the database (the session, the user's role); when the error is the
    database, a plain page still answers."""
    try:
        return render(request, "500.html", status=500)
    except Exception:
        logger.exception("The 500 page could not be rendered")
        return HttpResponseServerError(
            "<!doctype html><title>Server error</title><h1>Server error</h1>"
            f"<p>{_('Something went wrong on our side. Please try again in a moment.')}</p>",
            content_type="text/html; charset=utf-8",
        )


def _debug_for(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return settings.DEBUG and bool(user is not None and user.is_staff)


class ErrorPagesMiddleware:
    """With DEBUG on, people who are not staff get the app's error pages, not Django's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # No URL matched: Django's debug 404 lists every pattern.
        if (
            settings.DEBUG
            and response.status_code == 404
            and request.resolver_match is None
            and not _debug_for(request)
        ):
            return page_not_found(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not settings.DEBUG or _debug_for(request):
            return None
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return permission_denied(request, exception)
        if isinstance(exception, (BadRequest, SuspiciousOperation, MultiPartParserError)):
            return bad_request(request, exception)
        # As Django's own handler does: log it, tell listeners (the test client re-raises).
        logger.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=sys.exc_info(),
            extra={"status_code": 500, "request": request},
        )
        got_request_exception.send(sender=None, request=request)
        return server_error(request)
