"""Session lifetime (idle and absolute timeouts) and the current tenant on each request."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from api.problems import problem
from audit.models import AuditAction
from audit.services import audit_record
from core.decorators import sign_in_required
from core.http import PortalRequest
from portal.selectors import current_tenant

SIGNED_IN_AT = "portal_signed_in_at"
LAST_SEEN = "portal_last_seen"
# The last-seen stamp is written at most this often (seconds), not on every request.
TOUCH_INTERVAL = 60


def start_session_clock(request: HttpRequest) -> None:
    now = time.time()
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN] = now


class SessionTimeoutMiddleware:
    """Signs out a session idle for SESSION_IDLE_TIMEOUT or older than
    SESSION_ABSOLUTE_TIMEOUT seconds (ASVS 7.3), then sends the person to sign in again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.get(SIGNED_IN_AT)
            last_seen = request.session.get(LAST_SEEN)
            if not isinstance(started, float | int) or not isinstance(last_seen, float | int):
                start_session_clock(request)
            elif (
                now - last_seen > settings.SESSION_IDLE_TIMEOUT
                or now - started > settings.SESSION_ABSOLUTE_TIMEOUT
            ):
                idle = now - last_seen > settings.SESSION_IDLE_TIMEOUT
                audit_record(
                    action=AuditAction.SESSION_EXPIRED,
                    request=request,
                    detail="idle timeout" if idle else "absolute timeout",
                )
                logout(request)
                messages.info(request, "Your session has expired. Please sign in again.")
                return sign_in_required(request)
            elif now - last_seen >= TOUCH_INTERVAL:
                request.session[LAST_SEEN] = now
        return self.get_response(request)


class CurrentTenantMiddleware:
    """Sets ``request.tenant``: the tenant the signed-in user works in (None if anonymous)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        cast(PortalRequest, request).tenant = current_tenant(request)
        return self.get_response(request)


API_PREFIX = "/api/"


class RejectNulBytesMiddleware:
    """A NUL byte in a query or form value is a 400, never a database error.

    PostgreSQL refuses NUL in text ("A string literal cannot contain NUL"), so without this any
    form that reaches a query with such a value answered 500, even unauthenticated. No portal
    input has a legitimate use for it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for data in (request.GET, request.POST if request.method == "POST" else None):
            if data is not None and any(
                "\x00" in key or any("\x00" in value for value in data.getlist(key)) for key in data
            ):
                return self._refused(request, "A value of this request contains a NUL character.")
        if "\x00" in request.path:
            return self._refused(request, "The address contains a NUL character.")
        return self.get_response(request)

    @staticmethod
    def _refused(request: HttpRequest, detail: str) -> HttpResponse:
        if request.path.startswith(API_PREFIX):  # the API's errors are all problem documents
            return problem(400, "Bad request", detail)
        return HttpResponseBadRequest(detail)


class PrivatePagesMiddleware:
    """Pages shown to a signed-in person, and API answers, are never stored by the browser or
    a proxy.

    Without it, directory, tenant and catalogue pages came back from the browser's cache
    through Back after sign-out, personal data included. API clients sign in with a token, not
    a session, so their answers (names, UPNs) are covered by path. A view that sets its own
    Cache-Control keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        private = request.path.startswith(API_PREFIX) or (
            user is not None and user.is_authenticated
        )
        if private and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response


class PortalErrorPagesMiddleware:
    """The portal's own 404 and 403 pages, with DEBUG on too (Django shows its debug pages
    then), and one log line for a 403 instead of a traceback (a refusal is no error)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404):
            status, template = 404, "404.html"
        elif isinstance(exception, PermissionDenied):
            # Django logs the answer in one line ("Forbidden: /path"), no traceback.
            status, template = 403, "403.html"
        else:
            return None
        if getattr(request, "htmx", False):
            text = "Not found." if status == 404 else "No access."
            return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
        return render(request, template, status=status)
