"""The emulator's mutable state: one object shared by every route and ticker.

Everything the emulator may change (secret expiry, granted permissions, issued codes, the
token-request log, Point's requests and ledger) lives in ``data``, which is plain JSON so it
can be written to a state file in demo mode and read back after a restart. The fixture file
is the starting point and is never modified.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

DEFAULT_FIXTURE = str(Path(__file__).parent / "fixtures" / "demo.json")
DEFAULT_ISSUER_HOST = "https://login.microsoftonline.com"
DEFAULT_DIALECT = "today"
# Status reads kept for GET /_control/requests/reads (a benchmark of 5,000 requests reads each a
# few times).
STATUS_READS_KEPT = 200_000

# RSA key generation costs ~50 ms per tenant; tests start a fresh emulator per test, so keys
# are reused within one process. A key still lands in ``data`` (and the state file) so
# tokens stay valid across restarts in demo mode.
_KEY_CACHE: dict[str, str] = {}
_KEY_CACHE_LOCK = threading.Lock()


def load_fixture(path: str | None = None) -> dict[str, Any]:
    with open(path or DEFAULT_FIXTURE, encoding="utf-8") as fh:
        fixture: dict[str, Any] = json.load(fh)
    return fixture


def _digest(fixture: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fixture, sort_keys=True).encode()).hexdigest()


class EmulatorState:
    """Shared state. Hold ``lock`` while reading or mutating ``data``."""

    def __init__(
        self,
        fixture: dict[str, Any],
        state_file: str | None = None,
        issuer_host: str = DEFAULT_ISSUER_HOST,
        dialect: str = DEFAULT_DIALECT,
    ) -> None:
        self.lock = threading.RLock()
        self.fixture = fixture
        self.state_file = state_file
        self.issuer_host = issuer_host.rstrip("/")
        # The Point dialect given on the command line: the default of every tenant, and what
        # /_control/reset returns to (emulator.point.dialects keeps the choices in ``data``).
        self.dialect = dialect
        # Control-plane rules (latency, faults, throttles) are deliberately not persisted:
        # a fault left armed across a demo restart would only confuse.
        self.runtime: dict[str, list[dict[str, Any]]] = {
            "latency": [],
            "faults": [],
            "throttles": [],
        }
        # Answered status reads of single Point provisioning requests, (tenant slug, request
        # id, epoch s), for benchmarks (GET /_control/requests/reads); memory only, cleared
        # by a reset; the newest STATUS_READS_KEPT only, so a long demo does not grow forever.
        self.status_reads: deque[tuple[str, str, float]] = deque(maxlen=STATUS_READS_KEPT)
        self.data: dict[str, Any] = self._initial_data()
        if state_file and os.path.exists(state_file):
            self._load(state_file)
        self.save()

    # -- the agreed interface -------------------------------------------------------------

    def now(self) -> float:
        return time.time()

    def save(self) -> None:
        """Write ``data`` atomically (temp file + os.replace) if a state file is configured."""
        if not self.state_file:
            return
        with self.lock:
            payload = json.dumps(self.data, indent=1, sort_keys=True)
            folder = os.path.dirname(os.path.abspath(self.state_file))
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".emulator-state-", suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(payload)
                os.replace(tmp, self.state_file)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    def reset(self) -> None:
        """Back to the fixture's initial state (keys kept so issued tokens still verify)."""
        with self.lock:
            keys = self.data.get("keys", {})
            self.data = self._initial_data()
            self.data["keys"] = keys
            for rules in self.runtime.values():
                rules.clear()
            self.status_reads.clear()
            self.save()

    def tenant(self, key: str) -> dict[str, Any] | None:
        """A tenant by id (GUID), slug or domain, case-insensitive."""
        wanted = key.strip().lower()
        with self.lock:
            for tenant in self.data["tenants"]:
                names = (tenant["id"], tenant["slug"], tenant.get("domain", ""))
                if wanted in (name.lower() for name in names if name):
                    return tenant
        return None

    # -- helpers for the Entra side ---------------------------------------------------------

    def tenants(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.data["tenants"])

    def signing_key_pem(self, tenant_id: str) -> str:
        """The tenant's RSA private key (PEM), created on first use and persisted."""
        with self.lock:
            keys: dict[str, str] = self.data.setdefault("keys", {})
            if tenant_id not in keys:
                keys[tenant_id] = _cached_key(tenant_id)
                self.save()
            return keys[tenant_id]

    # -- internals ------------------------------------------------------------------------

    def _initial_data(self) -> dict[str, Any]:
        return {
            "fixture_digest": _digest(self.fixture),
            "tenants": copy.deepcopy(self.fixture.get("tenants", [])),
            "keys": {},
            "settings": {"token_lifetime": 3600},
            "codes": {},
            "refresh_tokens": {},
            "token_requests": [],
            "point": {},
            "ledger": [],
        }

    def _load(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as fh:
                loaded = json.load(fh)
        except (OSError, ValueError) as exc:
            print(f"emulator: ignoring unreadable state file {path}: {exc}", file=sys.stderr)
            return
        if not isinstance(loaded, dict):
            return
        if loaded.get("fixture_digest") != self.data["fixture_digest"]:
            # The fixture changed since the state was written: start from the new fixture
            # but keep the signing keys so tokens held by a running portal stay valid.
            print(
                "emulator: fixture changed since the state file was written; starting fresh",
                file=sys.stderr,
            )
            self.data["keys"] = loaded.get("keys", {})
            return
        for key, value in self._initial_data().items():
            loaded.setdefault(key, value)
        self.data = loaded


def _cached_key(tenant_id: str) -> str:
    with _KEY_CACHE_LOCK:
        if tenant_id not in _KEY_CACHE:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _KEY_CACHE[tenant_id] = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
        return _KEY_CACHE[tenant_id]
