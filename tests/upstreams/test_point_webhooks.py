"""Reading what Point pushes (§6): the signature over the exact bytes, and events in any
reading of the documented envelope (each emulator dialect's, and more)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from upstreams.contract import EventKind, MalformedEvent, PushCheck, Status, Workload
from upstreams.point import wire
from upstreams.point.provider import PointProvider

KEY = "158b08cc-6a06-49f2-a724-2bc514fdcf1e"


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body_with_the_utf8_key() -> None:
    # Computed independently: printf %s "$body" | openssl dgst -sha256 -hmac "$key" -binary | base64
    body = b'{"type":"ProvisioningStarted"}'
    assert wire.push_signature(body, KEY) == "X1NhfbgkqaB+xUEqwqJdbkjsi6fQkkxVvQaWCbw1gsQ="


@pytest.mark.parametrize("header", ["Signature", "signature", "SIGNATURE"])
def test_a_signature_verifies_in_any_header_case(header: str) -> None:
    body = b'{"type": "ProvisioningStarted"}'
    headers = {header: wire.push_signature(body, KEY)}
    assert PointProvider.verify_push(body, headers, KEY) == PushCheck.VALID


def test_one_changed_byte_or_another_key_fails_and_no_header_is_missing() -> None:
    body = b'{"type": "ProvisioningStarted"}'
    signed = {"Signature": wire.push_signature(body, KEY)}
    assert wire.verify_push(body + b" ", signed, KEY) == PushCheck.INVALID
    assert wire.verify_push(body, signed, "another-key") == PushCheck.INVALID
    assert wire.verify_push(body, {"Signature": "é not base64"}, KEY) == PushCheck.INVALID
    assert wire.verify_push(body, {}, KEY) == PushCheck.MISSING
    assert wire.verify_push(body, {"Signature": "  "}, KEY) == PushCheck.MISSING


def test_the_documented_envelope_reads_into_a_neutral_event() -> None:
    body = {
        "type": "ProvisioningFailed",
        "content": {
            "name": "PRJ - Falcon",
            "type": "MicrosoftTeams",
            "error": "Error Message",
            "correlationId ": "c-1",  # the docs' own spelling, trailing space included
        },
        "meta": {"timeStamp": "2023-10-05T14:48:00", "idempotencyKey": "k-1"},
    }
    event = wire.pushed_event(json.dumps(body).encode())
    assert event.kind == EventKind.FAILED and event.kind_text == "ProvisioningFailed"
    assert (event.name, event.workload, event.key) == ("PRJ - Falcon", Workload.TEAM, "k-1")
    assert (event.error, event.correlation_id, event.request_id) == ("Error Message", "c-1", "")
    assert event.occurred_at == datetime(2023, 10, 5, 14, 48, tzinfo=UTC)  # no zone: UTC
    assert event.as_status().status == Status.FAILED


def test_pascal_case_numeric_types_and_dotnet_timestamps_read_the_same() -> None:
    body = {
        "Type": "ProvisioningCompleted",
        "Content": {"Name": "Ops", "Type": 2, "Url": "https://x/sites/ops", "MicrosoftId": "s-1"},
        "Meta": {"TimeStamp": "2026-08-20T09:15:12.1234567", "IdempotencyKey": "k-2"},
    }
    event = wire.pushed_event(json.dumps(body).encode())
    assert (event.kind, event.workload, event.url, event.workspace_id) == (
        EventKind.COMPLETED,
        Workload.SITE,
        "https://x/sites/ops",
        "s-1",
    )
    assert event.occurred_at is not None and event.occurred_at.second == 12


def test_graph_names_read_the_same() -> None:
    body = {
        "type": "ProvisioningCompleted",
        "content": {"displayName": "G", "type": "M365Group", "webUrl": "https://x", "id": "g-1"},
        "meta": {"idempotencyKey": "k-3"},
    }
    event = wire.pushed_event(json.dumps(body).encode())
    assert (event.name, event.workload, event.url, event.workspace_id) == (
        "G",
        Workload.GROUP,
        "https://x",
        "g-1",
    )


def test_an_event_without_an_idempotency_key_is_keyed_by_its_bytes() -> None:
    raw = b'{"type": "ProvisioningStarted", "content": {"name": "A", "type": "YammerCommunity"}}'
    first, again = wire.pushed_event(raw), wire.pushed_event(raw)
    assert first.key.startswith("sha256:") and first.key == again.key
    assert first.workload == Workload.COMMUNITY


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'{"content": {}}', b"\xff\xfe", b'"ProvisioningStarted"']
)
def test_a_body_that_is_no_event_is_malformed_never_a_crash(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        wire.pushed_event(raw)


def test_an_unknown_type_or_workspace_kind_is_kept_as_sent() -> None:
    raw = json.dumps(
        {"type": "ProvisioningArchived", "content": {"name": "A", "type": "Loop"}}
    ).encode()
    event = wire.pushed_event(raw)
    assert (event.kind, event.kind_text) == (EventKind.UNKNOWN, "ProvisioningArchived")
    assert (event.workload, event.workload_text) == (None, "Loop")


def test_registrations_and_the_signing_key_read_tolerantly() -> None:
    found = wire.webhook_registration({"Endpoint": "https://p/hooks/1", "Types": ["*"]})
    assert (found.url, found.events) == ("https://p/hooks/1", ("*",))
    assert wire.signing_key({"WebhooksSignatureAuthenticationKey": " k "}) == "k"
    assert wire.signing_key(None) == ""
