"""Load the demo data (idempotent): schedules now; tenants and templates as they arrive."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load demo data for `make demo` (safe to run repeatedly)."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("setup_schedules", stdout=self.stdout)
        self._seed_tenants()
        self.stdout.write("Demo data loaded.")

    def _seed_tenants(self) -> None:
        """Contoso and Fabrikam from the emulator's fixture, pointed at the emulator (demo only)."""
        import json
        from datetime import date
        from pathlib import Path

        from django.conf import settings

        from tenants.models import Tenant

        if not settings.DEMO_MODE:
            self.stdout.write("Not in DEMO_MODE: no demo tenants created.")
            return
        fixture = Path(settings.BASE_DIR) / "emulator" / "fixtures" / "demo.json"
        for data in json.loads(fixture.read_text())["tenants"]:
            app = data["apps"][0]
            secret = app["secrets"][0]
            tenant = Tenant.objects.filter(slug=data["slug"]).first() or Tenant(slug=data["slug"])
            tenant.name = data["name"]
            tenant.entra_tenant_id = data["id"]
            tenant.client_id = app["client_id"]
            tenant.point_app_id = data["point"]["api_app_id"]
            tenant.point_base_url = f"{settings.EMULATOR_URL.rstrip('/')}/point/{data['slug']}"
            if secret.get("expires"):
                tenant.secret_expires_on = date.fromisoformat(str(secret["expires"])[:10])
            if not tenant.has_client_secret:
                tenant.set_client_secret(secret["value"])
            tenant.save()
            self.stdout.write(f"Demo tenant {tenant.name} ready.")
