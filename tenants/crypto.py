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

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
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
