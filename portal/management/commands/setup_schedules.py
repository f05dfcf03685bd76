"""Create or update every recurring task (idempotent; run on every deploy)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.scheduling import all_specs, install_schedules


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules of every app (safe to run repeatedly)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = install_schedules(all_specs())
        for action, names in report.items():
            for name in names:
                self.stdout.write(f"{action:9} {name}")
