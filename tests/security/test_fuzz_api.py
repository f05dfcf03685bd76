"""Fuzzing the REST API's bodies, query parameters, ids and headers, and the webhook receiver
(issue 19, item 5; docs/security.md "Fuzzing").

tests/api/test_schema.py already runs schemathesis over the OpenAPI document: calls shaped by
the schema (and against it), checked for conformance. This file sends what a schema does not
describe: the odd strings of test_fuzz_forms.py in every field, JSON of any type where a field
expects another, NaN and numbers past any range, bodies that are no JSON at all, ids no
database can hold, and garbage tokens. Whatever arrives, the API answers a 4xx problem
document (never a 5xx, never an HTML page), saves nothing it refused, and a request it
accepted is stored whole and shown escaped on the portal's pages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from hypothesis import settings
from hypothesis import strategies as st

from api.models import API_ROLES, ApiClient
from portal.models import User
from provisioning.models import ProvisioningRequest, Template, WebhookDelivery
from tenants.models import Tenant, WebhookSubscription
from tests.api.conftest import demo_app, fetch_token
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_request, make_template
from tests.security.test_fuzz_forms import (
    DATES,
    UPNS,
    URLS,
    affixed_template,
    assert_answered,
    assert_saved_consistently,
    budget,
    counts,
    fuzz,
    nasty,
)

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

__all__ = ["budget"]  # the fixture, shared with test_fuzz_forms.py

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
ADELE = "adele.vance@contoso.onmicrosoft.com"

# JSON of every type, nested a little: what a client may send where another type is expected.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | nasty,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty, inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture
def bearer(emulator: RunningEmulator, live_tenant_a: Tenant) -> dict[str, str]:
    """Contoso's service desk with every role and no rate limit in the way: its token header."""
    ApiClient.objects.create(
        name="Fuzzer",
        tenant=live_tenant_a,
        app_id=demo_app("contoso")["client_id"],
        roles=list(API_ROLES),
        rate_limit="100000/min",
    )
    return {"Authorization": f"Bearer {fetch_token(emulator, 'contoso')}"}


def assert_problem(response: Any, *allowed: int) -> Any:
    """One of ``allowed``, as JSON (a problem document for a 4xx); never a server error, never
    an HTML page. JSON carries what was sent as data: with nosniff, no browser renders it."""
    assert response.status_code < 500, response.status_code
    assert response.status_code in allowed, (response.status_code, response.content[:300])
    kind = response["Content-Type"].split(";")[0]
    assert kind == (PROBLEM if response.status_code >= 400 else "application/json"), kind
    assert response["X-Content-Type-Options"] == "nosniff"
    found = json.loads(response.content)
    if response.status_code >= 400:
        assert found["status"] == response.status_code and found["title"]
    return found


def post_json(client: Client, url: str, payload: Any, headers: dict[str, str]) -> Any:
    # NaN and Infinity as Python writes them (JSON has no such literal): sent all the same.
    return client.post(url, json.dumps(payload), content_type="application/json", headers=headers)


# --- POST /requests -------------------------------------------------------------------------------


def valid_body(template: Template) -> dict[str, Any]:
    return {
        "template": template.pk,
        "display_name": "Falcon",
        "owners": [ADELE, "alex.wilber@contoso.onmicrosoft.com"],
        "privacy": "private",
        "metadata": {"Cost Center": "CC-1", "Project Manager": ADELE, "Department": "Finance"},
    }


BODY_FIELDS = (
    "template",
    "display_name",
    "description",
    "desired_url",
    "privacy",
    "owners",
    "members",
    "metadata",
    "comment",
    "state",
    "tenant",
    "upstream_id",
)


def field_value(template: Template) -> st.SearchStrategy[Any]:
    """A value for any field of a new request: an odd string, JSON of another type, lists of
    odd user names, metadata of odd labels and values, or a template id that is not one."""
    return st.one_of(
        nasty,
        json_values,
        st.lists(st.one_of(st.sampled_from(UPNS), nasty), max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["Cost Center", "Budget", "End Date", "External Partners"]), nasty
            ),
            json_values,
            max_size=4,
        ),
        st.sampled_from([template.pk + 1000, -1, 0, 2**63, 10**30, 1.5, "1", True]),
    )


def test_a_new_request_of_any_shape_is_created_whole_or_refused_as_a_problem(
    bearer: dict[str, str], live_tenant_a: Tenant, it_staff: User, budget: settings
) -> None:
    template = make_template(live_tenant_a, 1)
    client, staff = Client(), client_for(it_staff)
    baseline = valid_body(template)
    assert post_json(client, "/api/v1/requests", baseline, bearer).status_code == 201
    ProvisioningRequest.objects.all().delete()

    seeds = [
        ({"display_name": "a" * 256, "desired_url": "falcon", "owners": [UPNS[-2], ADELE]},),
        ({"metadata": {"Budget": math.nan, "End Date": "9999-12-31", "Cost Center": None}},),
    ]

    @fuzz(
        budget,
        st.dictionaries(st.sampled_from(BODY_FIELDS), field_value(template), min_size=1),
        seeds=seeds,
    )
    def check(changes: dict[str, Any]) -> None:
        payload = {**baseline, **changes}
        before = counts()
        response = post_json(client, "/api/v1/requests", payload, bearer)
        found = assert_problem(response, 201, 422, 400)
        if response.status_code != 201:
            assert counts() == before
            return
        item = ProvisioningRequest.objects.get(pk=found["id"])
        # Fields a client may not set are the portal's (access matrix: mass assignment).
        assert (item.state, item.tenant_id, item.upstream_id) == ("submitted", live_tenant_a.pk, "")
        assert_saved_consistently(item)
        assert_problem(client.get(f"/api/v1/requests/{item.pk}", headers=bearer), 200)
        for page in (f"/requests/{item.pk}/", "/requests/all/", "/"):
            assert_answered(staff.get(page), (), 200)

    check()


def test_a_name_too_long_with_the_templates_affixes_is_a_422_naming_the_field(
    bearer: dict[str, str], live_tenant_a: Tenant
) -> None:
    """Found while fuzzing (see test_fuzz_forms.py): a 500 on PostgreSQL before."""
    template = affixed_template(live_tenant_a, "graph", ())
    body = {"template": template.pk, "display_name": "a" * 256, "owners": [ADELE]}
    response = post_json(Client(), "/api/v1/requests", body, bearer)
    found = assert_problem(response, 422)
    assert found["errors"]["display_name"] == [
        "With the template's prefix and suffix the name would be 316 characters; at most 300."
    ]
    assert not ProvisioningRequest.objects.exists()


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_a_body_that_is_no_json_object_is_a_problem(
    bearer: dict[str, str], live_tenant_a: Tenant, content_type: str, budget: settings
) -> None:
    make_template(live_tenant_a, 1)
    client = Client()
    raw = st.one_of(
        st.binary(max_size=300),
        nasty.map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
    )

    @fuzz(budget, raw)
    def check(body: bytes) -> None:
        before = counts()
        response = client.generic(
            "POST",
            "/api/v1/requests",
            body,
            content_type=content_type,
            headers=bearer,
        )
        assert_problem(response, 400, 422)
        assert counts() == before

    check()


# --- Query parameters and ids ---------------------------------------------------------------------

QUERIES = {
    "/api/v1/requests": ("state", "workload", "q", "cursor", "limit"),
    "/api/v1/requests/changes": ("since", "limit"),
    "/api/v1/templates": ("q",),
    "/api/v1/groups": ("search", "page", "fresh"),
    "/api/v1/sites": ("search", "page", "fresh"),
}
KNOWN = {
    "state": ["submitted", "failed", "completed"],
    "workload": ["team", "group", "site"],
    "limit": ["1", "100", "101", "0", "-1", "9" * 30, "1e3", "NaN"],
    "page": ["1", "2", "10000", "10001", "0", "-1", "9" * 30],
    "fresh": ["true", "false", "1", "yes", "maybe"],
    # A cursor that decodes to odd JSON: a date past 9999, a naive one, an id that is no int.
    "cursor": [
        base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
        for value in (
            ["9999-12-31T23:59:59+00:00", 2**70],
            ["0001-01-01T00:00:00-12:00", 1],
            ["2024-01-01T00:00:00", 1],
            ["2024-01-01T00:00:00+00:00", "1"],
            [None, None],
            {"a": 1},
        )
    ],
}
KNOWN["since"] = KNOWN["cursor"]


@pytest.mark.parametrize("path", list(QUERIES))
def test_every_api_list_takes_any_query_and_answers_json(
    bearer: dict[str, str], live_tenant_a: Tenant, requester_a: User, path: str, budget: settings
) -> None:
    template = make_template(live_tenant_a, 1)
    for name in ("<script>alert(1)</script>", "Apollo", "%_\\"):
        make_request(template, requester_a, name=name)
    client = Client()
    values = {
        key: st.one_of(st.sampled_from(KNOWN.get(key, ["x"])), nasty) for key in QUERIES[path]
    }

    @fuzz(budget, st.fixed_dictionaries({}, optional=values))
    def check(query: dict[str, str]) -> None:
        with_nothing_saved(lambda: client.get(path, query, headers=bearer), 200, 400, 422)

    check()


def with_nothing_saved(call: Any, *allowed: int) -> Any:
    before = counts()
    found = assert_problem(call(), *allowed)
    assert counts() == before
    return found


IDS = st.one_of(
    nasty,
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.sampled_from(["9" * 30, "-1", "0", "1.5", "1e3", "0x1", " 1", "%2e%2e", "..", "."]),
)


@pytest.mark.parametrize(
    ("method", "address"),
    [
        ("GET", "/api/v1/requests/{}"),
        ("POST", "/api/v1/requests/{}/cancel"),
        ("POST", "/api/v1/requests/{}/retry"),
        ("GET", "/api/v1/groups/{}/memberships"),
    ],
)
def test_any_id_in_an_api_address_is_a_problem_not_an_error(
    bearer: dict[str, str], live_tenant_a: Tenant, method: str, address: str, budget: settings
) -> None:
    client = Client()

    @fuzz(budget, IDS, seeds=[("a/b",)])  # an id holding "/" matches no route
    def check(value: str) -> None:
        url = address.format(quote(value, safe=""))
        with_nothing_saved(lambda: client.generic(method, url, headers=bearer), 400, 404, 422)

    check()


@pytest.mark.parametrize(
    "address",
    ["/api/v1/nothing", "/api/v1/groups/a%2Fb/memberships", "/api/v1/requests/1/2", "/api/v2/"],
)
def test_an_api_address_no_route_matches_is_a_problem_document(
    bearer: dict[str, str], address: str
) -> None:
    """Found by the fuzzer: an id holding "/" (or any unknown address) got the portal's HTML
    404 page instead of a problem document (portal/views.py page_not_found)."""
    found = assert_problem(Client().get(address, headers=bearer), 404)
    assert found["title"] == "Not found"


# --- Headers ---------------------------------------------------------------------------------------


def test_any_idempotency_key_submits_once_or_is_refused(
    bearer: dict[str, str], live_tenant_a: Tenant, budget: settings
) -> None:
    template = make_template(live_tenant_a, 3)
    client = Client()
    body = {"template": template.pk, "display_name": "Keyed", "owners": [ADELE]}
    # Header values are latin-1 on the wire (WSGI): what a client can send at all.
    keys = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=300)

    @fuzz(budget, keys)
    def check(key: str) -> None:
        headers = {**bearer, "Idempotency-Key": key}
        first = post_json(client, "/api/v1/requests", body, headers)
        again = post_json(client, "/api/v1/requests", body, headers)
        assert_problem(first, 201, 400)
        if first.status_code == 400:
            assert again.status_code == 400
            return
        expected = 200 if key else 201  # without a key, each call is a new request
        assert_problem(again, expected)
        assert ProvisioningRequest.objects.count() == (1 if key else 2)

    check()


TOKENS = st.one_of(
    nasty,
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=200),
    st.lists(
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=80),
        min_size=1,
        max_size=5,
    ).map(".".join),
    st.dictionaries(st.sampled_from(["alg", "kid", "typ"]), json_values, max_size=3).map(
        lambda header: ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in (header, {"tid": str(uuid.uuid4())}, "x")
        )
    ),
)


def test_a_garbage_token_is_a_401_problem(live_tenant_a: Tenant, budget: settings) -> None:
    client = Client()

    @fuzz(budget, TOKENS, st.sampled_from(["Bearer ", "bearer ", "", "Basic "]))
    def check(token: str, scheme: str) -> None:
        header = (scheme + token).encode("latin-1", "replace").decode("latin-1")
        response = client.get("/api/v1/requests", headers={"Authorization": header})
        assert_problem(response, 401, 403)

    check()


# --- The webhook receiver -------------------------------------------------------------------------

KEY = "158b08cc-6a06-49f2-a724-2bc514fdcf1e"


def signature(body: bytes) -> str:
    digest = hmac.new(KEY.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def webhook(
    tenant_a: Tenant, it_staff: User, monkeypatch: pytest.MonkeyPatch
) -> tuple[WebhookSubscription, Client]:
    """Contoso's webhooks on, signed with ``KEY``; IT staff's browser for the deliveries page."""
    # No upstream here: a key re-read the receiver asks for is not run.
    monkeypatch.setattr("tenants.tasks.refresh_webhook_key", lambda tenant_id: False)
    subscription = WebhookSubscription(
        tenant=tenant_a,
        enabled=True,
        registered_url="https://portal.example/hooks/x",
        registered_at=timezone.now(),
        key_read_at=timezone.now(),
    )
    subscription.set_signing_key(KEY)
    subscription.save()
    return subscription, client_for(it_staff)


def test_the_webhook_receiver_takes_any_body_signed_or_not(
    webhook: tuple[WebhookSubscription, Client],
    tenant_a: Tenant,
    requester_a: User,
    budget: settings,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscription, staff = webhook
    # A request in flight an event may name (Point's envelope, docs/webhooks.md).
    make_request(make_template(tenant_a, 3), requester_a, name="Apollo", state="in_progress")
    client = Client()
    url = f"/hooks/{subscription.token}"
    odd = st.one_of(nasty, json_values)
    content = st.fixed_dictionaries(
        {},
        optional={
            "name": st.one_of(st.just("Apollo"), odd),
            "type": st.one_of(st.sampled_from(["MicrosoftTeams", "M365Group"]), odd),
            "id": odd,
            "requestId": odd,
            "status": odd,
            "url": st.one_of(st.sampled_from(URLS), odd),
        },
    )
    meta = st.fixed_dictionaries(
        {},
        optional={
            "timeStamp": st.one_of(st.sampled_from(DATES), odd),
            "idempotencyKey": st.one_of(st.uuids().map(str), odd),
        },
    )
    envelope = st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(
                st.sampled_from(["WorkspaceCreated", "WorkspaceCreationFailed", "RequestApproved"]),
                odd,
            ),
            "content": st.one_of(content, odd),
            "meta": st.one_of(meta, odd),
        },
    )
    bodies = st.one_of(envelope.map(lambda e: json.dumps(e).encode()), st.binary(max_size=300))

    nul = json.dumps({"type": "WorkspaceCreated", "content": {"name": "Apollo\u0000"}})
    seeds = [(b"\x00", "signed"), (nul.encode(), "signed")]

    @fuzz(budget, bodies, st.sampled_from(["signed", "unsigned", "forged"]), seeds=seeds)
    def check(raw: bytes, how: str) -> None:
        headers = {"Algorithm": "HMACSHA256"}
        if how != "unsigned":
            headers["Signature"] = signature(raw if how == "signed" else raw + b"x")
        # The delivery is processed on commit (matched, applied): inline here.
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, raw, content_type="application/json", headers=headers)
        if len(raw) > django_settings.WEBHOOK_MAX_BODY:
            assert response.status_code == 413  # not read, signed or not
        else:
            assert response.status_code == (200 if how == "signed" else 401)
        for page in ("/requests/webhooks/", "/requests/webhooks/export.csv", "/requests/all/"):
            assert_answered(staff.get(page), (), 200)

    check()


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00",
        json.dumps({"type": "Workspace\u0000Created", "meta": {"idempotencyKey": "k1"}}).encode(),
        json.dumps({"type": "WorkspaceCreated", "content": {"name": "Apollo\u0000"}}).encode(),
        json.dumps({"type": "WorkspaceCreated", "meta": {"idempotencyKey": "k\u00002"}}).encode(),
    ],
    ids=["raw-byte", "type", "name", "key"],
)
def test_a_signed_event_holding_a_nul_is_kept_as_malformed_not_a_server_error(
    webhook: tuple[WebhookSubscription, Client], raw: bytes
) -> None:
    """Found while fuzzing: a 500 on PostgreSQL (no NUL in text), which the upstream answers by
    sending the event again and again."""
    subscription, _ = webhook
    headers = {"Algorithm": "HMACSHA256", "Signature": signature(raw)}
    response = Client().post(
        f"/hooks/{subscription.token}", raw, content_type="application/json", headers=headers
    )
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.verdict == WebhookDelivery.Verdict.MALFORMED
    assert "\x00" not in delivery.body


def test_numbers_past_any_range_never_reach_the_database_as_such(
    bearer: dict[str, str], live_tenant_a: Tenant, budget: settings
) -> None:
    template = make_template(live_tenant_a, 1)
    client = Client()
    baseline = valid_body(template)
    numbers = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.sampled_from([math.nan, math.inf, -math.inf, 10**400, -(10**400), 1e-320]),
    )

    @fuzz(
        budget, numbers, st.sampled_from(["Budget", "Cost Center", "End Date", "External Partners"])
    )
    def check(number: Any, label: str) -> None:
        payload = {**baseline, "metadata": {**baseline["metadata"], label: number}}
        found = with_nothing_saved_unless_created(client, payload, bearer)
        if found is not None:
            stored = ProvisioningRequest.objects.get(pk=found["id"]).form_data["metadata"]
            assert json.dumps(stored, allow_nan=False)  # the database holds plain JSON

    check()


def with_nothing_saved_unless_created(
    client: Client, payload: dict[str, Any], bearer: dict[str, str]
) -> Any:
    before = counts()
    response = post_json(client, "/api/v1/requests", payload, bearer)
    found = assert_problem(response, 201, 422)
    if response.status_code == 201:
        return found
    assert counts() == before
    return None
