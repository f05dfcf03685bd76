"""Deploy checks and headers (issue 19, item 7): `check --deploy` is clean under the production
profile, and every page of the access matrix answers with the headers production promises.

The headers are asserted in-process, over https, with the security settings the production
profile really loads: read once from `manage.py` run with PORTAL_ENV=production, not copied here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from api.models import API_ROLES, ApiClient
from emulator.server import RunningEmulator
from portal.models import User
from tenants.models import Tenant
from tests.api.conftest import demo_app, fetch_token
from tests.conftest import client_for
from tests.portal.conftest import ADELE
from tests.portal.test_settings import PRODUCTION, manage
from tests.provisioning.ui_fixtures import make_request, make_template

# `world` and `api_tokens` are the access matrix's fixtures (its tenants, personas and API
# tokens), asked for by name below.
from tests.test_access_matrix import (  # noqa: F401
    API_PERSONAS,
    MATRIX,
    PERSONAS,
    Row,
    World,
    api_caller,
    api_tokens,
    world,
)

# The settings that decide headers and cookies.
SECURITY_PREFIXES = ("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_")
SECURITY_NAMES = ("X_FRAME_OPTIONS", "MIDDLEWARE", "DEBUG")
YEAR = 31_536_000


@pytest.fixture(scope="session")
def production_settings() -> dict[str, Any]:
    code = (
        "import json; from django.conf import settings as s;"
        f"print(json.dumps({{n: getattr(s, n) for n in dir(s) if n.startswith({SECURITY_PREFIXES!r})"
        f" or n in {SECURITY_NAMES!r}}}))"
    )
    result = manage("shell", "--no-imports", "-c", code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


@pytest.fixture
def as_production(settings: Settings, production_settings: dict[str, Any]) -> None:
    for name, value in production_settings.items():
        if name == "SECURE_PROXY_SSL_HEADER" and value:
            value = tuple(value)  # JSON has no tuples
        setattr(settings, name, value)


# --- check --deploy ----------------------------------------------------------------------------


def test_check_deploy_finds_nothing_under_production_settings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert not re.search(r"\(\w+\.[WE]\d+\)", output), output


def test_check_deploy_fails_a_weakened_production_config() -> None:
    # Both are environment variables an operator may set; check --deploy is what catches them.
    weakened = {"SECURE_HSTS_SECONDS": "0", "SECURE_SSL_REDIRECT": "false"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION, **weakened})
    assert result.returncode != 0
    found = set(re.findall(r"\((\w+\.[WE]\d+)\)", result.stdout + result.stderr))
    assert found == {"security.W004", "security.W008"}, result.stdout + result.stderr


def test_production_refuses_to_start_with_a_short_secret_key() -> None:
    # DEBUG=true is refused the same way (tests/portal/test_settings.py).
    result = manage("check", "--deploy", **{**PRODUCTION, "SECRET_KEY": "short-" * 5})
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50" in result.stderr


# --- What every answer carries ------------------------------------------------------------------


def assert_transport_headers(response: HttpResponseBase) -> None:
    """What every answer over https carries, whatever its type."""
    hsts = response["Strict-Transport-Security"]
    max_age = re.search(r"max-age=(\d+)", hsts)
    assert max_age and int(max_age.group(1)) >= YEAR, hsts
    assert "includesubdomains" in hsts.lower(), hsts
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    # No address leaves for another origin: request names and UPNs travel in queries.
    assert response["Referrer-Policy"] in {"same-origin", "no-referrer"}
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def assert_never_stored(response: HttpResponseBase) -> None:
    cache_control = response.get("Cache-Control", "")
    assert "no-store" in cache_control and "private" in cache_control, cache_control


def policy(response: HttpResponseBase) -> dict[str, list[str]]:
    directives = (part.split() for part in response["Content-Security-Policy"].split(";"))
    return {words[0]: words[1:] for words in directives if words}


def script_tags(page: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", page, flags=re.IGNORECASE)


def executable_inline(tag: str) -> bool:
    """A <script> with its code in the page (no src), of a type browsers execute."""
    kind = re.search(r"""\btype=["']?([^"'\s>]+)""", tag)
    runs = kind is None or kind.group(1).lower() in {"module", "text/javascript"}
    return runs and not re.search(r"\bsrc=", tag)


def page_nonce(response: HttpResponseBase) -> str:
    """The header's nonce, once every inline script of the page is seen to carry it."""
    script_src = policy(response)["script-src"]
    nonces = [v.removeprefix("'nonce-").removesuffix("'") for v in script_src if "nonce-" in v]
    assert len(nonces) == 1, script_src
    for tag in script_tags(body_of(response)):
        if executable_inline(tag) or "nonce=" in tag:
            assert f'nonce="{nonces[0]}"' in tag, tag
    return nonces[0]


def body_of(response: HttpResponseBase) -> str:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    assert isinstance(response, HttpResponse)
    return response.content.decode()


# --- Every page of the access matrix ------------------------------------------------------------


def signed_in_persona(row: Row) -> str | None:
    """The first persona with credentials (a session or an API token) the row answers with a
    2xx (286 stops htmx polling)."""
    for persona, status in zip(PERSONAS, row.expect, strict=True):
        if persona != "anonymous" and 200 <= status < 300:
            return persona
    return None


PAGES = [row for row in MATRIX if signed_in_persona(row)]
# django-ninja's Swagger page uses no nonce: its only inline <script> is a JSON data block,
# which browsers never execute.
NO_NONCE_NEEDED = {"api:openapi-view"}


def ask(client: Client, row: Row, url: str, w: World) -> HttpResponseBase:
    """The row's request, as the access matrix sends it, over https."""
    headers = {"HX-Request": "true"} if row.htmx else {}
    data = row.data(w) if row.data else {}
    if row.method == "GET":
        return client.get(url, data, headers=headers, secure=True)
    if row.name.startswith("api:"):
        return client.post(url, json.dumps(data), "application/json", headers=headers, secure=True)
    return client.post(url, data, headers=headers, secure=True)


@pytest.mark.django_db
@pytest.mark.parametrize("row", PAGES, ids=Row.label)
def test_every_page_answers_with_the_production_headers(
    row: Row, request: pytest.FixtureRequest, as_production: None
) -> None:
    w: World = request.getfixturevalue("world")
    persona = signed_in_persona(row)
    assert persona
    if persona in API_PERSONAS:
        client = api_caller(persona, w, request)
    else:
        client = client_for(w.user(persona))
    url = reverse(row.name, kwargs=row.kwargs(w) if row.kwargs else None)
    response = ask(client, row, url, w)
    assert 200 <= response.status_code < 300, response.status_code

    assert_transport_headers(response)
    # Every answer to a signed-in person may hold personal data: never stored.
    assert_never_stored(response)
    content_type = response["Content-Type"].split(";")[0]
    if content_type == "text/csv":
        assert response["Content-Disposition"].startswith("attachment; filename="), row.label()
        return
    if content_type == "application/json":
        return
    assert content_type == "text/html", content_type
    page = body_of(response)
    if not page.lstrip().lower().startswith("<!doctype html"):
        # A fragment lands in a page whose CSP already holds; htmx runs no script it brings.
        assert not script_tags(page), row.label()
        return
    csp = policy(response)
    assert not {"'unsafe-inline'", "'unsafe-eval'"} & {*csp["script-src"], *csp["default-src"]}
    assert csp["object-src"] == csp["base-uri"] == csp["frame-ancestors"] == ["'none'"], csp
    if row.name in NO_NONCE_NEEDED:
        assert not any(executable_inline(tag) for tag in script_tags(page))
    else:
        page_nonce(response)


@pytest.mark.django_db
def test_plain_http_is_sent_to_https(as_production: None) -> None:
    response = Client().get("/requests/?q=Apollo")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/requests/?q=Apollo"


@pytest.mark.django_db
def test_each_answer_gets_a_new_nonce(requester_a: User, as_production: None) -> None:
    client = client_for(requester_a)
    first, second = (client.get(reverse("home"), secure=True) for _ in range(2))
    assert page_nonce(first) != page_nonce(second)


# --- Cookies, API answers, static files ----------------------------------------------------------


def test_sign_in_sets_host_only_secure_cookies(
    emulator: RunningEmulator, tenant_a: Tenant, as_production: None, settings: Settings
) -> None:
    callback = "https://testserver/auth/callback"
    emulator.control("redirect-uris", client_id=str(tenant_a.client_id), add=[callback])
    client = Client()
    page = client.get(reverse("sign_in"), secure=True)
    authorize = client.post(reverse("sign_in_start"), {"tenant": tenant_a.slug}, secure=True)
    chosen = requests.post(
        authorize["Location"], data={"user": ADELE["oid"]}, allow_redirects=False, timeout=10
    )
    assert chosen.headers["Location"].startswith(callback + "?")
    signed_in = client.get(
        chosen.headers["Location"].removeprefix("https://testserver"), secure=True
    )
    assert signed_in.status_code == 302 and "_auth_user_id" in client.session

    for response, name in (
        (page, settings.CSRF_COOKIE_NAME),
        (authorize, settings.SESSION_COOKIE_NAME),  # the sign-in under way
        (signed_in, settings.SESSION_COOKIE_NAME),  # the signed-in person's new session
    ):
        cookie = response.cookies[name]
        # __Host-: browsers take it only Secure, from https, with Path=/ and no Domain, so no
        # other host of the domain can set or shadow it.
        assert name.startswith("__Host-"), name
        assert cookie["secure"] and cookie["path"] == "/" and not cookie["domain"], cookie
        assert cookie["samesite"] in {"Lax", "Strict"}, cookie
        # No script reads the session; the CSRF token comes from the page (hx-headers).
        assert cookie["httponly"] or name == settings.CSRF_COOKIE_NAME, cookie


@pytest.mark.django_db
def test_api_answers_are_never_stored(
    emulator: RunningEmulator, tenant_a: Tenant, requester_a: User, as_production: None
) -> None:
    ApiClient.objects.create(
        name="Service desk",
        tenant=tenant_a,
        app_id=demo_app("contoso")["client_id"],
        roles=list(API_ROLES),
    )
    make_request(make_template(tenant_a, 1), requester_a)  # Adele's name and UPN in the list
    token = fetch_token(emulator, "contoso")
    listed = Client().get(
        "/api/v1/requests", headers={"Authorization": f"Bearer {token}"}, secure=True
    )
    assert listed.status_code == 200 and listed.json()["items"], listed.content
    refused = Client().get("/api/v1/requests", secure=True)
    assert refused.status_code == 401
    for response in (listed, refused):
        assert_transport_headers(response)
        assert_never_stored(response)


@pytest.mark.django_db
def test_static_files_are_cacheable_yet_carry_the_transport_headers(
    settings: Settings, as_production: None
) -> None:
    # The one exception to no-store: the same CSS, scripts and images for everyone.
    settings.WHITENOISE_USE_FINDERS = True  # tests have no collectstatic; production has
    response = Client().get("/static/portal/portal.css", secure=True)
    assert response.status_code == 200
    assert "public" in response["Cache-Control"] and "no-store" not in response["Cache-Control"]
    # Served before the clickjacking and CSP middleware (a stylesheet is not framed), yet after
    # the security middleware: HSTS and nosniff still hold.
    assert int(re.findall(r"max-age=(\d+)", response["Strict-Transport-Security"])[0]) >= YEAR
    assert response["X-Content-Type-Options"] == "nosniff"
