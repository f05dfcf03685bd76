"""Encryption of tenant secrets at rest (Fernet, keys from FIELD_ENCRYPTION_KEYS).

Several keys allow rotation: the first encrypts, all of them decrypt. There is no plaintext
fallback: a missing or wrong key raises SecretUnavailable and the caller fails closed.

Every plaintext that passes through `encrypt` or `decrypt` (client secrets, app tokens) is
also remembered in a small process-local registry, `known_plaintexts()`, so the error-page
filter (portal.errors) can mask any occurrence of one, wherever it turns up: in a library's
frame, in an exception message, inside the repr of an object we do not control. The registry
holds only what this process already holds in memory, is bounded, and is never written out.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.views.decorators.debug import sensitive_variables


class SecretUnavailable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


# --- The registry of plaintexts this process has seen ---------------------------------------

# Shorter values are not remembered: masking every "abc" on an error page would hide more
# than it protects, and no real client secret or token is that short.
MIN_REMEMBERED_LENGTH = 8
# Oldest first (a dict keeps insertion order); a tenant has one secret and one token, so this
# covers hundreds of tenants and rotations while keeping each error page cheap to scrub.
MAX_REMEMBERED = 512

_known: dict[str, None] = {}
_known_lock = threading.Lock()


def remember_plaintext(value: str) -> None:
    """Note a secret or token so error pages mask it (see portal.errors)."""
    if not isinstance(value, str) or len(value) < MIN_REMEMBERED_LENGTH:
        return
    with _known_lock:
        _known.pop(value, None)
        _known[value] = None
        while len(_known) > MAX_REMEMBERED:
            del _known[next(iter(_known))]


def known_plaintexts() -> tuple[str, ...]:
    """The remembered secrets and tokens, longest first (so a longer one is masked whole)."""
    with _known_lock:
        values = tuple(_known)
    return tuple(sorted(values, key=len, reverse=True))


def forget_plaintexts() -> None:
    """Empty the registry (tests prove the other scrubbing layers work without it)."""
    with _known_lock:
        _known.clear()


# --- Fernet --------------------------------------------------------------------------------


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set: generate one with "
            "`python manage.py generate_encryption_key`."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a key that is not 32 url-safe base64-encoded bytes."
        ) from None


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


@sensitive_variables("plaintext")
def encrypt(plaintext: str) -> str:
    remember_plaintext(plaintext)
    return fernet().encrypt(plaintext.encode()).decode()


@sensitive_variables("plaintext")
def decrypt(token: str) -> str:
    try:
        plaintext = fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable(
            "The stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: the key that "
            "encrypted it is missing. Restore that key, or enter the secret again."
        ) from None
    remember_plaintext(plaintext)
    return plaintext


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (raises SecretUnavailable like decrypt)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS."
        ) from None


def check_stored_secrets(databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """System check (database tag: `check --database default`, `migrate`): every stored value
    of every ``*_encrypted`` column decrypts with FIELD_ENCRYPTION_KEYS. A wrong key is
    otherwise only seen tenant by tenant, as each fails closed."""
    if not databases:
        return []
    from django.apps import apps

    unreadable = []
    try:
        with transaction.atomic():  # a failed query must not spoil the caller's transaction
            for model in apps.get_models():
                for field in model._meta.concrete_fields:
                    if not field.name.endswith("_encrypted"):
                        continue
                    stored = model._default_manager.exclude(**{field.attname: ""})
                    values = stored.values_list(field.attname, flat=True)
                    count = sum(1 for value in values.iterator() if not _decrypts(value))
                    if count:
                        unreadable.append(f"{count} in {model._meta.label}.{field.name}")
    except DatabaseError:
        return []  # not migrated yet: nothing stored
    if not unreadable:
        return []
    return [
        checks.Warning(
            "FIELD_ENCRYPTION_KEYS cannot decrypt stored secrets: " + "; ".join(unreadable) + ".",
            hint="Add back the key that encrypted them (after the newest), or enter those "
            "secrets again; until then each fails closed (no token, no webhook verification).",
            id="tenants.W001",
        )
    ]


def _decrypts(token: str) -> bool:
    try:
        fernet().decrypt(token.encode())
    except InvalidToken:
        return False
    return True
