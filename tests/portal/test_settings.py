"""The settings module as a process sees it: production profile and bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "k3J9-vQ2!xR8@pL5#mN7$wT4%zY6^bC1&dF0*gH2(jK3)qS8_uV5+eA9=rB7",
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "sqlite:///var/deploy-check.sqlite3",
    "EMAIL_HOST": "smtp.example.com",
    "FIELD_ENCRYPTION_KEYS": "0mG3pQ4x1ZrJc4b1cE8mS8pM0n8s9Vq1rPaY8Kx3c2U=",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k not in inherited}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# check --deploy under production: tests/security/test_deploy_headers.py


@pytest.mark.parametrize(
    ("env", "named"),
    [
        # A task still running when django-q redelivers it would run twice at once.
        ({"Q_TIMEOUT": "120", "Q_RETRY": "150"}, "Q_RETRY=150 must exceed Q_TIMEOUT=120"),
        # A send taken over while its POST is still in flight would be posted twice.
        ({"PROVISIONING_SEND_LEASE": "120"}, "PROVISIONING_SEND_LEASE=120 must exceed"),
        # A poller pass stopped mid-check by the task timeout leaves its claims behind.
        ({"PROVISIONING_POLL_BUDGET": "100"}, "PROVISIONING_POLL_BUDGET=100 + POINT_READ"),
        # GT365 answers when the group exists: a read timeout past the task's kills the task.
        ({"GT365_READ_TIMEOUT": "120"}, "GT365_READ_TIMEOUT=120 must be below Q_TIMEOUT"),
    ],
)
def test_timings_that_could_run_work_twice_or_stop_it_midway_refuse_to_start(
    env: dict[str, str], named: str
) -> None:
    result = manage("check", **env)
    assert result.returncode != 0
    assert named in result.stderr and "Traceback" not in result.stderr


def test_production_without_secret_key_stops_with_one_line() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", **env)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Configuration error: SECRET_KEY is required: set SECRET_KEY or SECRET_KEY_FILE."
    )


def test_a_bad_value_stops_start_up_naming_the_variable() -> None:
    result = manage("check", Q_WORKERS="lots")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == "Configuration error: Q_WORKERS='lots' is not a whole number."


def test_production_requires_encryption_keys() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "FIELD_ENCRYPTION_KEYS"}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is required" in result.stderr


def test_a_malformed_encryption_key_is_named() -> None:
    result = manage("check", FIELD_ENCRYPTION_KEYS="not-a-key")
    assert result.stderr.strip().startswith(
        "Configuration error: FIELD_ENCRYPTION_KEYS: key 1 is not a Fernet key"
    )


def test_production_refuses_debug() -> None:
    result = manage("check", DEBUG="true", **PRODUCTION)
    assert result.returncode != 0
    assert "DEBUG=true is not allowed" in result.stderr


def test_production_settings_harden_cookies_and_headers() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS, s.X_FRAME_OPTIONS, s.SECURE_REFERRER_POLICY,"
        " s.STORAGES['staticfiles']['BACKEND'].rsplit('.', 1)[-1], s.DEBUG)"
    )
    result = manage("shell", "--no-imports", "-c", code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "True",
        "31536000",
        "DENY",
        "same-origin",
        "CompressedManifestStaticFilesStorage",
        "False",
    ]
