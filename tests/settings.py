"""Test settings: the real settings with tasks run inline and fast hashing."""

from __future__ import annotations

import os

from portal.settings import *  # noqa: F403
from portal.settings import Q_CLUSTER

# Tasks run synchronously inside the test, so a test sees their effect at once.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not SQLite's shared-cache memory: tests that post from many threads at once need
    # SQLite's real locking (the IMMEDIATE transactions and busy timeout the portal runs with),
    # which shared-cache memory replaces by "table is locked" errors. One file per test run.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")  # noqa: F405
    }

# No test asks Microsoft Graph for people unless it turns this on (with the emulator running).
PEOPLE_FROM_GRAPH = False
