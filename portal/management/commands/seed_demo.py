"""Load the demo data (idempotent): schedules now; tenants and templates as they arrive."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load demo data for `make demo` (safe to run repeatedly)."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("setup_schedules", stdout=self.stdout)
        self.stdout.write("Demo data loaded.")
