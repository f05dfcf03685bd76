"""Point's webhooks: endpoint registration, options key, signed at-least-once delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import requests

from tests.emulator import test_point_support as support
from tests.emulator.test_point_support import FABRIKAM, TEAM, Point, Receiver, eventually

# Fixtures shared by the Point tests.
fast, contoso, fabrikam, receiver = (
    support.fast,
    support.contoso,
    support.fabrikam,
    support.receiver,
)


def signature(raw: bytes, key: str) -> str:
    """The documented C# scheme: Base64(HMAC-SHA256(UTF-8 key, raw body))."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), raw, hashlib.sha256).digest()).decode()


def register(point: Point, url: str, types: list[str] | None = None) -> None:
    answer = point.post("/webhooks/endpoints", {"endpoint": url, "types": types or ["*"]})
    assert answer.status_code == 200, answer.text


def deliveries(point: Point) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = point.emulator.control_get("webhooks/deliveries")["deliveries"]
    return found


def test_endpoints_can_be_registered_listed_and_deleted(contoso: Point) -> None:
    url = "https://contoso.azurewebsites.net/api/Logger?code=abc"
    register(contoso, url)
    register(contoso, url, ["ProvisioningCompleted"])  # again: replaces the types
    assert contoso.get("/webhooks/endpoints").json() == [
        {"endpoint": url, "types": ["ProvisioningCompleted"]}
    ]
    assert contoso.delete("/webhooks/endpoints", {"endpoint": url}).status_code == 204
    assert contoso.get("/webhooks/endpoints").json() == []
    missing = contoso.delete("/webhooks/endpoints", {"endpoint": url})
    assert missing.status_code == 404
    assert missing.json() == {
        "message": "An error has occurred.",
        "exceptionMessage": f"WebhookEndpoint with id {url} not found.",
        "exceptionType": "SysKit.Point.Application.SeedWork.Exceptions.ResourceMissingException",
    }


def test_the_singular_webhook_path_is_an_alias(contoso: Point) -> None:
    assert (
        contoso.post(
            "/webhook/endpoints", {"endpoint": "https://example.com/a", "types": ["*"]}
        ).status_code
        == 200
    )
    assert contoso.get("/webhooks/endpoints").json()[0]["endpoint"] == "https://example.com/a"
    assert (
        contoso.delete("/webhook/endpoints", {"endpoint": "https://example.com/a"}).status_code
        == 204
    )


def test_a_bad_registration_is_a_validation_error(contoso: Point) -> None:
    assert (
        "endpoint"
        in contoso.post("/webhooks/endpoints", {"endpoint": "not a url", "types": ["*"]}).json()[
            "errors"
        ]
    )
    assert (
        "types"
        in contoso.post(
            "/webhooks/endpoints", {"endpoint": "https://e.com", "types": ["Nope"]}
        ).json()["errors"]
    )
    assert "endpoint" in contoso.post("/webhooks/endpoints", {"types": ["*"]}).json()["errors"]


def test_endpoints_are_per_tenant(contoso: Point, fabrikam: Point) -> None:
    register(contoso, "https://example.com/contoso")
    assert fabrikam.get("/webhooks/endpoints").json() == []


def test_the_options_key_is_stable_per_tenant_and_differs_between_tenants(
    contoso: Point, fabrikam: Point
) -> None:
    key = contoso.get("/options").json()["webhooksSignatureAuthenticationKey"]
    assert key == contoso.get("/options").json()["webhooksSignatureAuthenticationKey"]
    assert key != fabrikam.get("/options").json()["webhooksSignatureAuthenticationKey"]


def test_lifecycle_events_are_delivered_signed_with_the_options_key(
    contoso: Point, receiver: Receiver
) -> None:
    register(contoso, receiver.url)
    key = contoso.get("/options").json()["webhooksSignatureAuthenticationKey"]
    request = contoso.provision("teams", **TEAM).json()
    assert eventually(lambda: len(receiver.received) >= 2)
    events = receiver.events()
    assert [e["type"] for e in events] == ["ProvisioningStarted", "ProvisioningCompleted"]
    for headers, raw in receiver.received:
        assert headers["Signature"] == signature(raw, key)
        assert headers["Algorithm"] == "HMACSHA256"
    started, completed = events
    assert set(started["meta"]) == {"timeStamp", "idempotencyKey"}
    assert started["meta"]["idempotencyKey"] != completed["meta"]["idempotencyKey"]
    assert {"name", "type", "requestedOn", "requesterId"} <= set(started["content"])
    assert completed["content"]["name"] == "Project Falcon"
    assert completed["content"]["type"] == "MicrosoftTeams"
    done = contoso.get(f"/provision/requests/{request['id']}").json()
    assert completed["content"]["url"] == done["result"]["url"]
    assert completed["content"]["microsoftId"] == done["result"]["microsoftId"]


def test_a_failure_event_carries_the_error_and_correlation_id(
    contoso: Point, receiver: Receiver
) -> None:
    register(contoso, receiver.url, ["ProvisioningFailed"])
    contoso.emulator.control("requests/fail-next", tenant="contoso", message="Error Message")
    contoso.provision("teams", **TEAM)
    assert eventually(lambda: receiver.received)
    (event,) = receiver.events()
    assert event["type"] == "ProvisioningFailed"
    assert event["content"]["error"] == "Error Message"
    assert event["content"]["correlationId"]


def test_delivery_is_retried_after_the_receiver_fails(contoso: Point, receiver: Receiver) -> None:
    contoso.emulator.control("webhooks", retry_delays=[0.1, 0.1, 0.1])
    register(contoso, receiver.url, ["ProvisioningCompleted"])
    receiver.fail = 2
    contoso.provision("teams", **TEAM)
    assert eventually(lambda: receiver.received)
    attempts = deliveries(contoso)
    assert [(d["attempt"], d["status"], d["ok"]) for d in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert len({d["idempotencyKey"] for d in attempts}) == 1


def test_an_unreachable_receiver_is_given_up_after_a_few_attempts(contoso: Point) -> None:
    contoso.emulator.control("webhooks", retry_delays=[0.05, 0.05])
    register(contoso, "http://127.0.0.1:9/nothing-listens-here", ["ProvisioningCompleted"])
    contoso.provision("teams", **TEAM)
    attempts = eventually(lambda: len(deliveries(contoso)) >= 3 and deliveries(contoso))
    assert [d["attempt"] for d in attempts] == [1, 2, 3]
    assert all(d["status"] is None and d["error"] for d in attempts)


def test_events_can_be_delivered_twice_with_the_same_idempotency_key(
    contoso: Point, receiver: Receiver
) -> None:
    contoso.emulator.control("webhooks", duplicate_rate=1.0)
    register(contoso, receiver.url, ["ProvisioningCompleted"])
    contoso.provision("teams", **TEAM)
    assert eventually(lambda: len(receiver.received) >= 2)
    first, second = receiver.received
    assert first[1] == second[1]  # byte-identical body, same idempotency key
    assert [d["duplicate"] for d in deliveries(contoso)] == [False, True]


def test_duplicate_rate_is_validated(contoso: Point) -> None:
    answer = requests.post(
        f"{contoso.emulator.url}/_control/webhooks", json={"duplicate_rate": 2}, timeout=10
    )
    assert answer.status_code == 400


def test_no_event_reaches_another_tenants_endpoint(
    contoso: Point, fabrikam: Point, receiver: Receiver
) -> None:
    register(fabrikam, receiver.url)
    request = contoso.provision("teams", **TEAM).json()
    contoso.wait_for(request["id"], ("Completed",))
    assert receiver.received == []
    assert FABRIKAM["slug"] == "fabrikam"
