"""Webhook endpoints, the signing key, and signed at-least-once delivery [6].

Delivery runs on a background thread per (batch of events, endpoint), so events to one endpoint
go out in order while a slow receiver never blocks the emulator. Each POST has a 5 s timeout and
is retried with back-off on a non-2xx answer or a network error. With ``duplicate_rate`` > 0 an
event is sometimes delivered twice (same body, same idempotency key): receivers must
de-duplicate on ``meta.idempotencyKey``. Every attempt is logged for tests.

The body and the ``Algorithm`` header follow the dialect of the event's tenant
(``dialects.for_tenant``), fixed when the event is dispatched; the signature is always over the
exact bytes sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests

from emulator.point import dialects, provisioning, shapes
from emulator.state import EmulatorState

TIMEOUT = 5.0
LOG_LIMIT = 2000

# One POST to make: (event type, raw body, idempotency key, Algorithm header, is a duplicate).
Delivery = tuple[str, bytes, str, str, bool]


class Invalid(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def signature(raw_body: bytes, key: str) -> str:
    """documented [6.3]: Base64(HMAC-SHA256(key = UTF-8 of the options key, message = raw body))."""
    return base64.b64encode(
        hmac.new(key.encode("utf-8"), raw_body, hashlib.sha256).digest()
    ).decode()


def options_key(state: EmulatorState, slug: str) -> str:
    """The tenant's webhooksSignatureAuthenticationKey, made on first use and persisted."""
    data = provisioning.tenant_data(state, slug)
    if not data["options_key"]:
        data["options_key"] = str(uuid.uuid4())
        state.save()
    return str(data["options_key"])


def endpoints(state: EmulatorState, slug: str) -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = provisioning.tenant_data(state, slug)["webhooks"]
    return hooks


def _endpoint_field(body: Any) -> str:
    if not isinstance(body, dict):
        raise Invalid({"$": ["The request body must be a JSON object."]})
    url = body.get("endpoint")
    if not isinstance(url, str) or not url.strip():
        raise Invalid({"endpoint": ["The endpoint field is required."]})
    return url.strip()


def register(state: EmulatorState, slug: str, body: Any) -> dict[str, Any]:
    """Upsert by URL (proposed [6.1]); an invalid URL or unknown type is a 400."""
    url = _endpoint_field(body)
    parts = urlsplit(url)
    errors: dict[str, list[str]] = {}
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors["endpoint"] = ["The endpoint must be an absolute http(s) URL."]
    types = body.get("types", [shapes.EVENT_ALL])
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        errors["types"] = ["The types field must be a non-empty array of event type names."]
    else:
        unknown = [t for t in types if t != shapes.EVENT_ALL and t not in shapes.EVENT_TYPES]
        if unknown:
            errors["types"] = [f"Unknown event type: {t}." for t in unknown]
    if errors:
        raise Invalid(errors)
    hooks = endpoints(state, slug)
    for hook in hooks:
        if hook["endpoint"] == url:
            hook["types"] = list(types)
            return hook
    hook = {"endpoint": url, "types": list(types)}
    hooks.append(hook)
    return hook


def delete(state: EmulatorState, slug: str, body: Any) -> bool:
    url = _endpoint_field(body)
    hooks = endpoints(state, slug)
    for i, hook in enumerate(hooks):
        if hook["endpoint"] == url:
            del hooks[i]
            return True
    return False


def log(state: EmulatorState) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = state.data.setdefault("point_webhook_log", [])
    return entries


def dispatch(state: EmulatorState, events: list[provisioning.Event]) -> None:
    """Start delivery of lifecycle events to every matching endpoint (caller holds the lock)."""
    if not events:
        return
    cfg = provisioning.config(state)
    duplicate_rate = float(cfg.get("duplicate_rate", 0.0))
    delays = [float(d) for d in cfg.get("retry_delays", [0.5, 1.0, 2.0])]
    by_endpoint: dict[tuple[str, str], list[Delivery]] = {}
    for slug, event_type, content in events:
        idempotency_key = str(uuid.uuid4())
        now = state.now()
        dialect = dialects.for_tenant(state, slug)
        envelope = shapes.webhook_envelope(event_type, content, now, idempotency_key)
        raw = json.dumps(dialect.webhook_body(envelope, now)).encode("utf-8")
        algorithm = dialect.algorithm()
        for hook in endpoints(state, slug):
            if shapes.EVENT_ALL not in hook["types"] and event_type not in hook["types"]:
                continue
            batch = by_endpoint.setdefault((slug, hook["endpoint"]), [])
            batch.append((event_type, raw, idempotency_key, algorithm, False))
            if duplicate_rate and random.random() < duplicate_rate:
                batch.append((event_type, raw, idempotency_key, algorithm, True))
    for (slug, url), batch in by_endpoint.items():
        signing_key = options_key(state, slug)
        thread = threading.Thread(
            target=_deliver,
            args=(state, slug, url, signing_key, batch, delays),
            name="point-webhook",
            daemon=True,
        )
        thread.start()


def _deliver(
    state: EmulatorState,
    slug: str,
    url: str,
    key: str,
    batch: list[Delivery],
    delays: list[float],
) -> None:
    for event_type, raw, idempotency_key, algorithm, duplicate in batch:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            shapes.SIGNATURE_HEADER: signature(raw, key),
            shapes.ALGORITHM_HEADER: algorithm,
            "User-Agent": "SysKitPoint-Webhooks/emulator",
        }
        for attempt in range(1, len(delays) + 2):
            status: int | None = None
            error: str | None = None
            try:
                answer = requests.post(url, data=raw, headers=headers, timeout=TIMEOUT)
                status = answer.status_code
            except requests.RequestException as exc:
                error = type(exc).__name__
            ok = status is not None and 200 <= status < 300
            with state.lock:
                entries = log(state)
                entries.append(
                    {
                        "tenant": slug,
                        "endpoint": url,
                        "type": event_type,
                        "idempotencyKey": idempotency_key,
                        "attempt": attempt,
                        "status": status,
                        "error": error,
                        "ok": ok,
                        "duplicate": duplicate,
                        "at": shapes.iso(time.time()),
                        "body": raw.decode("utf-8"),
                    }
                )
                del entries[:-LOG_LIMIT]
            if ok or attempt > len(delays):
                break
            time.sleep(delays[attempt - 1])
