"""Contract tests for the Entra ID side of the emulator, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import warnings
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import pytest
import requests

from emulator.entra import InvalidToken, verify_access_token
from emulator.server import RunningEmulator
from emulator.state import load_fixture

DEMO = load_fixture()
CONTOSO = DEMO["tenants"][0]
FABRIKAM = DEMO["tenants"][1]
TID = CONTOSO["id"]
APP = CONTOSO["apps"][0]
CLIENT_ID = APP["client_id"]
SECRET = APP["secrets"][0]["value"]
POINT_APP = CONTOSO["point"]["api_app_id"]
REDIRECT = APP["redirect_uris"][0]
ISSUER = f"https://login.microsoftonline.com/{TID}/v2.0"
ADELE = next(u for u in CONTOSO["users"] if u["upn"].startswith("adele"))
NESTOR = next(u for u in CONTOSO["users"] if "Portal.Admin" in u["roles"])


def token_request(emulator: RunningEmulator, tenant: str = TID, **form: str) -> requests.Response:
    return requests.post(f"{emulator.url}/{tenant}/oauth2/v2.0/token", data=form, timeout=10)


def client_credentials(emulator: RunningEmulator, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "scope": f"{POINT_APP}/.default",
    }
    form.update(overrides)
    tenant = form.pop("tenant", TID)
    return token_request(emulator, tenant, **form)


def assert_entra_error(
    response: requests.Response, status: int, error: str, code: int
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    description = body["error_description"]
    assert description.startswith(f"AADSTS{code}: ")
    assert (
        f"\r\nTrace ID: {body['trace_id']}\r\nCorrelation ID: {body['correlation_id']}\r\nTimestamp: {body['timestamp']}"
        in description
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    return body


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    return verifier, challenge


def authorize_params(challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "User.Read openid profile offline_access",
        "state": "st-123",
        "nonce": "nonce-abc",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


def sign_in(
    emulator: RunningEmulator, user: dict[str, Any], challenge: str, **overrides: str
) -> dict[str, list[str]]:
    """Choose ``user`` on the authorize page; returns the redirect's query."""
    url = f"{emulator.url}/{TID}/oauth2/v2.0/authorize"
    answer = requests.post(
        url,
        params=authorize_params(challenge, **overrides),
        data={"user": user["oid"]},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(overrides.get("redirect_uri", REDIRECT) + "?")
    return parse_qs(urlsplit(location).query)


def redeem(
    emulator: RunningEmulator, code: str, verifier: str, **overrides: str
) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        "scope": "User.Read openid profile offline_access",
    }
    form.update(overrides)
    return token_request(emulator, **form)


# -- discovery and keys ------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", [TID, "contoso", "CONTOSO", "contoso.onmicrosoft.com"])
def test_it_serves_the_discovery_document_by_tenant_id_slug_or_domain(
    emulator: RunningEmulator, tenant: str
) -> None:
    doc = requests.get(
        f"{emulator.url}/{tenant}/v2.0/.well-known/openid-configuration", timeout=10
    ).json()
    assert doc["issuer"] == ISSUER
    assert doc["token_endpoint"] == f"https://login.microsoftonline.com/{TID}/oauth2/v2.0/token"
    assert doc["jwks_uri"] == f"https://login.microsoftonline.com/{TID}/discovery/v2.0/keys"
    assert doc["authorization_endpoint"] == f"{emulator.url}/{TID}/oauth2/v2.0/authorize"
    assert doc["end_session_endpoint"] == f"{emulator.url}/{TID}/oauth2/v2.0/logout"
    assert "RS256" in doc["id_token_signing_alg_values_supported"]


def test_it_answers_discovery_for_an_unknown_tenant_with_aadsts90002(
    emulator: RunningEmulator,
) -> None:
    answer = requests.get(
        f"{emulator.url}/nowhere/v2.0/.well-known/openid-configuration", timeout=10
    )
    assert_entra_error(answer, 400, "invalid_tenant", 90002)


def test_it_serves_instance_discovery_for_msal(emulator: RunningEmulator) -> None:
    answer = requests.get(
        f"{emulator.url}/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": f"https://login.microsoftonline.com/{TID}/oauth2/v2.0/authorize",
        },
        timeout=10,
    ).json()
    assert (
        answer["tenant_discovery_endpoint"]
        == f"https://login.microsoftonline.com/{TID}/v2.0/.well-known/openid-configuration"
    )
    assert "login.microsoftonline.com" in answer["metadata"][0]["aliases"]


def test_its_jwks_verifies_an_issued_token_with_pyjwt(emulator: RunningEmulator) -> None:
    access_token = client_credentials(emulator).json()["access_token"]
    keys = requests.get(f"{emulator.url}/{TID}/discovery/v2.0/keys", timeout=10).json()["keys"]
    kid = jwt.get_unverified_header(access_token)["kid"]
    jwk = next(k for k in keys if k["kid"] == kid)
    assert jwk["kty"] == "RSA" and jwk["use"] == "sig"
    claims = jwt.decode(
        access_token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=POINT_APP, issuer=ISSUER
    )
    assert claims["tid"] == TID


def test_tenants_sign_with_different_keys(emulator: RunningEmulator) -> None:
    contoso = requests.get(f"{emulator.url}/contoso/discovery/v2.0/keys", timeout=10).json()[
        "keys"
    ][0]
    fabrikam = requests.get(f"{emulator.url}/fabrikam/discovery/v2.0/keys", timeout=10).json()[
        "keys"
    ][0]
    assert contoso["kid"] != fabrikam["kid"]


# -- client credentials ------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [f"{POINT_APP}/.default", f"api://{POINT_APP}/.default"])
def test_it_issues_a_point_token_with_the_apps_roles(emulator: RunningEmulator, scope: str) -> None:
    answer = client_credentials(emulator, scope=scope)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600 and body["ext_expires_in"] == 3600
    claims = verify_access_token(emulator.state, body["access_token"], POINT_APP)
    assert claims["aud"] == POINT_APP
    assert claims["iss"] == ISSUER
    assert claims["tid"] == TID
    assert claims["appid"] == CLIENT_ID and claims["azp"] == CLIENT_ID
    assert claims["oid"] == APP["service_principal_id"]
    assert sorted(claims["roles"]) == sorted(APP["point_permissions"])
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["nbf"] <= claims["iat"]


def test_it_accepts_http_basic_client_authentication(emulator: RunningEmulator) -> None:
    answer = requests.post(
        f"{emulator.url}/{TID}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": f"{POINT_APP}/.default"},
        auth=(CLIENT_ID, SECRET),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_the_read_only_app_gets_only_sharepoint_read_all(emulator: RunningEmulator) -> None:
    reader = FABRIKAM["apps"][1]
    answer = client_credentials(
        emulator,
        tenant="fabrikam",
        client_id=reader["client_id"],
        client_secret=reader["secrets"][0]["value"],
        scope=f"{FABRIKAM['point']['api_app_id']}/.default",
    )
    claims = verify_access_token(
        emulator.state, answer.json()["access_token"], FABRIKAM["point"]["api_app_id"]
    )
    assert claims["roles"] == ["SharePoint.Read.All"]
    assert claims["tid"] == FABRIKAM["id"]


def test_verify_access_token_rejects_another_audience_and_tampering(
    emulator: RunningEmulator,
) -> None:
    access_token = client_credentials(emulator).json()["access_token"]
    with pytest.raises(InvalidToken):
        verify_access_token(emulator.state, access_token, FABRIKAM["point"]["api_app_id"])
    header, payload, signature = access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["Point.Admin", "Everything"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(InvalidToken):
        verify_access_token(emulator.state, f"{header}.{forged}.{signature}", POINT_APP)
    with pytest.raises(InvalidToken):
        verify_access_token(emulator.state, "not-a-jwt", POINT_APP)


def test_a_token_from_one_tenant_does_not_verify_as_another_tenants(
    emulator: RunningEmulator,
) -> None:
    fabrikam_app = FABRIKAM["apps"][0]
    answer = client_credentials(
        emulator,
        tenant="fabrikam",
        client_id=fabrikam_app["client_id"],
        client_secret=fabrikam_app["secrets"][0]["value"],
        scope=f"{FABRIKAM['point']['api_app_id']}/.default",
    )
    with pytest.raises(InvalidToken):
        verify_access_token(emulator.state, answer.json()["access_token"], POINT_APP)


def test_it_rejects_a_wrong_secret_with_aadsts7000215(emulator: RunningEmulator) -> None:
    assert_entra_error(
        client_credentials(emulator, client_secret="wrong"), 401, "invalid_client", 7000215
    )


def test_it_rejects_a_missing_secret_with_aadsts7000218(emulator: RunningEmulator) -> None:
    answer = token_request(
        emulator,
        grant_type="client_credentials",
        client_id=CLIENT_ID,
        scope=f"{POINT_APP}/.default",
    )
    assert_entra_error(answer, 401, "invalid_client", 7000218)


def test_it_rejects_an_unknown_application_with_aadsts700016(emulator: RunningEmulator) -> None:
    assert_entra_error(
        client_credentials(emulator, client_id="11111111-2222-3333-4444-555555555555"),
        400,
        "unauthorized_client",
        700016,
    )


def test_it_rejects_an_app_of_another_tenant_with_aadsts700016(emulator: RunningEmulator) -> None:
    assert_entra_error(
        client_credentials(emulator, tenant="fabrikam"), 400, "unauthorized_client", 700016
    )


def test_it_rejects_an_unknown_tenant_with_aadsts90002(emulator: RunningEmulator) -> None:
    assert_entra_error(
        client_credentials(emulator, tenant="nowhere.onmicrosoft.com"),
        400,
        "invalid_request",
        90002,
    )


def test_it_rejects_a_scope_without_default_with_aadsts70011(emulator: RunningEmulator) -> None:
    assert_entra_error(
        client_credentials(emulator, scope=f"{POINT_APP}/Point.Admin"), 400, "invalid_scope", 70011
    )


def test_it_rejects_several_resources_with_aadsts700022(emulator: RunningEmulator) -> None:
    scope = f"{POINT_APP}/.default https://graph.microsoft.com/.default"
    assert_entra_error(client_credentials(emulator, scope=scope), 400, "invalid_scope", 700022)


def test_it_rejects_an_unknown_resource_with_aadsts500011(emulator: RunningEmulator) -> None:
    assert_entra_error(
        client_credentials(emulator, scope="api://99999999-0000-0000-0000-000000000000/.default"),
        400,
        "invalid_resource",
        500011,
    )


def test_it_rejects_a_missing_scope_with_aadsts900144(emulator: RunningEmulator) -> None:
    answer = token_request(
        emulator, grant_type="client_credentials", client_id=CLIENT_ID, client_secret=SECRET
    )
    assert_entra_error(answer, 400, "invalid_request", 900144)


def test_it_rejects_an_unsupported_grant_with_aadsts70003(emulator: RunningEmulator) -> None:
    assert_entra_error(
        client_credentials(emulator, grant_type="password"), 400, "unsupported_grant_type", 70003
    )


# -- authorization code + PKCE -----------------------------------------------------------------


def test_the_authorize_page_lists_the_tenants_users_with_their_roles(
    emulator: RunningEmulator,
) -> None:
    _, challenge = pkce_pair()
    page = requests.get(
        f"{emulator.url}/{TID}/oauth2/v2.0/authorize",
        params=authorize_params(challenge),
        timeout=10,
    )
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    for user in CONTOSO["users"]:
        assert f'value="{user["oid"]}"' in page.text
        assert user["upn"] in page.text
    assert "Portal.Admin" in page.text and "No portal role" in page.text
    assert 'name="cancel"' in page.text
    assert FABRIKAM["users"][0]["upn"] not in page.text


def test_login_hint_preselects_a_user(emulator: RunningEmulator) -> None:
    _, challenge = pkce_pair()
    page = requests.get(
        f"{emulator.url}/{TID}/oauth2/v2.0/authorize",
        params=authorize_params(challenge, login_hint=NESTOR["upn"]),
        timeout=10,
    ).text
    assert re.search(rf'class="user hinted"[^>]*value="{NESTOR["oid"]}"', page)


def test_prompt_none_with_a_known_login_hint_signs_in_silently(emulator: RunningEmulator) -> None:
    verifier, challenge = pkce_pair()
    answer = requests.get(
        f"{emulator.url}/{TID}/oauth2/v2.0/authorize",
        params=authorize_params(challenge, prompt="none", login_hint=ADELE["upn"]),
        allow_redirects=False,
        timeout=10,
    )
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    claims = jwt.decode(
        redeem(emulator, query["code"][0], verifier).json()["id_token"],
        options={"verify_signature": False},
    )
    assert claims["oid"] == ADELE["oid"]


def test_prompt_none_without_a_session_answers_login_required(emulator: RunningEmulator) -> None:
    _, challenge = pkce_pair()
    answer = requests.get(
        f"{emulator.url}/{TID}/oauth2/v2.0/authorize",
        params=authorize_params(challenge, prompt="none"),
        allow_redirects=False,
        timeout=10,
    )
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["login_required"]
    assert query["state"] == ["st-123"]


def test_the_auth_code_flow_issues_an_id_token_with_nonce_and_roles(
    emulator: RunningEmulator,
) -> None:
    verifier, challenge = pkce_pair()
    query = sign_in(emulator, NESTOR, challenge)
    assert query["state"] == ["st-123"]
    assert query["session_state"]
    answer = redeem(emulator, query["code"][0], verifier)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"] and body["access_token"]
    assert "User.Read" in body["scope"].split()
    client_info = json.loads(
        base64.urlsafe_b64decode(body["client_info"] + "=" * (-len(body["client_info"]) % 4))
    )
    assert client_info == {"uid": NESTOR["oid"], "utid": TID}
    keys = requests.get(f"{emulator.url}/{TID}/discovery/v2.0/keys", timeout=10).json()["keys"]
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(
        body["id_token"], key, algorithms=["RS256"], audience=CLIENT_ID, issuer=ISSUER
    )
    assert claims["nonce"] == "nonce-abc"
    assert claims["tid"] == TID
    assert claims["oid"] == NESTOR["oid"]
    assert claims["roles"] == ["Portal.Admin"]
    assert claims["preferred_username"] == NESTOR["upn"]
    assert claims["name"] == NESTOR["name"]
    assert claims["ver"] == "2.0"
    assert claims["sub"]
    assert claims["iat"] <= claims["exp"] and claims["nbf"] <= claims["iat"]


def test_a_user_without_a_portal_role_gets_no_roles_claim(emulator: RunningEmulator) -> None:
    lynne = next(u for u in CONTOSO["users"] if not u["roles"] and not u["guest"])
    verifier, challenge = pkce_pair()
    body = redeem(emulator, sign_in(emulator, lynne, challenge)["code"][0], verifier).json()
    assert "roles" not in jwt.decode(body["id_token"], options={"verify_signature": False})


def test_a_refresh_token_buys_new_tokens(emulator: RunningEmulator) -> None:
    verifier, challenge = pkce_pair()
    body = redeem(emulator, sign_in(emulator, ADELE, challenge)["code"][0], verifier).json()
    answer = token_request(
        emulator,
        grant_type="refresh_token",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        refresh_token=body["refresh_token"],
    )
    assert answer.status_code == 200, answer.text
    assert (
        jwt.decode(answer.json()["id_token"], options={"verify_signature": False})["oid"]
        == ADELE["oid"]
    )


def test_a_code_cannot_be_redeemed_twice(emulator: RunningEmulator) -> None:
    verifier, challenge = pkce_pair()
    code = sign_in(emulator, ADELE, challenge)["code"][0]
    assert redeem(emulator, code, verifier).status_code == 200
    assert_entra_error(redeem(emulator, code, verifier), 400, "invalid_grant", 54005)


def test_an_unknown_code_is_rejected(emulator: RunningEmulator) -> None:
    verifier, _ = pkce_pair()
    assert_entra_error(redeem(emulator, "made-up-code", verifier), 400, "invalid_grant", 70000)


def test_an_expired_code_is_rejected_with_aadsts70008(emulator: RunningEmulator) -> None:
    verifier, challenge = pkce_pair()
    code = sign_in(emulator, ADELE, challenge)["code"][0]
    with emulator.state.lock:
        for grant in emulator.state.data["codes"].values():
            grant["expires"] = emulator.state.now() - 1
    assert_entra_error(redeem(emulator, code, verifier), 400, "invalid_grant", 70008)


def test_a_pkce_mismatch_is_rejected_with_aadsts501481(emulator: RunningEmulator) -> None:
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code = sign_in(emulator, ADELE, challenge)["code"][0]
    assert_entra_error(redeem(emulator, code, other_verifier), 400, "invalid_grant", 501481)


def test_a_missing_code_verifier_is_rejected(emulator: RunningEmulator) -> None:
    _, challenge = pkce_pair()
    code = sign_in(emulator, ADELE, challenge)["code"][0]
    assert_entra_error(redeem(emulator, code, ""), 400, "invalid_grant", 501481)


def test_a_redirect_uri_mismatch_at_redemption_is_rejected_with_aadsts500112(
    emulator: RunningEmulator,
) -> None:
    verifier, challenge = pkce_pair()
    code = sign_in(emulator, ADELE, challenge)["code"][0]
    answer = redeem(emulator, code, verifier, redirect_uri=APP["redirect_uris"][1])
    assert_entra_error(answer, 400, "invalid_grant", 500112)


def test_a_wrong_secret_at_redemption_is_rejected(emulator: RunningEmulator) -> None:
    verifier, challenge = pkce_pair()
    code = sign_in(emulator, ADELE, challenge)["code"][0]
    assert_entra_error(
        redeem(emulator, code, verifier, client_secret="nope"), 401, "invalid_client", 7000215
    )


def test_cancel_redirects_with_access_denied(emulator: RunningEmulator) -> None:
    _, challenge = pkce_pair()
    answer = requests.post(
        f"{emulator.url}/{TID}/oauth2/v2.0/authorize",
        params=authorize_params(challenge),
        data={"cancel": "1"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["error_description"][0].startswith("AADSTS65004: User declined to consent")
    assert query["state"] == ["st-123"]
    assert "code" not in query


def test_an_unregistered_redirect_uri_shows_an_error_page_and_never_redirects(
    emulator: RunningEmulator,
) -> None:
    _, challenge = pkce_pair()
    for method in ("GET", "POST"):
        answer = requests.request(
            method,
            f"{emulator.url}/{TID}/oauth2/v2.0/authorize",
            params=authorize_params(challenge, redirect_uri="https://evil.example/callback"),
            data={"user": ADELE["oid"]},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 400
        assert "Location" not in answer.headers
        assert "AADSTS50011" in answer.text


def test_an_unknown_client_shows_an_error_page(emulator: RunningEmulator) -> None:
    _, challenge = pkce_pair()
    answer = requests.get(
        f"{emulator.url}/{TID}/oauth2/v2.0/authorize",
        params=authorize_params(challenge, client_id="11111111-2222-3333-4444-555555555555"),
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 400 and "AADSTS700016" in answer.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_authorize_requires_s256_pkce_and_the_code_response_type(
    emulator: RunningEmulator, overrides: dict[str, str], error: str
) -> None:
    _, challenge = pkce_pair()
    answer = requests.get(
        f"{emulator.url}/{TID}/oauth2/v2.0/authorize",
        params=authorize_params(challenge, **overrides),
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == [error]
    assert query["error_description"][0].startswith("AADSTS")


def test_logout_redirects_only_to_a_registered_origin(emulator: RunningEmulator) -> None:
    ok = requests.get(
        f"{emulator.url}/{TID}/oauth2/v2.0/logout",
        params={"post_logout_redirect_uri": "http://localhost:8000/"},
        allow_redirects=False,
        timeout=10,
    )
    assert ok.status_code == 302 and ok.headers["Location"] == "http://localhost:8000/"
    stay = requests.get(
        f"{emulator.url}/{TID}/oauth2/v2.0/logout",
        params={"post_logout_redirect_uri": "https://evil.example/"},
        allow_redirects=False,
        timeout=10,
    )
    assert stay.status_code == 200 and "signed out" in stay.text


# -- msal itself against the emulator ----------------------------------------------------------


class RewritingSession(requests.Session):
    """Sends msal's https://login.microsoftonline.com calls to the emulator."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.trust_env = False
        self.target = target

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        url = str(url).replace("https://login.microsoftonline.com", self.target, 1)
        return super().request(method, url, *args, **kwargs)


def make_msal_app(
    emulator: RunningEmulator, secret: str = SECRET
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=secret,
        authority=f"https://login.microsoftonline.com/{TID}",
        instance_discovery=False,
        http_client=RewritingSession(emulator.url),
    )


def test_msal_acquires_a_client_credentials_token(emulator: RunningEmulator) -> None:
    result = make_msal_app(emulator).acquire_token_for_client(
        scopes=[f"api://{POINT_APP}/.default"]
    )
    assert "access_token" in result, result
    claims = verify_access_token(emulator.state, result["access_token"], POINT_APP)
    assert "Point.Provisioning" in claims["roles"]


def test_msal_returns_the_aadsts_error_for_a_bad_secret(emulator: RunningEmulator) -> None:
    result = make_msal_app(emulator, secret="wrong").acquire_token_for_client(
        scopes=[f"{POINT_APP}/.default"]
    )
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]


def test_msal_completes_the_auth_code_flow(emulator: RunningEmulator) -> None:
    app = make_msal_app(emulator)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # msal recommends form_post; query mode is intended
        flow = app.initiate_auth_code_flow(
            ["User.Read"], redirect_uri=REDIRECT, login_hint=ADELE["upn"]
        )
    assert flow["auth_uri"].startswith(f"{emulator.url}/{TID}/oauth2/v2.0/authorize?")
    page = requests.get(flow["auth_uri"], timeout=10)
    assert ADELE["upn"] in page.text
    answer = requests.post(
        flow["auth_uri"], data={"user": ADELE["oid"]}, allow_redirects=False, timeout=10
    )
    auth_response = {
        k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()
    }
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert "id_token_claims" in result, result
    assert result["id_token_claims"]["oid"] == ADELE["oid"]
    assert result["id_token_claims"]["roles"] == ["Portal.Requester"]
    assert result["id_token_claims"]["tid"] == TID


# -- control: id_token overrides and redirect URIs (portal sign-in tests) ---------------------


def _id_token_after_sign_in(emulator: RunningEmulator) -> requests.Response:
    verifier, challenge = pkce_pair()
    code = sign_in(emulator, ADELE, challenge)["code"][0]
    return redeem(emulator, code, verifier)


def test_an_id_token_override_changes_only_the_next_id_token(emulator: RunningEmulator) -> None:
    emulator.control("id-token-overrides", claims={"aud": "someone-else"}, remove=["email"])
    first = jwt.decode(
        _id_token_after_sign_in(emulator).json()["id_token"], options={"verify_signature": False}
    )
    second = jwt.decode(
        _id_token_after_sign_in(emulator).json()["id_token"], options={"verify_signature": False}
    )
    assert first["aud"] == "someone-else"
    assert "email" not in first
    assert second["aud"] == CLIENT_ID
    assert second["email"] == ADELE["mail"]


def test_a_tampered_id_token_fails_only_its_signature_check(emulator: RunningEmulator) -> None:
    emulator.control("id-token-overrides", tamper_signature=True)
    token = _id_token_after_sign_in(emulator).json()["id_token"]
    keys = requests.get(f"{emulator.url}/{TID}/discovery/v2.0/keys", timeout=10).json()["keys"]
    key = jwt.PyJWK(keys[0]).key
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, key, algorithms=["RS256"], audience=CLIENT_ID)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["oid"] == ADELE["oid"]


def test_a_redirect_uri_can_be_registered_for_tests(emulator: RunningEmulator) -> None:
    extra = "http://testserver/auth/callback"
    answer = emulator.control("redirect-uris", client_id=CLIENT_ID, add=[extra])
    assert extra in answer["redirect_uris"]
    _verifier, challenge = pkce_pair()
    assert sign_in(emulator, ADELE, challenge, redirect_uri=extra)["code"]
    emulator.control("redirect-uris", client_id=CLIENT_ID, remove=[extra])
    page = requests.get(
        f"{emulator.url}/{TID}/oauth2/v2.0/authorize",
        params=authorize_params(challenge, redirect_uri=extra),
        timeout=10,
    )
    assert "AADSTS50011" in page.text
