"""Role checks for views: who may open a page at all (tenant scoping is tenants.selectors)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from core.roles import STAFF_ROLES, Role, is_operator

View = Callable[..., HttpResponseBase]


def sign_in_required(request: HttpRequest) -> HttpResponse:
    """Anonymous: a redirect to sign-in (htmx: 401 with HX-Redirect, so the page reloads)."""
    response = redirect_to_login(request.get_full_path())
    if request.headers.get("HX-Request") == "true":  # the session middleware runs before htmx's
        answer = HttpResponse(status=401)
        answer["HX-Redirect"] = response["Location"]
        return answer
    return response


def role_required(*roles: Role | str) -> Callable[[View], View]:
    """Let through signed-in users holding one of ``roles`` (any portal role when none given)
    and operators; anonymous users go to sign-in, everyone else gets 403."""
    allowed = {str(r) for r in roles} or {str(r) for r in Role}

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return sign_in_required(request)
            if getattr(request.user, "role", "") not in allowed and not is_operator(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


# IT staff and admins only.
staff_required = role_required(*STAFF_ROLES)
