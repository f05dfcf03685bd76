"""Planted secrets never leave: canaries through every flow, then every sink searched.

Unique canaries stand in for each secret the portal handles: a tenant's client secret (known
to the emulator's Entra, so every token request really sends it), a second one Entra refuses,
every token the emulator's Entra issues (app tokens for Point and Graph, the sign-in's access,
refresh and id tokens, the API client's bearer token), Point's webhook signing key, a
provisioning job's credential and every session cookie. With DEBUG on (the default outside
production) the portal then signs in, submits a request through the form and follows it to
Completed across a Point 503 and a 401, turns webhooks on and takes the emulator's signed
deliveries (and a forged one), fails a token request twice (a refused secret, an AADSTS
throttle), reads the directory and exports CSVs, serves the API (and refuses a forged token),
hands a provisioning job its credentials, shows every Django admin list and change page, the
tenant and audit pages, and blows up inside msal on a technical 500 page whose error e-mail
goes to ADMINS.

Each canary, raw, URL-encoded and base64-encoded, is then looked for in every log record of
every logger at DEBUG (as raised, before any filter, and as the project's handlers write it),
every response body, header and cookie, every e-mail, every django-q task (queued payloads
decoded, Task args, kwargs and results unpickled, schedules), every session (decoded), the
cache, and every column of every table read with raw SQL, except the encrypted columns, which
must hold ciphertext that decrypts to the canaries. docs/security.md, "Canary secrets and
keys", has the figures (run with -s to print them).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import pickle
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib import admin as django_admin
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils.log import AdminEmailHandler
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import _sync, async_task
from pytest_django.fixtures import Settings

from api.models import API_ROLES, ApiClient
from audit.models import AuditAction
from audit.services import audit_record
from core.roles import Role
from directory.models import ReportKind
from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, Template, WebhookDelivery
from provisioning.payload import RequestData
from provisioning.services import webhook_health
from provisioning.states import FINAL_STATES, State
from tenants import crypto, tokens, upstream
from tenants.models import JobCredentials, Tenant, TenantToken, WebhookSubscription
from tenants.msal_http import EntraSession
from tests.api.conftest import demo_app, fetch_token
from tests.conftest import make_tenant, make_user
from tests.portal.conftest import ADELE, CALLBACK, Entra
from tests.portal.test_error_pages import UnexpectedFailure, canary, encoded_forms
from tests.provisioning.lifecycle import make_due
from tests.security.test_keys import CIPHERTEXT, encrypted_fields
from tests.tenants.test_admin import form_data
from upstreams.point.wire import push_signature

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

# The webhook receiver runs in a live server the emulator pushes to.
pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_KEYS = ("access_token", "refresh_token", "id_token")
FORMS = ("raw", "form-encoded", "URL-quoted", "base64")
OWNERS = [ADELE["mail"]]
MEGAN = "megan.bowen@contoso.onmicrosoft.com"
# Columns stored encoded (pickled, signed, compressed): searched decoded as well.
ENCODED = {
    "django_q_task.args",
    "django_q_task.kwargs",
    "django_q_task.result",
    "django_q_ormq.payload",
    "django_session.session_data",
}


# --- Sinks and the search --------------------------------------------------------------------


@dataclass
class Sinks:
    """Everything the portal wrote somewhere, as (kind, where, text)."""

    found: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, kind: str, where: str, content: Any) -> None:
        if isinstance(content, bytes | bytearray | memoryview):
            content = bytes(content).decode("utf-8", errors="replace")
        self.found.append((kind, where, content if isinstance(content, str) else repr(content)))

    def size(self) -> int:
        return sum(len(text) for _, _, text in self.found)

    def counts(self) -> dict[str, int]:
        return dict(Counter(kind for kind, _, _ in self.found))

    def found_in(self, canaries: dict[str, str]) -> list[tuple[str, str, str]]:
        """(canary and form, kind, where) for each canary found, in each form."""
        forms: dict[str, str] = {}
        for label, value in canaries.items():
            for shown, form in zip(FORMS, encoded_forms(value), strict=True):
                forms.setdefault(form, f"{label} ({shown})")  # often quoting changes nothing
        return [
            (name, kind, where)
            for kind, where, text in self.found
            for form, name in forms.items()
            if form in text
        ]

    def leaks(self, canaries: dict[str, str]) -> list[str]:
        return [f"{name} in {kind} {where}" for name, kind, where in self.found_in(canaries)]


# --- Logs: every record of every logger, at DEBUG --------------------------------------------

_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


def exception_text(error: BaseException | None) -> str:
    """Each chained exception's type, message, arguments and notes: what a traceback shows
    besides code. (Formatting whole tracebacks would compute Python's "did you mean"
    suggestions for each of the template engine's DEBUG records: seconds.)"""
    parts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        notes = getattr(error, "__notes__", [])
        parts.append(f"{type(error).__name__}: {error} {error.args!r} {notes!r}")
        error = error.__cause__ or error.__context__
    return "\n".join(parts)


class RawRecords(logging.Handler):
    """Each record as raised, before the project's filter scrubs it: what any other handler
    (a file, an error tracker) would receive."""

    def __init__(self, sinks: Sinks) -> None:
        super().__init__(logging.DEBUG)
        self.sinks = sinks

    def emit(self, record: logging.LogRecord) -> None:
        parts = [str(record.msg), repr(record.args)]
        try:
            parts.append(record.getMessage())
        except Exception:  # a bad format string is still a record to search
            pass
        if record.exc_info:
            parts.append(exception_text(record.exc_info[1]))
        if record.stack_info:
            parts.append(record.stack_info)
        parts.append(repr({k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}))
        self.sinks.add("log record", f"{record.name}:{record.levelname}", "\n".join(parts))


@contextmanager
def every_log_at_debug(sinks: Sinks) -> Iterator[None]:
    """Every logger at DEBUG; records caught raw, and the project's own handlers (LOGGING)
    writing to a buffer instead of stderr."""
    loggers = [logging.getLogger()] + [
        found
        for found in logging.Logger.manager.loggerDict.values()
        if isinstance(found, logging.Logger)
    ]
    levels = {found: found.level for found in loggers}
    # The handlers' entry points: the root, and the loggers that do not pass records up.
    entries = [found for found in loggers if found is loggers[0] or not found.propagate]
    raw, formatted = RawRecords(sinks), io.StringIO()
    configured: Any = django_settings.LOGGING["handlers"]
    streams: dict[logging.StreamHandler[Any], Any] = {}
    for entry in entries:
        entry.handlers.insert(0, raw)  # first: before any handler's filter changes the record
        for handler in entry.handlers:
            ours = handler.get_name() in configured
            if ours and isinstance(handler, logging.StreamHandler) and handler not in streams:
                streams[handler] = handler.setStream(formatted)
    for found in loggers:
        found.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for found, level in levels.items():
            found.setLevel(level)
        for entry in entries:
            entry.removeHandler(raw)
        for handler, stream in streams.items():
            handler.setStream(stream)
        sinks.add("formatted log", "LOGGING's handlers", formatted.getvalue())


# --- Responses -------------------------------------------------------------------------------


class RecordingClient(Client):
    """The test client, keeping every response's body, headers and cookies. The session
    cookie's own Set-Cookie is the one place its value belongs."""

    def __init__(self, sinks: Sinks, **defaults: Any) -> None:
        super().__init__(**defaults)
        self.sinks = sinks

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        where = f"{request['REQUEST_METHOD']} {request['PATH_INFO']}"
        if isinstance(response, StreamingHttpResponse):  # the CSV exports
            body = b"".join(response.streaming_content)
            response.streaming_content = [body]
        else:
            body = response.content
        self.sinks.add("response body", where, body)
        self.sinks.add(
            "response headers", where, "\n".join(f"{k}: {v}" for k, v in response.items())
        )
        cookies = [
            morsel.output()
            for name, morsel in response.cookies.items()
            if name != django_settings.SESSION_COOKIE_NAME
        ]
        self.sinks.add("response cookies", where, "\n".join(cookies))
        return response

    def session_cookie(self) -> str:
        return str(self.cookies[django_settings.SESSION_COOKIE_NAME].value)


# --- Tasks, queued and run as the cluster runs them ------------------------------------------


def run_queued(sinks: Sinks, rounds: int = 30) -> int:
    """Run what waits in django-q's ORM queue as a worker would, after searching each payload
    where it sits (signed) and decoded. Returns how many ran."""
    ran = 0
    for _ in range(rounds):
        queued = list(OrmQ.objects.order_by("id"))
        if not queued:
            return ran
        for row in queued:
            sinks.add("queued task (signed)", row.name(), row.payload)
            sinks.add("queued task", row.name(), row.task)
            row.delete()
            # The worker and monitor of sync mode (a Task row is saved), which leave the
            # test's database connection open.
            queueing, Conf.SYNC = Conf.SYNC, True
            try:
                _sync(row.payload)
            finally:
                Conf.SYNC = queueing
            ran += 1
    raise AssertionError("tasks kept queueing more tasks")


# --- What is stored --------------------------------------------------------------------------


def column_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def every_column(exclude: set[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """('table.column', its values) for every column of every table, read with raw SQL."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            names = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
            for index, name in enumerate(names):
                if (table, name) not in exclude:
                    values = [column_text(row[index]) for row in rows if row[index] is not None]
                    yield f"{table}.{name}", "\n".join(values)


def encrypted_columns() -> set[tuple[str, str]]:
    return {(model._meta.db_table, str(f.column)) for model, f in encrypted_fields()}


def cached(sinks: Sinks) -> None:
    store = getattr(cache, "_cache", {})  # LocMemCache here; Redis in production
    for key, value in list(store.items()):
        sinks.add("cache", key, pickle.loads(value))  # our own cache


def stored(sinks: Sinks) -> None:
    """Tasks, schedules, sessions, the cache and every column but the encrypted ones."""
    for task in Task.objects.all():
        sinks.add("task", task.name, [task.func, task.args, task.kwargs, task.result, task.group])
    for schedule in Schedule.objects.all():
        sinks.add("schedule", schedule.name, [schedule.func, schedule.args, schedule.kwargs])
    for row in OrmQ.objects.all():
        sinks.add("queued task", row.name(), row.task)
    for session in Session.objects.all():
        sinks.add("session (decoded)", session.pk[:6], session.get_decoded())
    cached(sinks)
    # The session table's key is the cookie's value by design: Django's session store.
    exclude = encrypted_columns() | {(Session._meta.db_table, "session_key")}
    for where, text in every_column(exclude):
        sinks.add("database column", where, text)
    for message in mail.outbox:
        sinks.add("e-mail", str(message.subject), message.message().as_string())


def decrypted_columns() -> dict[str, list[str]]:
    """Each encrypted column's non-empty values, decrypted (raises if one cannot be)."""
    return {
        f"{model._meta.db_table}.{f.column}": [
            crypto.decrypt(value)
            for value in model._default_manager.values_list(f.attname, flat=True)
            if value
        ]
        for model, f in encrypted_fields()
    }


# --- The canaries ----------------------------------------------------------------------------


def plant_emulator_secret(emulator: RunningEmulator, slug: str, secret: str) -> None:
    """The tenant's portal app registration in the emulator's Entra accepts `secret` too."""
    with emulator.state.lock:
        tenant = emulator.state.tenant(slug)
        assert tenant is not None
        tenant["apps"][0]["secrets"].append({"value": secret})


def plant_signing_key(emulator: RunningEmulator, slug: str, key: str) -> None:
    """Point's webhooksSignatureAuthenticationKey for the tenant."""
    from emulator.point import provisioning as emulated

    with emulator.state.lock:
        emulated.tenant_data(emulator.state, slug)["options_key"] = key


def issued_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the emulator's Entra hands out, kept as it answers (it runs in-process)."""
    import emulator.entra

    issued: list[str] = []
    answer = emulator.entra.json_response

    def recording(obj: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(obj, dict):
            issued.extend(str(obj[k]) for k in TOKEN_KEYS if obj.get(k))
        return answer(obj, *args, **kwargs)

    monkeypatch.setattr(emulator.entra, "json_response", recording)
    return issued


# --- The flows -------------------------------------------------------------------------------


@dataclass
class Portal:
    sinks: Sinks
    emulator: RunningEmulator
    tenant: Tenant
    settings: Settings
    clients: dict[str, RecordingClient] = field(default_factory=dict)

    def client_as(self, name: str, user: User) -> RecordingClient:
        client = RecordingClient(self.sinks)
        client.force_login(user)
        self.clients[name] = client
        return client

    def run_queued(self) -> int:
        return run_queued(self.sinks)


def wait_until(done: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "not done in time"
        time.sleep(0.05)


def follow(portal: Portal, request: ProvisioningRequest) -> ProvisioningRequest:
    """Poll as the scheduler would until the request is final."""
    for _ in range(40):
        request.refresh_from_db()
        if request.state in FINAL_STATES:
            return request
        make_due(request)
        services.poll_due()
        portal.run_queued()
        time.sleep(0.02)  # lets the emulator's clock move
    raise AssertionError(f"request still {request.state}")


def sign_in(portal: Portal) -> RecordingClient:
    """Adele signs in through Entra: the tenant's secret redeems the code."""
    portal.emulator.control("redirect-uris", client_id=str(portal.tenant.client_id), add=[CALLBACK])
    client = RecordingClient(portal.sinks)
    landed = Entra(portal.emulator).sign_in(client, ADELE)
    assert landed.status_code == 302 and landed["Location"] == "/"
    assert client.get("/").status_code == 200
    portal.clients["adele"] = client
    return client


def request_completed_across_faults(portal: Portal) -> None:
    adele, staff, emulator = portal.clients["adele"], portal.clients["staff"], portal.emulator
    emulator.control("timing", approval=0, approved=0, in_progress=0)
    services.catalogue_sync(tenant=portal.tenant)
    assert adele.get(reverse("provisioning:catalogue")).status_code == 200
    template = Template.objects.get(tenant=portal.tenant, upstream_id="3")
    point = "/point/contoso/v1.0"
    emulator.control("faults", method="POST", path=f"{point}/provision/*", kind="503")
    emulator.control("faults", method="GET", path=f"{point}/provision/requests/*", kind="401")
    form_url = reverse("provisioning:request_new", args=[template.pk])
    data = {f.name: f.value() or "" for f in adele.get(form_url).context["form"]}
    data.update(display_name=f"Canary {uuid.uuid4().hex[:6]}", owners="\n".join(OWNERS))
    answer = adele.post(form_url, data)
    assert answer.status_code == 302
    portal.run_queued()
    page = str(answer["Location"])
    request = follow(
        portal, ProvisioningRequest.objects.get(pk=int(page.strip("/").split("/")[-1]))
    )
    assert request.state == State.COMPLETED, request.error_message
    assert adele.get(f"{page}status", headers={"HX-Request": "true"}).status_code == 286
    for client, path in [
        (adele, page),
        (adele, reverse("provisioning:request_list_mine")),
        (staff, reverse("provisioning:request_list_all")),
        (staff, reverse("provisioning:request_export")),
        (staff, reverse("provisioning:dashboard")),
    ]:
        assert client.get(path).status_code == 200, path
    assert any(ADELE["mail"] in message.to for message in mail.outbox)


def webhooks_delivered(portal: Portal, live_url: str) -> None:
    admin, staff, tenant = portal.clients["admin"], portal.clients["staff"], portal.tenant
    portal.settings.PORTAL_BASE_URL = live_url
    assert admin.post(reverse("tenants:webhooks_on", args=[tenant.slug])).status_code == 302
    sub = WebhookSubscription.objects.get(tenant=tenant)
    assert sub.receiving, sub.last_error
    portal.emulator.control("timing", approval=0, approved=0.2, in_progress=0.3)
    request = services.request_submit(
        tenant=tenant,
        template=Template.objects.get(tenant=tenant, upstream_id="3"),
        requested_by=User.objects.get(email=ADELE["mail"]),
        data=RequestData(display_name=f"Hooked {uuid.uuid4().hex[:6]}", owners=OWNERS),
    )

    def final() -> bool:
        portal.run_queued()
        request.refresh_from_db()
        return request.state in FINAL_STATES

    wait_until(final)
    assert request.state == State.COMPLETED
    assert request.events.get(to_state=State.COMPLETED).source == "webhook"
    # A forged delivery: refused, and the key read again from Point.
    body = b'{"type": "ProvisioningStarted", "content": {}, "meta": {"idempotencyKey": "x"}}'
    forged = admin.post(
        f"/hooks/{sub.token}",
        data=body,
        content_type="application/json",
        headers={"Signature": push_signature(body, "not-the-key")},
    )
    assert forged.status_code == 401
    portal.run_queued()
    assert WebhookDelivery.objects.filter(request=request).exists()
    for path in (reverse("provisioning:deliveries"), reverse("provisioning:deliveries_export")):
        assert staff.get(path).status_code == 200
    registrations = reverse("tenants:webhook_registrations", args=[tenant.slug])
    assert admin.get(registrations).status_code == 200


def token_requests_fail(portal: Portal, secret: str, refused: str) -> None:
    operator, staff, tenant = portal.clients["operator"], portal.clients["staff"], portal.tenant
    change = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    detail = reverse("tenants:detail", args=[tenant.slug])

    def check() -> str:
        tokens.forget()
        assert staff.post(reverse("tenants:check", args=[tenant.slug])).status_code == 302
        portal.run_queued()
        return staff.get(detail).content.decode()

    # A secret Entra refuses (AADSTS7000215), typed into the admin's change form.
    assert operator.post(change, form_data(tenant, client_secret=refused)).status_code == 302
    assert "rejected the client secret" in check()
    # Entra throttling (AADSTS90055, HTTP 429).
    assert operator.post(change, form_data(tenant, client_secret=secret)).status_code == 302
    portal.emulator.control(
        "faults", path="/*/oauth2/v2.0/token", kind="aadsts", code=90055, status=429, count=5
    )
    assert "Entra ID is unavailable" in check()
    portal.emulator.control("clear")
    tokens.forget()


def directory_read_and_exported(portal: Portal) -> None:
    staff, slug = portal.clients["staff"], portal.tenant.slug
    portal.emulator.control("timing", job=0.2)
    assert staff.get(reverse("directory:groups", args=[slug])).status_code == 200
    assert staff.get(reverse("directory:sites", args=[slug])).status_code == 200
    answer = staff.post(
        reverse("directory:report_refresh", args=[slug]),
        {"kind": ReportKind.USER_ACCESS, "subject": MEGAN},
    )
    assert answer.status_code == 302
    portal.run_queued()
    run = staff.get(answer["Location"]).context["snapshot"]
    assert run is not None and run.row_count > 0
    assert staff.get(reverse("directory:report_export", args=[slug, run.pk])).status_code == 200


def api_served(portal: Portal) -> None:
    ApiClient.objects.create(
        name="Service desk",
        tenant=portal.tenant,
        app_id=demo_app("contoso")["client_id"],
        roles=list(API_ROLES),
    )
    bearer = fetch_token(portal.emulator, "contoso")
    client = RecordingClient(portal.sinks, headers={"Authorization": f"Bearer {bearer}"})
    template = Template.objects.get(tenant=portal.tenant, upstream_id="3")
    assert client.get("/api/v1/templates").status_code == 200
    created = client.post(
        "/api/v1/requests",
        {"template": template.pk, "display_name": f"Api {uuid.uuid4().hex[:6]}", "owners": OWNERS},
        content_type="application/json",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201
    portal.run_queued()
    assert client.get("/api/v1/requests").status_code == 200
    assert client.get("/api/v1/groups").status_code == 200
    forged = RecordingClient(portal.sinks, headers={"Authorization": f"Bearer {bearer[:-4]}AAAA"})
    assert forged.get("/api/v1/requests").status_code == 401


def job_credentials_handed_over(portal: Portal, credential: str) -> None:
    litware = make_tenant("litware", f"{portal.emulator.url}/graph/v1.0")
    litware.provider = "graph"
    litware.save()
    janet = portal.client_as("janet", make_user(litware, "Janet", Role.ADMIN))
    page = janet.get(reverse("tenants:jobs", args=[litware.slug]))
    slack = next(job for job, _ in page.context["rows"] if job.app_name == "Slack")
    answer = janet.post(
        reverse("tenants:job_credentials", args=[litware.slug]),
        {
            "service_principal_id": slack.service_principal_id,
            "app_name": "Slack",
            "key_1": "SecretToken",
            "value_1": credential,
        },
    )
    assert answer.status_code == 302
    portal.run_queued()
    assert JobCredentials.objects.get().status == JobCredentials.Status.SENT
    assert janet.get(answer["Location"]).status_code == 200


def admin_and_settings_pages(portal: Portal) -> int:
    """Every Django admin list and the change page of its first row, as the operator; the
    tenant pages and the audit log with its CSV, as operator and admin. Returns the number of
    admin pages read."""
    operator = portal.clients["operator"]
    read = 0
    for model, model_admin in django_admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        listed = operator.get(reverse(f"{name}_changelist"))
        assert listed.status_code == 200, name
        first = model_admin.get_queryset(listed.wsgi_request).first()
        if first is not None:
            assert operator.get(reverse(f"{name}_change", args=[first.pk])).status_code == 200
            read += 1
        read += 1
    for client in (operator, portal.clients["admin"]):
        for path in (
            reverse("tenants:list"),
            reverse("tenants:detail", args=[portal.tenant.slug]),
            reverse("audit_log"),
            reverse("audit_export"),
        ):
            assert client.get(path).status_code == 200, path
    return read


def blow_up_inside_msal(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    """An uncaught failure in msal's token request, whose frames hold the secret: the technical
    500 page, the logged error, and the error e-mail to ADMINS."""
    staff = portal.clients["staff"]
    real_send = EntraSession.send

    def send(self: EntraSession, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        if request.method == "POST":
            raise UnexpectedFailure("the connection pool fell over")
        return real_send(self, request, **kwargs)

    cached(portal.sinks)  # searched before the lists kept there are dropped
    cache.clear()
    TenantToken.objects.filter(tenant=portal.tenant).delete()  # so a token is requested
    tokens.forget()
    portal.settings.ADMINS = ["ops@portal.example"]
    # Error e-mails are off in LOGGING; whoever turns them on gets Django's handler.
    mailer = AdminEmailHandler(include_html=True)
    mailer.setLevel(logging.ERROR)
    request_log = logging.getLogger("django.request")
    request_log.addHandler(mailer)
    staff.raise_request_exception = False
    try:
        with monkeypatch.context() as patched:
            patched.setattr(EntraSession, "send", send)
            page = staff.get(reverse("directory:groups", args=[portal.tenant.slug]))
    finally:
        request_log.removeHandler(mailer)
        staff.raise_request_exception = True
        tokens.forget()
    assert page.status_code == 500 and b"_obtain_token" in page.content  # the technical page
    assert "UnexpectedFailure" in mail.outbox[-1].body  # the error e-mail


@pytest.fixture
def quick(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short timeouts and no back-off sleeps; tasks wait in the ORM queue (where they are
    searched) until run_queued runs them."""
    tokens.forget()
    webhook_health.forget()
    settings.POINT_CONNECT_TIMEOUT = 2
    settings.POINT_READ_TIMEOUT = 5
    settings.POINT_MAX_RETRIES = 2
    settings.POINT_BACKOFF_MS = 10
    settings.DIRECTORY_POLL_INTERVAL_MS = 50
    monkeypatch.setattr(upstream, "_sleep", lambda seconds: None)
    monkeypatch.setattr(Conf, "SYNC", False)
    yield
    tokens.forget()


# --- The tests -------------------------------------------------------------------------------


def test_planted_secrets_never_reach_a_log_page_mail_task_export_or_column(
    live_server: Any,
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    it_staff: User,
    admin: User,
    operator: User,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    quick: None,
) -> None:
    secret, refused = canary("secret"), canary("refused")
    signing_key, credential = canary("signing"), canary("jobcredential")
    plant_emulator_secret(emulator, "contoso", secret)
    plant_signing_key(emulator, "contoso", signing_key)
    live_tenant_a.set_client_secret(secret)
    live_tenant_a.save()
    issued = issued_tokens(monkeypatch)
    call_command("setup_schedules", stdout=io.StringIO())
    settings.DEBUG = True
    sinks = Sinks()
    portal = Portal(sinks, emulator, live_tenant_a, settings)
    with every_log_at_debug(sinks):
        sign_in(portal)
        portal.client_as("staff", it_staff)
        portal.client_as("admin", admin)
        portal.client_as("operator", operator)
        request_completed_across_faults(portal)
        webhooks_delivered(portal, live_server.url)
        token_requests_fail(portal, secret, refused)
        directory_read_and_exported(portal)
        api_served(portal)
        job_credentials_handed_over(portal, credential)
        admin_pages = admin_and_settings_pages(portal)
        blow_up_inside_msal(portal, monkeypatch)
    stored(sinks)

    canaries = {
        "client secret": secret,
        "refused client secret": refused,
        "webhook signing key": signing_key,
        "job credential": credential,
        **{f"session cookie of {name}": c.session_cookie() for name, c in portal.clients.items()},
        **{f"issued token {n}": token for n, token in enumerate(issued)},
    }
    # App tokens for Point (again after the 401) and Graph, the sign-in's three, the API's.
    assert len(issued) >= 7
    print(
        f"\n{len(canaries)} canaries; {len(sinks.found)} sinks, {sinks.size()} characters: "
        f"{sinks.counts()}; {admin_pages} admin pages"
    )
    assert sinks.leaks(canaries) == []
    # The encrypted columns hold the secrets, as ciphertext only.
    ciphertext = Sinks()
    for model, f in encrypted_fields():
        values = model._default_manager.values_list(f.attname, flat=True)
        ciphertext.add("encrypted column", f"{model._meta.db_table}.{f.column}", list(values))
    assert ciphertext.leaks(canaries) == []
    plaintexts = {value for values in decrypted_columns().values() for value in values}
    assert {secret, signing_key} <= plaintexts and plaintexts & set(issued)
    assert credential not in plaintexts  # erased once handed over
    # Ciphertext is neither shown nor copied outside the encrypted columns (where rotation
    # re-encrypts it). Pickled and signed columns are searched decoded: raw, their base64 may
    # look like a Fernet token by chance.
    copies = [
        f"{kind} {where}"
        for kind, where, text in sinks.found
        if kind != "queued task (signed)" and where not in ENCODED and CIPHERTEXT.search(text)
    ]
    assert copies == []


@pytest.mark.django_db
def test_the_search_finds_a_canary_put_in_each_kind_of_sink(
    tenant_a: Tenant, operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search itself: a canary written on purpose to each kind of sink is found there."""
    monkeypatch.setattr(Conf, "SYNC", False)
    value = canary("planted")
    sinks = Sinks()
    with every_log_at_debug(sinks):
        logging.getLogger("tenants.anything").debug("leaked %s", value)
        client = RecordingClient(sinks)
        client.force_login(operator)
        audit_record(action=AuditAction.SIGN_IN, user=operator, tenant=tenant_a, detail=value)
        client.get(reverse("audit_export"))  # a CSV
        async_task("portal.tasks.heartbeat", value)
        run_queued(sinks)
    Schedule.objects.create(func="portal.tasks.heartbeat", args=repr(value))
    session = client.session
    session["note"] = value
    session.save()
    cache.set("note", value)
    mail.send_mail(value, "body", "portal@example.com", ["ops@example.com"])
    stored(sinks)
    kinds = {kind for _, kind, _ in sinks.found_in({"planted": value})}
    assert kinds >= {
        "log record",
        "formatted log",
        "response body",
        "queued task",
        "task",
        "schedule",
        "session (decoded)",
        "cache",
        "database column",
        "e-mail",
    }
    encoded = Sinks()
    encoded.add("page", "/", base64.b64encode(value.encode()))
    assert encoded.leaks({"planted": value}) == ["planted (base64) in page /"]
