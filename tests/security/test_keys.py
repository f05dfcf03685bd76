"""Encryption keys (tenants/crypto.py): rotation re-encrypts every encrypted column of every
model, after which the old key can go; a wrong key (the one that encrypted a value is gone)
fails closed wherever a secret is used: pages say what to do (no 500, no ciphertext), nothing
is sent upstream, the API answers a problem document, sign-in and the webhook receiver refuse,
and `check --database` names it. Stored secrets never reach a template or a form's initial
values. (A missing or malformed key stops start-up: tests/portal/test_settings.py.)

The encrypted columns are found by introspection (a field named ``*_encrypted``), so a new one
fails here until a row of it is planted and `rotate_encryption_key` re-encrypts it.
"""

from __future__ import annotations

import json
import re
import uuid
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models
from django.forms import BaseForm
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from api.models import API_ROLES, ApiClient
from portal.models import User
from provisioning import services
from provisioning.models import WebhookDelivery
from provisioning.payload import RequestData
from tenants import crypto, jobs, tokens, upstream
from tenants.models import JobCredentials, Tenant, TenantToken, WebhookSubscription
from tests.api.conftest import demo_app, fetch_token
from tests.conftest import client_for
from tests.portal.conftest import CALLBACK
from tests.provisioning.ui_fixtures import make_template
from upstreams.point.wire import push_signature

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

# What every place that needs a secret says when the key that encrypted it is gone.
KEY_GONE = "cannot be decrypted with FIELD_ENCRYPTION_KEYS"
# Fernet tokens start with the version byte 0x80: base64 "gAAAAA".
CIPHERTEXT = re.compile(r"gAAAAA[A-Za-z0-9_\-]{20,}")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def encrypted_fields() -> list[tuple[type[models.Model], models.Field[Any, Any]]]:
    """Every column holding ciphertext: by the project's convention (tenants.crypto), a field
    whose name ends in ``_encrypted``. Found by introspection, so a new one is covered."""
    return [
        (model, f)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if f.name.endswith("_encrypted")
    ]


def label(model: type[models.Model], f: models.Field[Any, Any]) -> str:
    return f"{model._meta.label}.{f.name}"


def stored_values() -> dict[str, list[str]]:
    """Each encrypted column's non-empty values, as stored."""
    return {
        label(model, f): sorted(
            v for v in model._default_manager.values_list(f.attname, flat=True) if v
        )
        for model, f in encrypted_fields()
    }


def plant_everywhere(tenant: Tenant) -> dict[str, str]:
    """A row in every encrypted column, through the models' own setters; returns each column's
    plaintext. A new encrypted column needs a line here (the test says so)."""
    now = timezone.now()
    token = f"eyJ.token.{uuid.uuid4().hex}"
    TenantToken.objects.create(
        tenant=tenant,
        token_encrypted=crypto.encrypt(token),
        fingerprint="x",
        expires_at=now,
        obtained_at=now,
    )
    sub = WebhookSubscription(tenant=tenant, enabled=True)
    sub.set_signing_key(str(uuid.uuid4()))
    sub.save()
    values = json.dumps({"SecretToken": f"xoxb-{uuid.uuid4().hex}"})
    JobCredentials.objects.create(
        tenant=tenant,
        service_principal_id="sp",
        keys=["SecretToken"],
        values_encrypted=crypto.encrypt(values),
    )
    return {
        "tenants.Tenant.client_secret_encrypted": tenant.get_client_secret(),
        "tenants.TenantToken.token_encrypted": token,
        "tenants.WebhookSubscription.signing_key_encrypted": sub.get_signing_key(),
        "tenants.JobCredentials.values_encrypted": values,
    }


# --- Rotation ----------------------------------------------------------------------------------


def test_rotation_re_encrypts_every_encrypted_column_then_the_old_key_can_go(
    tenant_a: Tenant, settings: Settings
) -> None:
    planted = plant_everywhere(tenant_a)
    assert set(planted) == {label(m, f) for m, f in encrypted_fields()}, (
        "A new encrypted column: plant a row of it in plant_everywhere() and make "
        "rotate_encryption_key re-encrypt it."
    )
    old = list(settings.FIELD_ENCRYPTION_KEYS)
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, *old]
    call_command("rotate_encryption_key", stdout=StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key removed
    for column, (value,) in stored_values().items():
        assert crypto.decrypt(value) == planted[column], column
        for key in old:
            with pytest.raises(InvalidToken):
                Fernet(key.encode()).decrypt(value.encode())  # re-encrypted, not just readable


def test_a_rotation_refused_for_one_unreadable_secret_changes_no_column(
    tenant_a: Tenant, tenant_b: Tenant, settings: Settings
) -> None:
    plant_everywhere(tenant_a)
    lost = Fernet(Fernet.generate_key()).encrypt(b"Fbrk-secret").decode()  # its key is gone
    Tenant.objects.filter(pk=tenant_b.pk).update(client_secret_encrypted=lost)
    before = stored_values()
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    with pytest.raises(CommandError, match=r"Nothing was changed.*Fabrikam"):
        call_command("rotate_encryption_key", stdout=StringIO())
    assert stored_values() == before


# --- A wrong key fails closed ------------------------------------------------------------------


@pytest.fixture
def wrong_key(live_tenant_a: Tenant, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    """Contoso's secrets were encrypted with a key FIELD_ENCRYPTION_KEYS no longer holds."""
    monkeypatch.setattr(upstream, "_sleep", lambda seconds: None)
    settings.POINT_MAX_RETRIES = 1
    tokens.forget()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return live_tenant_a


def token_requests(emulator: RunningEmulator) -> int:
    return len(emulator.control_get("token-requests"))


def assert_said_plainly(page: str) -> None:
    assert KEY_GONE in page
    assert not CIPHERTEXT.search(page)


@pytest.mark.parametrize(
    ("persona", "method", "path", "htmx"),
    [
        ("it_staff", "get", "/directory/contoso/groups/", False),
        ("it_staff", "get", "/directory/contoso/sites/", False),
        ("it_staff", "post", "/requests/new/refresh", False),
        ("it_staff", "post", "/tenants/contoso/check", False),
        ("admin", "get", "/tenants/contoso/jobs/", False),
        ("admin", "get", "/tenants/contoso/webhooks/registrations", True),
        ("admin", "post", "/tenants/contoso/webhooks/on", False),
    ],
    ids=["groups", "sites", "catalogue", "connection-check", "jobs", "registrations", "webhooks"],
)
def test_with_a_wrong_key_each_page_needing_the_secret_says_so_and_asks_entra_nothing(
    wrong_key: Tenant,
    emulator: RunningEmulator,
    request: pytest.FixtureRequest,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    persona: str,
    method: str,
    path: str,
    htmx: bool,
) -> None:
    client = client_for(request.getfixturevalue(persona))
    asked = token_requests(emulator)
    with django_capture_on_commit_callbacks(execute=True):  # a check runs as a task
        response = getattr(client, method)(path, headers={"HX-Request": "true"} if htmx else {})
    if response.status_code == 302:
        response = client.get(response["Location"])
    assert response.status_code == 200
    assert_said_plainly(response.content.decode())
    assert token_requests(emulator) == asked  # no garbage secret sent to Entra


def test_with_a_wrong_key_a_request_is_not_sent_and_its_page_says_why(
    wrong_key: Tenant,
    emulator: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    asked = token_requests(emulator)
    with django_capture_on_commit_callbacks(execute=True):  # the send task, inline
        item = services.request_submit(
            tenant=wrong_key,
            template=make_template(wrong_key, 3),
            requested_by=requester_a,
            data=RequestData(display_name="Zephyr", owners=[requester_a.email]),
        )
    item.refresh_from_db()
    assert KEY_GONE in item.error_message and not item.upstream_id
    assert token_requests(emulator) == asked
    assert emulator.control_get("ledger?tenant=contoso")["count"] == 0
    page = client_for(requester_a).get(f"/requests/{item.pk}/")
    assert page.status_code == 200
    assert_said_plainly(page.content.decode())


def test_with_a_wrong_key_the_api_answers_a_problem_document(
    live_tenant_a: Tenant, emulator: RunningEmulator, settings: Settings
) -> None:
    ApiClient.objects.create(
        name="Service desk",
        tenant=live_tenant_a,
        app_id=demo_app("contoso")["client_id"],
        roles=list(API_ROLES),
    )
    bearer = fetch_token(emulator)
    tokens.forget()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    answer = Client(headers={"Authorization": f"Bearer {bearer}"}).get("/api/v1/groups")
    assert answer.status_code == 502
    assert answer["Content-Type"] == "application/problem+json"
    assert_said_plainly(answer.json()["detail"])


def test_with_a_wrong_key_sign_in_is_refused_plainly(
    wrong_key: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control("redirect-uris", client_id=str(wrong_key.client_id), add=[CALLBACK])
    asked = token_requests(emulator)
    response = Client().post("/auth/sign-in/start", {"tenant": "contoso"})
    assert response.status_code == 503
    assert "This organisation is not set up for sign-in" in response.content.decode()
    assert token_requests(emulator) == asked


def test_with_a_wrong_key_the_webhook_receiver_refuses_and_keeps_nothing(
    tenant_a: Tenant, settings: Settings
) -> None:
    key = str(uuid.uuid4())
    sub = WebhookSubscription(
        tenant=tenant_a,
        enabled=True,
        registered_url="https://portal.example/hooks/x",
        registered_at=timezone.now(),
    )
    sub.set_signing_key(key)
    sub.save()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    body = b'{"type": "ProvisioningStarted", "content": {}, "meta": {"idempotencyKey": "k1"}}'
    answer = Client().post(
        f"/hooks/{sub.token}",
        data=body,
        content_type="application/json",
        headers={"Signature": push_signature(body, key)},
    )
    assert answer.status_code == 503  # our fault: Point may deliver it again later
    assert not WebhookDelivery.objects.filter(verdict=WebhookDelivery.Verdict.ACCEPTED).exists()


def test_with_a_wrong_key_pending_job_credentials_are_not_sent_and_asked_for_again(
    live_graph_tenant: Tenant, emulator: RunningEmulator, settings: Settings
) -> None:
    handover = JobCredentials.objects.create(
        tenant=live_graph_tenant,
        service_principal_id="sp",
        keys=["SecretToken"],
        values_encrypted=crypto.encrypt(json.dumps({"SecretToken": "xoxb-1"})),
    )
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    jobs.credentials_send(handover_id=handover.pk)
    handover.refresh_from_db()
    assert handover.status == JobCredentials.Status.FAILED
    assert "enter them again" in handover.error and handover.values_encrypted == ""
    ledger = emulator.control_get("graph/ledger?tenant=litware")["ledger"]
    assert not [line for line in ledger if line["kind"] == "syncCredentials"]


def test_check_names_a_key_that_cannot_decrypt_what_is_stored(
    tenant_a: Tenant, settings: Settings
) -> None:
    def warnings() -> str:
        out, err = StringIO(), StringIO()
        call_command("check", "--database", "default", stdout=out, stderr=err)
        return err.getvalue()

    assert "tenants.W001" not in warnings()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    said = warnings()
    assert "tenants.W001" in said and "FIELD_ENCRYPTION_KEYS" in said
    assert "tenants.Tenant.client_secret_encrypted" in said
    assert not CIPHERTEXT.search(said)


# --- Never rendered ----------------------------------------------------------------------------


def test_no_template_renders_an_encrypted_value_or_calls_a_secret_getter() -> None:
    # Templates call methods without arguments: `{{ tenant.get_client_secret }}` would render
    # the plaintext. An encrypted column may only be tested for presence ({% if %}).
    tags = re.compile(r"{{.*?}}|{%.*?%}", re.S)
    presence = re.compile(r"{%\s*(?:el)?if\b")
    folders = [ROOT / "templates", *ROOT.glob("*/templates")]
    found = [p for folder in folders for p in folder.rglob("*.html")]
    assert len(found) > 20
    shown = [
        f"{p.relative_to(ROOT)}: {tag}"
        for p in found
        for tag in tags.findall(p.read_text())
        if re.search(r"get_client_secret|get_signing_key", tag)
        or ("_encrypted" in tag and not presence.match(tag))
    ]
    assert shown == []


def forms_in(context: Any) -> list[BaseForm]:
    found = []
    for value in context.flatten().values():
        form = getattr(value, "form", value)  # Django admin wraps its form (AdminForm)
        if isinstance(form, BaseForm):
            found.append(form)
    return found


def test_stored_secrets_reach_no_template_context_or_form_value(
    tenant_a: Tenant, operator: User, admin: User
) -> None:
    planted = plant_everywhere(tenant_a)
    secrets = {*planted.values(), *(v for vs in stored_values().values() for v in vs)}
    pages = [
        (operator, f"/admin/tenants/tenant/{tenant_a.pk}/change/"),
        (operator, "/admin/tenants/tenant/"),
        (admin, f"/admin/tenants/tenant/{tenant_a.pk}/change/"),
        (admin, "/tenants/contoso/"),
    ]
    forms = 0
    for user, path in pages:
        response = client_for(user).get(path)
        assert response.status_code == 200
        assert not CIPHERTEXT.search(response.content.decode())
        contexts: list[Any] = list(response.context)  # one per template rendered
        for context in contexts:
            strings = [v for v in context.flatten().values() if isinstance(v, str)]
            assert not [s for s in strings for secret in secrets if secret in s], path
            for form in forms_in(context):
                forms += 1
                shown = [*form.initial.values(), *(form[name].value() for name in form.fields)]
                assert not [v for v in shown for secret in secrets if secret in str(v)], path
    assert forms >= 3
