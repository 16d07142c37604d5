"""Authentication guards: lockout after wrong passwords, a throttle on wrong API tokens. Kept
apart from core.api: DRF imports this module while its views load."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled


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
