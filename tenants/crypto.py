"""Encryption of tenant secrets at rest (Fernet, keys from FIELD_ENCRYPTION_KEYS).

Several keys allow rotation: the first encrypts, all of them decrypt. There is no plaintext
fallback: a missing or wrong key raises SecretUnavailable and the caller fails closed.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnavailable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


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


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable(
            "The stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: the key that "
            "encrypted it is missing. Restore that key, or enter the secret again."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (raises SecretUnavailable like decrypt)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS."
        ) from None
