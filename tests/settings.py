"""Test settings: the real settings with tasks run inline and fast hashing."""

from __future__ import annotations

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
