"""Authentication guards: lockout after wrong passwords, a throttle on wrong API tokens. Kept
apart from core.api: DRF imports this module while its views load."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import BasePermission


class GuardedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing (429) an address that keeps sending wrong tokens:
    after API_TOKEN_FAILURE_LIMIT of them within API_TOKEN_FAILURE_WINDOW, every token
    request from it waits out the window."""

    def authenticate(self, request: Any) -> Any:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith(self.keyword.lower()):
            return None
        key = f"api-token-failures:{request.META.get('REMOTE_ADDR', '')}"
        window = int(settings.API_TOKEN_FAILURE_WINDOW.total_seconds())
        if cache.get(key, 0) >= settings.API_TOKEN_FAILURE_LIMIT:
            raise Throttled(
                wait=window,
                detail=_(
                    "Too many requests with a wrong token from this address; "
                    "try again in %(minutes)d minutes."
                )
                % {"minutes": window // 60},
            )
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            if not cache.add(key, 1, timeout=window):
                try:
                    cache.incr(key)
                except ValueError:  # expired in between
                    cache.set(key, 1, timeout=window)
            raise


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check for sign-ins over HTTP (the login page, the admin).

    Without a request (a management command, the shell, a test calling authenticate) there
    is no one to lock out, so it stands aside and the next backend decides.
    """

    def authenticate(
        self, request: Any, username: Any = None, password: Any = None, **kwargs: Any
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class ApiDocsPermission(BasePermission):
    """The schema and the API docs: anyone when settings.API_DOCS_PUBLIC (development),
    else a signed-in user or a valid token."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(settings.API_DOCS_PUBLIC or request.user.is_authenticated)


def docs_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The docs page sends an anonymous visitor to the login page (unless public)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.API_DOCS_PUBLIC and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped
