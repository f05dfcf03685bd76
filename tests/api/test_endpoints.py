"""The REST API's endpoints with real Entra tokens from the emulator: what each answers to a
valid token, and to an expired one, another tenant's, one without the role, a disabled client
and a wrong audience. Errors are problem documents."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from api import api as api_module
from api.models import API_ROLES, DIRECTORY_READ, REQUESTS_READ, ApiClient
from audit.models import AuditAction, AuditEvent
from directory.models import ReportRow, ReportRun
from provisioning.models import ProvisioningRequest, RequestEvent, Template
from provisioning.states import State
from tenants.models import Tenant
from tests.api.conftest import demo_app, fetch_token
from tests.provisioning.ui_fixtures import make_template

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
ADELE = "adele.vance@contoso.onmicrosoft.com"
ALEX = "alex.wilber@contoso.onmicrosoft.com"


@pytest.fixture(autouse=True)
def _fresh_rate_counts() -> None:
    """Rate counts live in the cache, keyed by client id: ids come back in each test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def desk(live_tenant_a: Tenant) -> ApiClient:
    return ApiClient.objects.create(
        name="ServiceNow",
        tenant=live_tenant_a,
        app_id=demo_app("contoso")["client_id"],
        roles=list(API_ROLES),
    )


@pytest.fixture
def token(emulator: RunningEmulator, desk: ApiClient) -> str:
    return fetch_token(emulator, "contoso")


@pytest.fixture
def template(live_tenant_a: Tenant) -> Template:
    return make_template(live_tenant_a, 3)  # "Public team": one owner, editable URL


def call(method: str, path: str, bearer: str = "", **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    headers.update(kwargs.pop("headers", {}))
    if "json" in kwargs:
        kwargs["data"] = json.dumps(kwargs.pop("json"))
        kwargs["content_type"] = "application/json"
    return getattr(Client(), method.lower())(f"/api/v1{path}", headers=headers, **kwargs)


def body(template: Template, name: str = "Falcon", **extra: Any) -> dict[str, Any]:
    return {"template": template.pk, "display_name": name, "owners": [ADELE], **extra}


# --- Submitting -------------------------------------------------------------------------------


def test_a_submitted_request_shows_it_came_through_the_api_and_is_audited_with_the_client(
    token: str, template: Template, desk: ApiClient
) -> None:
    answer = call("POST", "/requests", token, json=body(template))
    assert answer.status_code == 201, answer.content
    data = answer.json()
    assert data["state"] == State.SUBMITTED and data["owners"] == [ADELE]
    (event,) = data["events"]
    assert event["source"] == "api" and "through the API (ServiceNow)" in event["detail"]
    audit = AuditEvent.objects.get(action=AuditAction.REQUEST_SUBMITTED)
    assert "ServiceNow" in audit.person and "through the API" in audit.detail
    item = ProvisioningRequest.objects.get()
    assert item.requested_by == ApiClient.objects.get().user


def test_the_same_idempotency_key_and_body_return_the_first_answer(
    token: str, template: Template
) -> None:
    key = {"Idempotency-Key": "INC0012345"}
    first = call("POST", "/requests", token, json=body(template), headers=key)
    again = call("POST", "/requests", token, json=body(template), headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert ProvisioningRequest.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_a_409(
    token: str, template: Template
) -> None:
    key = {"Idempotency-Key": "INC0012345"}
    call("POST", "/requests", token, json=body(template), headers=key)
    other = call("POST", "/requests", token, json=body(template, "Other"), headers=key)
    assert other.status_code == 409 and other["Content-Type"] == PROBLEM
    assert "another body" in other.json()["detail"]
    assert ProvisioningRequest.objects.count() == 1


def test_without_a_key_every_call_is_a_new_request(token: str, template: Template) -> None:
    for _ in range(2):
        assert call("POST", "/requests", token, json=body(template)).status_code == 201
    assert ProvisioningRequest.objects.count() == 2


def test_what_the_form_refuses_comes_back_field_by_field(token: str, template: Template) -> None:
    answer = call(
        "POST",
        "/requests",
        token,
        json=body(template, owners=[], desired_url="not a url!", privacy="secret"),
    )
    assert answer.status_code == 422 and answer["Content-Type"] == PROBLEM
    problem = answer.json()
    assert problem["title"] and problem["status"] == 422
    assert "privacy" in problem["errors"]
    fixed = call("POST", "/requests", token, json=body(template, owners=[], desired_url="bad url"))
    assert set(fixed.json()["errors"]) >= {"owners", "desired_url"}
    assert not ProvisioningRequest.objects.exists()


def test_a_template_of_another_organisation_is_refused(token: str, live_tenant_b: Tenant) -> None:
    theirs = make_template(live_tenant_b, 3)
    answer = call("POST", "/requests", token, json=body(theirs))
    assert answer.status_code == 422 and "template" in answer.json()["errors"]


# --- Reading ----------------------------------------------------------------------------------


def test_templates_list_the_fields_a_request_takes(token: str, template: Template) -> None:
    (found,) = call("GET", "/templates", token).json()
    assert found["id"] == template.pk and found["workload"] == "team"
    names = {f["name"] for f in found["fields"]}
    assert {"display_name", "owners", "desired_url"} <= names


def test_requests_page_by_cursor_newest_first(token: str, template: Template) -> None:
    made = [
        call("POST", "/requests", token, json=body(template, f"F{n}")).json()["id"]
        for n in range(3)
    ]
    first = call("GET", "/requests?limit=2", token).json()
    assert [i["id"] for i in first["items"]] == made[:0:-1]
    second = call("GET", f"/requests?limit=2&cursor={first['next_cursor']}", token).json()
    assert [i["id"] for i in second["items"]] == made[:1] and second["next_cursor"] is None
    assert call("GET", "/requests?cursor=garbage", token).status_code == 400


def test_changes_since_hand_out_each_change_once_and_a_cursor_to_keep(
    token: str, template: Template, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_module, "CHANGES_SETTLE", timedelta(0))
    made = call("POST", "/requests", token, json=body(template)).json()
    start = call("GET", "/requests/changes", token).json()
    assert [i["id"] for i in start["items"]] == [made["id"]]
    quiet = call("GET", f"/requests/changes?since={start['cursor']}", token).json()
    assert quiet["items"] == [] and quiet["cursor"] == start["cursor"]
    call("POST", f"/requests/{made['id']}/cancel", token)
    moved = call("GET", f"/requests/changes?since={start['cursor']}", token).json()
    assert [(i["id"], i["state"]) for i in moved["items"]] == [(made["id"], "cancelled")]


def test_a_request_of_another_organisation_is_a_404(
    token: str, live_tenant_b: Tenant, template: Template
) -> None:
    from core.roles import Role
    from tests.conftest import make_user
    from tests.provisioning.ui_fixtures import make_request

    theirs = make_request(
        make_template(live_tenant_b, 3), make_user(live_tenant_b, "Lee", Role.ADMIN)
    )
    answer = call("GET", f"/requests/{theirs.pk}", token)
    assert answer.status_code == 404 and answer["Content-Type"] == PROBLEM


def test_cancel_and_retry_follow_the_same_rules_as_the_buttons(
    token: str, template: Template
) -> None:
    made = call("POST", "/requests", token, json=body(template)).json()
    assert call("POST", f"/requests/{made['id']}/retry", token).status_code == 409
    cancelled = call("POST", f"/requests/{made['id']}/cancel", token)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["events"][-1]["source"] == RequestEvent.Source.API
    again = call("POST", f"/requests/{made['id']}/cancel", token)
    assert again.status_code == 409 and again.json()["detail"]


def test_groups_sites_and_a_membership_snapshot_as_the_directory_shows_them(
    token: str, live_tenant_a: Tenant
) -> None:
    groups = call("GET", "/groups?search=All", token)
    assert groups.status_code == 200, groups.content
    group = next(g for g in groups.json()["items"] if g["name"] == "All Company")
    assert call("GET", f"/groups/{group['id']}/memberships", token).status_code == 404
    run = ReportRun.objects.create(
        tenant=live_tenant_a,
        kind="group_memberships",
        subject=group["id"],
        subject_label=group["name"],
        state=ReportRun.State.SUCCEEDED,
        finished_at=timezone.now(),
    )
    ReportRow.objects.create(
        run=run, position=0, name="Adele", upn=ADELE, kind="user", role="owner"
    )
    snapshot = call("GET", f"/groups/{group['id']}/memberships", token).json()
    assert snapshot["rows"] == [{"name": "Adele", "upn": ADELE, "kind": "user", "role": "owner"}]
    assert call("GET", "/sites", token).json()["items"]


def test_the_openapi_document_and_its_docs_are_served(db: None) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.") and "/api/v1/requests" in schema["paths"]
    refused = schema["paths"]["/api/v1/requests"]["post"]["responses"]["422"]["content"]
    assert PROBLEM in refused
    assert Client().get("/api/v1/docs").status_code == 200


# --- Who may call --------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/templates", REQUESTS_READ),
    ("POST", "/requests", REQUESTS_READ),
    ("GET", "/requests", REQUESTS_READ),
    ("GET", "/requests/changes", REQUESTS_READ),
    ("GET", "/requests/{pk}", REQUESTS_READ),
    ("POST", "/requests/{pk}/cancel", REQUESTS_READ),
    ("POST", "/requests/{pk}/retry", REQUESTS_READ),
    ("GET", "/groups", DIRECTORY_READ),
    ("GET", "/groups/{group}/memberships", DIRECTORY_READ),
    ("GET", "/sites", DIRECTORY_READ),
]


def _ask(method: str, path: str, bearer: str, template: Template, pk: int) -> Any:
    path = path.format(pk=pk, group="00000000-0000-0000-0000-000000000001")
    payload = {"json": body(template)} if path == "/requests" and method == "POST" else {}
    return call(method, path, bearer, **payload)


@pytest.fixture
def existing(token: str, template: Template) -> int:
    return int(call("POST", "/requests", token, json=body(template)).json()["id"])


@pytest.mark.parametrize(("method", "path", "needs"), ENDPOINTS)
def test_every_endpoint_refuses_each_bad_token_or_client_with_a_problem(
    method: str,
    path: str,
    needs: str,
    emulator: RunningEmulator,
    token: str,
    desk: ApiClient,
    template: Template,
    existing: int,
    live_tenant_b: Tenant,
) -> None:
    assert _ask(method, path, token, template, existing).status_code not in (401, 403)

    def refused(bearer: str, status: int) -> None:
        answer = _ask(method, path, bearer, template, existing)
        assert answer.status_code == status, (answer.status_code, answer.content)
        assert answer["Content-Type"] == PROBLEM and answer.json()["title"]

    refused("", 401)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        refused(token, 401)  # expired
    refused(fetch_token(emulator, "fabrikam"), 403)  # another tenant's client, not registered
    graph = fetch_token(emulator, "contoso", scope="https://graph.microsoft.com/.default")
    refused(graph, 401)  # wrong audience
    desk.roles = [r for r in API_ROLES if r != needs and not r.startswith(needs.split(".")[0])]
    desk.save()
    refused(token, 403)  # the role is missing
    desk.roles, desk.enabled = list(API_ROLES), False
    desk.save()
    refused(token, 403)  # disabled


def test_a_client_over_its_rate_limit_gets_429_with_retry_after(
    token: str, desk: ApiClient
) -> None:
    desk.rate_limit = "2/min"
    desk.save()
    assert [call("GET", "/requests", token).status_code for _ in range(2)] == [200, 200]
    over = call("GET", "/requests", token)
    assert over.status_code == 429 and over["Content-Type"] == PROBLEM
    assert 0 < int(over["Retry-After"]) <= 60


def test_a_request_django_itself_refuses_is_a_problem_too(db: None) -> None:
    """Found by schemathesis: a Host header Django refuses answered an HTML page."""
    answer = Client().get("/api/v1/groups", HTTP_HOST="-nt")
    assert answer.status_code == 400 and answer["Content-Type"] == PROBLEM
    assert answer.json()["title"] == "Bad request"
    page = Client().get("/requests/", HTTP_HOST="-nt")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")
