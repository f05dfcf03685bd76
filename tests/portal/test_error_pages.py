"""Error pages never show a secret, a token or a client assertion, DEBUG on or off.

Each test plants a unique canary (a tenant's client secret, a bearer token, a POST field),
makes something blow up while the canary sits in local variables, also inside msal's and
requests' own frames that no decorator of ours can mark, renders Django's technical 500 page
(HTML and the text of error e-mails) and checks that the canary is gone while the page still
shows the frames. The scrubbing is portal.errors.SecretScrubbingFilter (docs/security.md).
"""

from __future__ import annotations

import base64
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import pytest
import requests
from django.conf import settings as django_settings
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.debug import ExceptionReporter
from pytest_django.fixtures import Settings

from portal import errors
from portal.models import User
from tenants import crypto, tokens, upstream
from tenants.models import Tenant
from tenants.msal_http import EntraSession
from tests.conftest import client_for
from upstreams.point import transport

if TYPE_CHECKING:
    from emulator.server import RunningEmulator


class UnexpectedFailure(Exception):
    """Stands for a bug or a library failure nobody planned for: nothing catches it."""


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    tokens.forget()
    yield
    tokens.forget()


def canary(kind: str) -> str:
    # Shaped like the real thing: a secret with "~" and ".", a token with "-" and digits.
    return f"Canary8Q~{kind}.{uuid.uuid4().hex}"


def encoded_forms(value: str) -> list[str]:
    """The canary and the forms it travels in (form-encoded, URL-quoted, in Basic auth)."""
    return [
        value,
        quote_plus(value),
        quote(value, safe=""),
        base64.b64encode(value.encode()).decode(),
    ]


def assert_hidden(page: str, *secrets: str) -> None:
    for secret in secrets:
        for form in encoded_forms(secret):
            assert form not in page


def reporter_class() -> type[ExceptionReporter]:
    """The reporter Django renders error pages and error e-mails with."""
    found: type[ExceptionReporter] = import_string(django_settings.DEFAULT_EXCEPTION_REPORTER)
    return found


def render(request: HttpRequest | None, exc_info: Any) -> tuple[str, str]:
    """The technical 500 page as HTML (DEBUG's page) and as text (the error e-mail), made by
    the reporter Django uses (settings.DEFAULT_EXCEPTION_REPORTER)."""
    exc_type, exc_value, tb = exc_info
    reporter = reporter_class()
    return (
        reporter(request, exc_type, exc_value, tb).get_traceback_html(),
        reporter(request, exc_type, exc_value, tb, is_email=True).get_traceback_text(),
    )


def fail_token_posts(monkeypatch: pytest.MonkeyPatch) -> None:
    """msal's POST to the token endpoint blows up deep inside requests: by then msal's and
    requests' frames hold the client secret (msal's form data, requests' encoded body)."""
    real_send = EntraSession.send

    def send(self: EntraSession, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        if request.method == "POST":
            raise UnexpectedFailure("the connection pool fell over")
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(EntraSession, "send", send)


@pytest.fixture
def secret_tenant(live_tenant_a: Tenant) -> tuple[Tenant, str]:
    secret = canary("secret")
    live_tenant_a.set_client_secret(secret)
    live_tenant_a.save()
    return live_tenant_a, secret


def token_request_failure(tenant: Tenant) -> Any:
    try:
        tokens.get_token(tenant)
    except UnexpectedFailure:
        return sys.exc_info()
    raise AssertionError("the token request should have failed")


@pytest.mark.parametrize("debug", [True, False], ids=["debug-page", "error-e-mail"])
@pytest.mark.parametrize("registry", [True, False], ids=["with-registry", "patterns-only"])
def test_the_client_secret_held_in_msals_frames_is_never_shown(
    secret_tenant: tuple[Tenant, str],
    emulator: RunningEmulator,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    debug: bool,
    registry: bool,
) -> None:
    tenant, secret = secret_tenant
    settings.DEBUG = debug
    fail_token_posts(monkeypatch)
    exc_info = token_request_failure(tenant)
    if not registry:
        crypto.forget_plaintexts()  # a secret this process never decrypted: patterns only
    request = RequestFactory().get(f"/directory/{tenant.slug}/groups/")
    html, text = render(request, exc_info)
    for page in (html, text):
        assert_hidden(page, secret)
        # The frames are still there, msal's included (the text version has no locals).
        assert "_obtain_token" in page and "acquire_token_for_client" in page
        assert "the connection pool fell over" in page
    # ... with their harmless values: the client id and grant type msal was sending.
    assert "Local vars" in html and "client_credentials" in html
    assert str(tenant.client_id) in html


def test_msals_form_data_keeps_its_harmless_fields_and_hides_the_secret(
    secret_tenant: tuple[Tenant, str],
    emulator: RunningEmulator,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, secret = secret_tenant
    settings.DEBUG = True
    fail_token_posts(monkeypatch)
    exc_info = token_request_failure(tenant)
    crypto.forget_plaintexts()  # prove the key-based scrubbing, not the registry
    frames = reporter_class()(None, *exc_info).get_traceback_frames()
    # msal's innermost _obtain_token: it builds the form (`_data`) and the headers it posts.
    obtain = next(f for f in frames if "_headers" in dict(f.get("vars", ())))
    assert obtain["function"] == "_obtain_token"
    form = repr(dict(obtain["vars"])["_data"])
    assert "'client_secret': '********************'" in form
    assert "client_credentials" in form and str(tenant.client_id) in form
    assert secret not in form


def test_the_portals_own_secret_holding_frames_hide_their_variables(
    secret_tenant: tuple[Tenant, str],
    emulator: RunningEmulator,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, secret = secret_tenant
    settings.DEBUG = True

    def send(self: EntraSession, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        raise UnexpectedFailure("discovery fell over")

    monkeypatch.setattr(EntraSession, "send", send)
    try:
        tokens.get_token(tenant)
    except UnexpectedFailure:
        exc_info = sys.exc_info()
    frames = reporter_class()(None, *exc_info).get_traceback_frames()
    build = dict(next(f for f in frames if f["function"] == "_build_app")["vars"])
    assert build["secret"] == errors.SUBSTITUTE  # @sensitive_variables("secret")
    assert "EntraSession" in repr(build["session"])  # the rest stays readable
    assert_hidden(reporter_class()(None, *exc_info).get_traceback_html(), secret)


def test_a_debug_500_page_served_by_a_view_hides_the_secret(
    secret_tenant: tuple[Tenant, str],
    emulator: RunningEmulator,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    it_staff: User,
) -> None:
    tenant, secret = secret_tenant
    settings.DEBUG = True
    fail_token_posts(monkeypatch)
    client = client_for(it_staff)
    client.raise_request_exception = False
    response = client.get(f"/directory/{tenant.slug}/groups/", headers={"Accept": "text/html"})
    page = response.content.decode()
    assert response.status_code == 500
    assert "UnexpectedFailure" in page and "_obtain_token" in page  # Django's technical page
    assert_hidden(page, secret)
    text = client.get(f"/directory/{tenant.slug}/groups/", headers={"Accept": "text/plain"})
    assert text.status_code == 500 and "_obtain_token" in text.content.decode()
    assert_hidden(text.content.decode(), secret)


@pytest.mark.parametrize("debug", [True, False], ids=["debug-page", "error-e-mail"])
def test_a_bearer_token_held_in_requests_frames_is_never_shown(
    live_tenant_a: Tenant, settings: Settings, monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    settings.DEBUG = debug
    bearer = canary("bearer")
    token = tokens.AccessToken(bearer, timezone.now() + timedelta(hours=1))
    monkeypatch.setattr(tokens, "get_token", lambda tenant, fresh=False, scope=None: token)

    def send(request: requests.PreparedRequest, **kwargs: Any) -> Any:
        raise UnexpectedFailure("the socket broke")

    monkeypatch.setattr(transport._session, "send", send)
    try:
        upstream.provider_for(live_tenant_a).list_templates()
    except UnexpectedFailure:
        exc_info = sys.exc_info()
    html, text = render(None, exc_info)
    for page in (html, text):
        assert_hidden(page, bearer)
        assert "in _send" in page and "the socket broke" in page
    # requests' frames still show the call, with the header's value masked.
    assert "/provision/templates" in html
    assert "&#x27;Authorization&#x27;: &#x27;********************&#x27;" in html


@pytest.mark.parametrize("debug", [True, False], ids=["debug-page", "error-e-mail"])
def test_post_data_with_a_client_secret_is_hidden_by_name(settings: Settings, debug: bool) -> None:
    settings.DEBUG = debug
    secret, password = canary("posted"), canary("password")
    request = RequestFactory().post(
        "/admin/tenants/tenant/1/change/",
        {"name": "Contoso Ltd", "client_secret": secret, "new_password": password},
    )
    try:
        raise UnexpectedFailure("the form blew up")
    except UnexpectedFailure:
        exc_info = sys.exc_info()
    html, text = render(request, exc_info)
    for page in (html, text):
        assert_hidden(page, secret, password)
        assert "Contoso Ltd" in page and "client_secret" in page


@pytest.mark.parametrize(
    "leak",
    [
        lambda s: f"client_id=abc&client_secret={quote_plus(s)}&scope=x",
        lambda s: f"client_assertion={s}&client_assertion_type=jwt-bearer",
        lambda s: f"Authorization: Bearer {s}",
        lambda s: f'{{"access_token": "{s}", "expires_in": 3599}}',
        lambda s: f"redis://:{s}@cache.internal:6379/0",
    ],
    ids=["form-secret", "form-assertion", "bearer-header", "json-token", "url-password"],
)
def test_the_exception_message_itself_is_scrubbed(
    settings: Settings, leak: Callable[[str], str]
) -> None:
    settings.DEBUG = True
    secret = canary("message")
    try:
        try:
            raise requests.exceptions.InvalidHeader(f"Invalid header value {leak(secret)!r}")
        except requests.exceptions.InvalidHeader as inner:
            raise UnexpectedFailure(f"while sending: {leak(secret)}") from inner
    except UnexpectedFailure:
        exc_info = sys.exc_info()
    html, text = render(None, exc_info)
    for page in (html, text):
        assert_hidden(page, secret)
        assert "while sending" in page and "Invalid header value" in page


def test_a_known_secret_is_masked_even_under_an_innocent_name(settings: Settings) -> None:
    settings.DEBUG = True
    secret = canary("registry")
    crypto.decrypt(crypto.encrypt(secret))  # the portal decrypted it once
    blob = f"prefix{secret}suffix"  # a local the page shows
    try:
        raise UnexpectedFailure("boom")
    except UnexpectedFailure:
        exc_info = sys.exc_info()
    html, text = render(None, exc_info)
    assert_hidden(html, secret)
    assert f"prefix{errors.SUBSTITUTE}suffix" in html
    # No pattern would have caught it: the registry did.
    crypto.forget_plaintexts()
    assert secret in errors.scrub_text(blob)


def test_nested_values_are_hidden_by_key_and_harmless_ones_kept() -> None:
    secret = canary("nested")
    shown = repr(
        errors.scrub_value(
            {
                "data": {"client_secret": secret, "scope": ["api://x/.default"]},
                "headers": [("Authorization", f"Bearer {secret}")],
                "pin": {"password": 12345678},
            }
        )
    )
    assert secret not in shown and "12345678" not in shown
    assert "api://x/.default" in shown and "client_secret" in shown


def test_the_reporter_also_scrubs_get_parameters_and_the_url(settings: Settings) -> None:
    settings.DEBUG = True
    request = RequestFactory().get("/auth/callback", {"code": canary("code"), "state": "s1"})
    try:
        raise UnexpectedFailure("callback blew up")
    except UnexpectedFailure:
        exc_info = sys.exc_info()
    page = errors.SecretScrubbingReporter(request, *exc_info).get_traceback_html()
    assert_hidden(page, request.GET["code"])
    assert "state" in page and "callback blew up" in page


def test_log_lines_and_logged_tracebacks_are_scrubbed() -> None:
    import logging

    secret = canary("logged")
    record = logging.LogRecord(
        "django.request",
        logging.ERROR,
        __file__,
        1,
        "Internal Server Error: /x?client_secret=%s",
        (secret,),
        None,
    )
    try:
        raise UnexpectedFailure(
            f"token request body: client_secret={secret}&grant_type=client_credentials"
        )
    except UnexpectedFailure:
        record.exc_info = sys.exc_info()
    assert errors.ScrubbingLogFilter().filter(record)
    formatted = logging.Formatter("%(message)s").format(record)
    assert "Internal Server Error" in formatted and "UnexpectedFailure" in formatted
    assert_hidden(formatted, secret)
