"""Webhook events and the options answer in each dialect (docs/point-dialects.md, "Webhooks and
options"): the body's shape, the Algorithm header, and a Signature that verifies over the exact
raw bytes with the options key read in the same dialect."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import pytest

from tests.emulator import test_point_support as support
from tests.emulator.test_point_support import TEAM, Point, Receiver, eventually

# Fixtures shared by the Point tests.
fast, contoso, receiver = support.fast, support.contoso, support.receiver

TODAY, MINIMAL, GRAPH, PASCAL = (
    "today",
    "documented-minimal",
    "graph-names",
    "pascal-problem-details",
)
ALGORITHM = {TODAY: "HMACSHA256", MINIMAL: "HMAC-SHA256", GRAPH: "sha256", PASCAL: "HMACSHA256"}
STARTED, COMPLETED, FAILED = "ProvisioningStarted", "ProvisioningCompleted", "ProvisioningFailed"
ZONELESS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
DOTNET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$")
TIMING = {"approval": 0.0, "approved": 0.02, "in_progress": 0.05}
FAILURE = "Exceeded changed links limit(20)"

# Content keys per event type, by dialect.
CONTENT_KEYS: dict[str, dict[str, set[str]]] = {
    TODAY: {
        STARTED: {"name", "type", "requestedOn", "requesterId", "requestId"},
        COMPLETED: {"name", "type", "url", "microsoftId", "requestId"},
        FAILED: {"name", "type", "error", "correlationId", "requestId"},
    },
    MINIMAL: {
        STARTED: {"name", "type", "requestedOn", "requesterId"},
        COMPLETED: {"name", "type", "url", "microsoftId"},
        FAILED: {"name", "type", "error", "correlationId "},
    },
    GRAPH: {
        STARTED: {"displayName", "type", "createdDateTime", "requesterId", "requestId"},
        COMPLETED: {"displayName", "type", "webUrl", "id", "requestId"},
        FAILED: {"displayName", "type", "errorMessage", "correlationId", "requestId"},
    },
    PASCAL: {
        STARTED: {"Name", "Type", "RequestedOn", "RequesterId", "RequestId"},
        COMPLETED: {"Name", "Type", "Url", "MicrosoftId", "RequestId"},
        FAILED: {"Name", "Type", "Error", "CorrelationId", "RequestId"},
    },
}
# Where each dialect puts a field, by today's name.
NAMES: dict[str, dict[str, str]] = {
    TODAY: {},
    MINIMAL: {"correlationId": "correlationId "},
    GRAPH: {
        "name": "displayName",
        "url": "webUrl",
        "microsoftId": "id",
        "requestedOn": "createdDateTime",
        "error": "errorMessage",
    },
    PASCAL: {
        k: k[:1].upper() + k[1:]
        for k in (
            "type",
            "content",
            "meta",
            "timeStamp",
            "idempotencyKey",
            "name",
            "url",
            "microsoftId",
            "requestedOn",
            "requesterId",
            "error",
            "correlationId",
            "requestId",
        )
    },
}


def field(dialect: str, name: str) -> str:
    """``name`` (today's) as ``dialect`` spells it."""
    return NAMES[dialect].get(name, name)


def signature(raw: bytes, key: str) -> str:
    """The documented scheme: Base64(HMAC-SHA256(UTF-8 key, raw body))."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), raw, hashlib.sha256).digest()).decode()


def options_key(point: Point, dialect: str) -> str:
    """The signing key, read from GET /options as ``dialect`` answers it."""
    answer = point.get("/options")
    assert answer.status_code == 200, answer.text
    name = (
        "WebhooksSignatureAuthenticationKey"
        if dialect == PASCAL
        else ("webhooksSignatureAuthenticationKey")
    )
    body = answer.json()
    assert set(body) == {name}
    key = body[name]
    assert isinstance(key, str) and re.fullmatch(r"[0-9a-f-]{36}", key)
    return key


def speak(point: Point, dialect: str) -> None:
    point.emulator.control("dialect", dialect=dialect, tenant=point.tenant["slug"])


def submit(point: Point, name: str, slug: str) -> str:
    answer = point.provision("teams", **{**TEAM, "displayName": name, "desiredUrl": slug})
    assert answer.status_code in (201, 202), answer.text
    return answer.headers["Location"].rsplit("/", 1)[-1]


def control_request(point: Point, request_id: str) -> dict[str, Any]:
    """A request as the control API shows it (today's shape whatever the dialect)."""
    found = [r for r in point.emulator.control_get("requests")["requests"] if r["id"] == request_id]
    assert found, request_id
    return found[0]


def run_both_outcomes(point: Point, receiver: Receiver) -> tuple[str, str]:
    """Register ``receiver``, then drive one request to failure and one to completion; wait
    for their four events. Returns (failed id, completed id)."""
    point.emulator.control("timing", **TIMING)
    answer = point.post("/webhooks/endpoints", {"endpoint": receiver.url, "types": ["*"]})
    assert answer.status_code == 200, answer.text
    point.emulator.control("requests/fail-next", tenant=point.tenant["slug"], message=FAILURE)
    failed = submit(point, "Project Heron", "project-heron")
    completed = submit(point, "Project Falcon", "project-falcon")
    assert eventually(lambda: len(receiver.received) >= 4), receiver.events()
    return failed, completed


@pytest.mark.parametrize("dialect", [TODAY, MINIMAL, GRAPH, PASCAL])
def test_events_are_shaped_signed_and_labelled_in_the_tenants_dialect(
    contoso: Point, receiver: Receiver, dialect: str
) -> None:
    speak(contoso, dialect)
    key = options_key(contoso, dialect)
    failed_id, completed_id = run_both_outcomes(contoso, receiver)

    def f(name: str) -> str:
        return field(dialect, name)

    by_request: dict[tuple[str, str], dict[str, Any]] = {}
    for headers, raw in receiver.received:
        assert headers["Signature"] == signature(raw, key)
        assert headers["Algorithm"] == ALGORITHM[dialect]
        event = json.loads(raw)
        assert set(event) == {f("type"), f("content"), f("meta")}
        assert set(event[f("meta")]) == {f("timeStamp"), f("idempotencyKey")}
        stamp = event[f("meta")][f("timeStamp")]
        assert (DOTNET if dialect == PASCAL else ZONELESS).match(stamp), stamp
        content = event[f("content")]
        assert set(content) == CONTENT_KEYS[dialect][event[f("type")]], content
        assert content[f("type")] == (0 if dialect == PASCAL else "MicrosoftTeams")
        by_request[(content[f("name")], event[f("type")])] = content
        if f("requestId") in content:
            expected = failed_id if content[f("name")] == "Project Heron" else completed_id
            assert content[f("requestId")] == expected
    assert set(by_request) == {
        ("Project Heron", STARTED),
        ("Project Heron", FAILED),
        ("Project Falcon", STARTED),
        ("Project Falcon", COMPLETED),
    }

    started = by_request[("Project Falcon", STARTED)]
    assert ZONELESS.match(started[f("requestedOn")])
    assert started[f("requesterId")]
    failure = by_request[("Project Heron", FAILED)]
    assert failure[f("error")] == FAILURE
    assert failure[f("correlationId")] == control_request(contoso, failed_id)["correlationId"]
    done = by_request[("Project Falcon", COMPLETED)]
    result = control_request(contoso, completed_id)["result"]
    assert done[f("url")] == result["url"]
    assert done[f("microsoftId")] == result["microsoftId"]

    # The delivery log holds the very bytes that were signed and sent.
    logged = contoso.emulator.control_get("webhooks/deliveries")["deliveries"]
    assert sorted(d["body"] for d in logged) == sorted(raw.decode() for _, raw in receiver.received)


def test_the_documented_minimal_failure_key_has_the_docs_trailing_space(
    contoso: Point, receiver: Receiver
) -> None:
    speak(contoso, MINIMAL)
    run_both_outcomes(contoso, receiver)
    (failure,) = [e for e in receiver.events() if e["type"] == FAILED]
    assert list(failure["content"]) == ["name", "type", "error", "correlationId "]
    assert "correlationId" not in failure["content"]


@pytest.mark.parametrize("dialect", [TODAY, MINIMAL, GRAPH, PASCAL])
def test_the_options_key_is_the_same_key_in_every_dialect(contoso: Point, dialect: str) -> None:
    first = options_key(contoso, TODAY)
    speak(contoso, dialect)
    assert options_key(contoso, dialect) == first


def test_an_event_follows_its_own_tenants_choice_over_the_default(
    contoso: Point, receiver: Receiver
) -> None:
    contoso.emulator.control("dialect", dialect=GRAPH)
    speak(contoso, MINIMAL)
    key = options_key(contoso, MINIMAL)
    run_both_outcomes(contoso, receiver)
    for headers, raw in receiver.received:
        assert headers["Algorithm"] == "HMAC-SHA256"
        assert headers["Signature"] == signature(raw, key)
        content = json.loads(raw)["content"]
        assert "name" in content and "requestId" not in content
