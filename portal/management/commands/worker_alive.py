"""Liveness probe of the background worker, for systemd or Kubernetes (docs/operations.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import DatabaseError

from portal.worker import liveness


class Command(BaseCommand):
    help = (
        "Exit 0 when the django-q2 cluster works, 1 with one line on stderr when it is dead or "
        "wedged (its heartbeat is stale and no task finished for longer than any task may run)."
    )
    # A probe runs every few seconds: Django's system checks would only slow it down.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            verdict = liveness()
        except DatabaseError as error:
            # The class name only: driver messages can carry host names and user names.
            raise SystemExit(
                f"worker liveness unknown: database unreachable ({type(error).__name__})"
            ) from None
        if not verdict.alive:
            raise SystemExit(f"worker not alive: {verdict.reason}")
        self.stdout.write(f"worker {verdict.reason}")
