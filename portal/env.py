"""Typed readers for environment variables.

Each raises ImproperlyConfigured naming the variable and the form it expects, so a wrong
value stops start-up with one clear line instead of running half-configured.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def env_uuid(name: str) -> str:
    """A GUID such as an Entra tenant ID, lower-cased; "" when unset."""
    value = _raw(name)
    if value is None:
        return ""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a GUID (xxxxxxxx-xxxx-...).") from None


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small: use {minimum} or more.")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; blanks dropped."""
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(choices)}.")
    return value


def env_secret(name: str, *, required: bool, default: str = "") -> str:
    """Read NAME, or the file named by NAME_FILE (Docker and Kubernetes secrets)."""
    file_name = _raw(f"{name}_FILE")
    if file_name is not None:
        try:
            value = Path(file_name).read_text().strip()
        except OSError as error:
            raise ImproperlyConfigured(
                f"{name}_FILE={file_name!r} cannot be read: {error.strerror}."
            ) from None
        if value:
            return value
    from_env = _raw(name)
    if from_env is not None:
        return from_env
    if required:
        raise ImproperlyConfigured(f"{name} is required: set {name} or {name}_FILE.")
    return default


def env_fernet_keys(name: str, *, required: bool, default: list[str]) -> list[str]:
    """Comma-separated Fernet keys (32 url-safe base64 bytes each), newest first."""
    import base64
    import binascii

    raw = env_secret(name, required=required)
    keys = [key.strip() for key in raw.split(",") if key.strip()] if raw else list(default)
    for position, key in enumerate(keys, start=1):
        try:
            decoded = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise ImproperlyConfigured(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64 bytes); "
                "generate one with `python manage.py generate_encryption_key`."
            )
    return keys


def parse_database_url(name: str, url: str, base_dir: Path) -> dict[str, Any]:
    """Turn sqlite:///path or postgres://user:pass@host:port/db into a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative.db is relative to the project, sqlite:////abs.db absolute.
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ImproperlyConfigured(f"{name} must name a file: sqlite:///var/portal.db.")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path if Path(path).is_absolute() else str(base_dir / path),
            # Web and worker write concurrently; wait for the lock rather than fail.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ImproperlyConfigured(
                f"{name} must name a database: postgres://user:password@host:5432/portal."
            )
        options: dict[str, Any] = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"{name} has an unsupported scheme {parts.scheme!r}: use sqlite:/// or postgres://."
    )
