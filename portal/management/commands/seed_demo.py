"""Load the demo data (idempotent): schedules now; tenants and templates as they arrive."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.management import call_command
from django.core.management.base import BaseCommand

# Where each upstream lives on the emulator, under its URL ({slug}: the tenant's).
DEMO_PATHS = {"point": "/point/{slug}", "gt365": "/gt365/api", "graph": "/graph/v1.0"}


def _seeded(url: str, slug: str) -> bool:
    """Whether an upstream URL is one this command set: the emulator on this machine."""
    parts = urlsplit(url)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    paths = {p.format(slug=slug) for p in DEMO_PATHS.values()}
    return parts.scheme == "http" and local and parts.path.rstrip("/") in paths


class Command(BaseCommand):
    help = "Load demo data for `make demo` (safe to run repeatedly)."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("setup_schedules", stdout=self.stdout)
        self._seed_tenants()
        self._seed_it_staff_reach()
        self._seed_portal_templates()
        self._seed_api_clients()
        self.stdout.write("Demo data loaded.")

    def _seed_it_staff_reach(self) -> None:
        """Contoso's IT staff member also serves Fabrikam, so the demo shows the tenant switch.

        The person is keyed on tid + oid as sign-in keys them; name and role come at sign-in.
        """
        import json
        from pathlib import Path

        from django.conf import settings

        from portal.models import User
        from tenants.models import Tenant

        if not settings.DEMO_MODE:
            return
        fixture = Path(settings.BASE_DIR) / "emulator" / "fixtures" / "demo.json"
        contoso = next(
            t for t in json.loads(fixture.read_text())["tenants"] if t["slug"] == "contoso"
        )
        megan = next(u for u in contoso["users"] if u["upn"].startswith("megan.bowen@"))
        home = Tenant.objects.get(slug="contoso")
        user, _ = User.objects.get_or_create(
            entra_tenant_id=contoso["id"],
            entra_object_id=megan["oid"],
            defaults={"username": f"{megan['oid']}@{contoso['id']}", "home_tenant": home},
        )
        user.served_tenants.add(*Tenant.objects.filter(slug="fabrikam"))
        self.stdout.write(f"{megan['name']} (IT staff, Contoso) also serves Fabrikam.")

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
            if not tenant.pk:
                tenant.provider = data.get("upstream", "point")
            path = DEMO_PATHS.get(tenant.provider, DEMO_PATHS["point"]).format(slug=data["slug"])
            demo_url = f"{settings.EMULATOR_URL.rstrip('/')}{path}"
            if not tenant.api_url or _seeded(tenant.api_url, data["slug"]):
                # Follows the emulator's port; an admin's re-pointing is left alone.
                tenant.api_url = demo_url
            if secret.get("expires"):
                tenant.secret_expires_on = date.fromisoformat(str(secret["expires"])[:10])
            if not tenant.has_client_secret:
                tenant.set_client_secret(secret["value"])
            tenant.save()
            self.stdout.write(f"Demo tenant {tenant.name} ready.")

    def _seed_portal_templates(self) -> None:
        """Templates for the demo tenants whose upstream has no catalogue (made once: an
        admin's changes are left alone)."""
        from django.conf import settings

        from provisioning import services
        from provisioning.models import Template
        from tenants.models import Tenant

        if not settings.DEMO_MODE:
            return
        definitions = {
            "gt365": [
                services.TemplateDefinition(
                    name="Project group",
                    workload="group",
                    description="A Microsoft 365 group for a project, made by GT365.",
                    naming_prefix="PRJ-",
                    classifications=("General", "Confidential"),
                ),
                services.TemplateDefinition(
                    name="Department team",
                    workload="team",
                    description="A private team for a department.",
                    privacy="private",
                    owners_min=2,
                ),
            ],
            "graph": [
                services.TemplateDefinition(
                    name="Microsoft 365 group", workload="group", description="A plain group."
                ),
                services.TemplateDefinition(
                    name="Project team",
                    workload="team",
                    description="A team for a project.",
                    naming_prefix="PRJ-",
                ),
                services.TemplateDefinition(
                    name="Communication site",
                    workload="site",
                    description="A SharePoint communication site.",
                ),
                services.TemplateDefinition(
                    name="Viva Engage community",
                    workload="community",
                    description="A community for a topic.",
                ),
            ],
        }
        for tenant in Tenant.objects.filter(provider__in=definitions):
            if Template.objects.filter(tenant=tenant).exists():
                continue
            for definition in definitions[tenant.provider]:
                services.template_define(user=None, tenant=tenant, definition=definition)
            self.stdout.write(f"Demo templates for {tenant.name} ready.")

    def _seed_api_clients(self) -> None:
        """The fixture's service-desk apps as API clients (bin/api_example.py uses Contoso's)."""
        import json
        from pathlib import Path

        from django.conf import settings

        from api.models import API_ROLES, ApiClient
        from tenants.models import Tenant

        if not settings.DEMO_MODE:
            return
        fixture = Path(settings.BASE_DIR) / "emulator" / "fixtures" / "demo.json"
        for data in json.loads(fixture.read_text())["tenants"]:
            tenant = Tenant.objects.filter(slug=data["slug"]).first()
            for app in data["apps"]:
                if tenant is None or not app.get("portal_api_roles"):
                    continue
                ApiClient.objects.get_or_create(
                    tenant=tenant,
                    app_id=app["client_id"],
                    defaults={"name": "Service desk", "roles": list(API_ROLES)},
                )
                self.stdout.write(f"API client Service desk of {tenant.name} ready.")
