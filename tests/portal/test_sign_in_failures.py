"""Sign-in attempts that must fail: each ends on a clear page, with no session and an audit
entry naming the reason. Driven through the emulator over HTTP."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from django.conf import settings
from django.test import Client

from audit.models import AuditAction, AuditEvent
from portal.auth import SESSION_FLOW_KEY
from portal.models import User
from tenants.models import Tenant
from tests.portal.conftest import ADELE, LYNNE, Entra, with_query

pytestmark = pytest.mark.django_db


def assert_refused(
    client: Client, response: Any, reason: str, status: int = 400, *, earlier_sign_ins: int = 0
) -> None:
    """A clear page naming the reason, no signed-in user, no flow left, one audit entry."""
    assert response.status_code == status, response.content.decode()[:500]
    html = response.content.decode()
    assert f'data-reason="{reason}"' in html
    assert "You are not signed in." in html
    assert "_auth_user_id" not in client.session
    assert SESSION_FLOW_KEY not in client.session
    cookie = response.cookies.get(settings.SESSION_COOKIE_NAME)
    assert cookie is None or cookie.value == ""
    event = AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED)
    assert event.detail.startswith(reason)
    assert event.source_ip == "127.0.0.1"
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_IN).count() == earlier_sign_ins


def test_a_callback_without_state_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    assert_refused(client, client.get(with_query(callback, state=None)), "state_mismatch")


def test_a_callback_with_a_wrong_state_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    assert_refused(client, client.get(with_query(callback, state="forged")), "state_mismatch")


def test_a_replayed_code_is_refused(entra: Entra, tenant_a: Tenant) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    code = callback.split("code=")[1].split("&")[0]
    # Someone redeems the code first (Entra burns a code on its first redemption).
    requests.post(
        f"{entra.emulator.url}/{tenant_a.entra_tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "client_id": str(tenant_a.client_id),
            "client_secret": tenant_a.get_client_secret(),
            "code": unquote(code),
            "redirect_uri": "http://testserver/auth/callback",
            "code_verifier": "x" * 43,
        },
        timeout=10,
    )
    assert_refused(client, client.get(callback), "code_rejected")


def test_the_same_callback_twice_is_refused_the_second_time(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    assert client.get(callback).status_code == 302
    other = Client()  # the same link opened in another browser
    assert_refused(other, other.get(callback), "no_flow", earlier_sign_ins=1)


def test_a_callback_without_a_flow_in_the_session_is_refused(entra: Entra) -> None:
    client = Client()
    assert_refused(client, client.get("/auth/callback?code=abc&state=xyz"), "no_flow")


def test_an_id_token_with_a_wrong_nonce_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    entra.override_id_token(claims={"nonce": "f" * 64})
    assert_refused(client, client.get(callback), "nonce_mismatch")


def test_a_tenant_not_in_the_allow_list_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    entra.override_id_token(claims={"tid": str(uuid.uuid4())})
    assert_refused(client, client.get(callback), "tenant_not_allowed", status=403)


def test_a_token_naming_another_configured_tenant_is_refused(
    entra: Entra, tenant_b: Tenant
) -> None:
    client = Client()
    callback = entra.choose(entra.start(client, "contoso"), ADELE)
    entra.override_id_token(claims={"tid": str(tenant_b.entra_tenant_id)})
    assert_refused(client, client.get(callback), "tenant_not_allowed", status=403)


def test_a_tenant_deactivated_during_sign_in_is_refused(entra: Entra, tenant_a: Tenant) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    tenant_a.is_active = False
    tenant_a.save()
    assert_refused(client, client.get(callback), "tenant_not_allowed", status=403)


def test_an_id_token_for_another_audience_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    entra.override_id_token(claims={"aud": str(uuid.uuid4())})
    assert_refused(client, client.get(callback), "wrong_audience")


def test_an_id_token_from_another_issuer_is_refused(entra: Entra, tenant_b: Tenant) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    entra.override_id_token(
        claims={"iss": f"https://login.microsoftonline.com/{tenant_b.entra_tenant_id}/v2.0"}
    )
    assert_refused(client, client.get(callback), "wrong_issuer")


def test_an_expired_id_token_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    past = int(time.time()) - 7200
    entra.override_id_token(claims={"iat": past, "nbf": past, "exp": past + 3600})
    assert_refused(client, client.get(callback), "token_expired")


def test_an_id_token_with_a_tampered_signature_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    entra.override_id_token(tamper_signature=True)
    assert_refused(client, client.get(callback), "bad_signature")


def test_an_id_token_without_an_oid_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    entra.override_id_token(remove=["oid"])
    assert_refused(client, client.get(callback), "invalid_token")


def test_a_person_without_a_portal_role_gets_the_no_access_page(entra: Entra) -> None:
    client = Client()
    response = entra.sign_in(client, LYNNE)
    assert_refused(client, response, "no_role", status=403)
    assert "has no role in this portal" in response.content.decode()
    assert not User.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED)
    assert event.person == f"{LYNNE['name']} <{LYNNE['mail']}>"
    assert event.tenant is not None and event.tenant.slug == "contoso"


def test_an_error_from_entras_token_endpoint_is_refused(entra: Entra, tenant_a: Tenant) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    entra.emulator.control("expire-secret", client_id=str(tenant_a.client_id))
    assert_refused(client, client.get(callback), "entra_error")
    assert "AADSTS7000222" in AuditEvent.objects.get().detail


def test_an_error_returned_to_the_callback_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    broken = with_query(
        callback,
        code=None,
        error="temporarily_unavailable",
        error_description="AADSTS90033: A transient error has occurred.",
    )
    assert_refused(client, client.get(broken), "entra_error")


def test_cancelling_consent_on_entras_page_is_refused(entra: Entra) -> None:
    client = Client()
    callback = entra.cancel(entra.start(client))
    response = client.get(callback)
    assert_refused(client, response, "consent_declined")
    assert "AADSTS65004" in AuditEvent.objects.get().detail


def test_entra_being_unreachable_at_the_start_shows_a_clear_page(entra: Entra) -> None:
    entra.emulator.control("faults", path="/*/v2.0/.well-known/openid-configuration", kind="503")
    client = Client()
    response = client.post("/auth/sign-in/start", {"tenant": "contoso"})
    assert_refused(client, response, "entra_unreachable", status=503)


def test_no_secret_or_code_appears_on_a_failure_page_or_in_the_audit_log(
    entra: Entra, tenant_a: Tenant
) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    code = callback.split("code=")[1].split("&")[0]
    entra.override_id_token(claims={"aud": "x"})
    html = client.get(callback).content.decode()
    detail = AuditEvent.objects.get().detail
    for secret in (tenant_a.get_client_secret(), unquote(code)):
        assert secret not in html
        assert secret not in detail
