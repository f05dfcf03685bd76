"""Point's bearer validation and permission matrix (401 and 403), over real HTTP."""

from __future__ import annotations

import time

import pytest
import requests

from emulator.server import RunningEmulator
from tests.emulator.test_point_support import CONTOSO, FABRIKAM, Point, app, token

ENDPOINTS = [
    ("GET", "/provision/templates"),
    ("POST", "/provision/teams"),
    ("GET", "/provision/requests/6f1c2d0e-3a7b-4c55-9f0e-2b8d7e61a9c4"),
    ("GET", "/groups"),
    ("GET", "/groups/All Company"),
    ("POST", "/groups/memberships"),
    ("GET", "/sites"),
    ("POST", "/sites/permissions/generate"),
    ("POST", "/users/access/generate"),
    ("GET", "/requests/0b7a3c52-9d7e-4a57-8d2b-1f0e5c7d9a11/status"),
    ("GET", "/webhooks/endpoints"),
    ("GET", "/options"),
]


def call(point: Point, method: str, path: str) -> requests.Response:
    return requests.request(
        method,
        point.url(path),
        headers=point.headers,
        json={} if method == "POST" else None,
        timeout=10,
    )


def assert_401(answer: requests.Response) -> None:
    assert answer.status_code == 401
    assert answer.content == b""
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_it_answers_401_with_a_bearer_challenge_without_a_token(
    emulator: RunningEmulator, method: str, path: str
) -> None:
    answer = call(Point(emulator, CONTOSO, None), method, path)
    assert_401(answer)
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_it_answers_401_to_a_malformed_token(emulator: RunningEmulator) -> None:
    answer = Point(emulator, CONTOSO, "not.a.jwt").get("/groups")
    assert_401(answer)
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_it_answers_401_to_a_non_bearer_scheme(emulator: RunningEmulator) -> None:
    answer = requests.get(
        f"{emulator.url}/point/contoso/v1.0/groups",
        headers={"Authorization": "Basic YTpi"},
        timeout=10,
    )
    assert_401(answer)


def test_it_answers_401_to_an_expired_token(emulator: RunningEmulator) -> None:
    emulator.control("token-lifetime", seconds=1)
    point = Point(emulator, CONTOSO, token(emulator, CONTOSO))
    time.sleep(2.1)
    assert_401(point.get("/groups"))


def test_it_answers_401_to_a_token_for_another_audience(emulator: RunningEmulator) -> None:
    graph = token(emulator, CONTOSO, scope="https://graph.microsoft.com/.default")
    assert_401(Point(emulator, CONTOSO, graph).get("/groups"))


def test_it_answers_401_to_a_token_from_another_tenant(emulator: RunningEmulator) -> None:
    # A valid Fabrikam token for Fabrikam's Point must not open Contoso's Point.
    fabrikam_token = token(emulator, FABRIKAM)
    assert Point(emulator, FABRIKAM, fabrikam_token).get("/groups").status_code == 200
    assert_401(Point(emulator, CONTOSO, fabrikam_token).get("/groups"))


def test_it_answers_404_for_an_unknown_point_instance(emulator: RunningEmulator) -> None:
    answer = requests.get(f"{emulator.url}/point/northwind/v1.0/groups", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["exceptionType"].endswith("ResourceMissingException")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/provision/templates", False),
        ("POST", "/provision/teams", False),
        ("GET", "/provision/requests/6f1c2d0e-3a7b-4c55-9f0e-2b8d7e61a9c4", False),
        ("GET", "/webhooks/endpoints", False),
        ("GET", "/options", False),
        ("GET", "/groups", True),
        ("GET", "/sites", True),
        ("POST", "/sites/permissions/generate", True),
        ("POST", "/groups/memberships", True),
    ],
)
def test_a_sharepoint_read_all_only_app_gets_403_outside_its_permission(
    emulator: RunningEmulator, method: str, path: str, allowed: bool
) -> None:
    reader = Point(emulator, FABRIKAM, token(emulator, FABRIKAM, app(FABRIKAM, permissions=1)))
    answer = call(reader, method, path)
    if allowed:
        assert answer.status_code in (200, 202)
    else:
        assert answer.status_code == 403
        assert answer.content == b""  # names nothing, secret or not


def test_a_revoked_permission_closes_its_endpoints_to_new_tokens(emulator: RunningEmulator) -> None:
    portal = app(CONTOSO)
    emulator.control("permissions", client_id=portal["client_id"], revoke=["Point.Provisioning"])
    point = Point(emulator, CONTOSO, token(emulator, CONTOSO))
    assert point.get("/provision/templates").status_code == 403
    assert point.get("/groups").status_code == 200


def test_point_async_requests_alone_opens_groups_and_status_but_not_sites_or_users(
    emulator: RunningEmulator,
) -> None:
    portal = app(CONTOSO)
    emulator.control(
        "permissions",
        client_id=portal["client_id"],
        revoke=["SharePoint.Read.All", "Point.Admin", "Point.Provisioning"],
    )
    point = Point(emulator, CONTOSO, token(emulator, CONTOSO))
    assert point.get("/groups").status_code == 200
    started = point.post("/groups/memberships", {})
    assert started.status_code == 202
    assert point.get(started.headers["Location"], allow_redirects=False).status_code in (200, 302)
    assert point.get("/sites").status_code == 403
    assert (
        point.post("/users/access/generate", {"user": CONTOSO["users"][0]["upn"]}).status_code
        == 403
    )


def test_routes_match_case_insensitively(emulator: RunningEmulator) -> None:
    point = Point(emulator, CONTOSO, token(emulator, CONTOSO))
    assert (
        requests.get(
            f"{emulator.url}/Point/CONTOSO/V1.0/Provision/Templates",
            headers=point.headers,
            timeout=10,
        ).status_code
        == 200
    )
