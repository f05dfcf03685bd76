"""Turn tenants' webhooks on or off, or show them: `manage.py webhooks on --all` (the demo
does this), `manage.py webhooks off contoso`, `manage.py webhooks status`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants import webhooks
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Turn tenants' webhooks on or off (registering the portal with their upstream), or list them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["on", "off", "status"])
        parser.add_argument(
            "slugs", nargs="*", help="Tenant slugs (default with --all: every active tenant)."
        )
        parser.add_argument("--all", action="store_true", help="Every active tenant.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.filter(is_active=True).order_by("slug")
        if options["slugs"]:
            tenants = tenants.filter(slug__in=options["slugs"])
            unknown = set(options["slugs"]) - set(tenants.values_list("slug", flat=True))
            if unknown:
                raise CommandError(f"No active tenant with slug: {', '.join(sorted(unknown))}.")
        elif not options["all"] and options["action"] != "status":
            raise CommandError("Name tenant slugs, or pass --all.")
        failed = 0
        for tenant in tenants:
            if not tenant.capabilities.webhooks and not options["slugs"]:
                # --all: an upstream that pushes nothing is polled, which is no failure.
                self.stdout.write(f"{tenant.slug}: {tenant.upstream_label} has no webhooks")
                continue
            if options["action"] == "status":
                sub = webhooks.subscription_for(tenant)
                state = (
                    "receiving"
                    if sub.receiving
                    else ("on, not receiving" if sub.enabled else "off")
                )
                self.stdout.write(f"{tenant.slug}: {state}")
            elif options["action"] == "on":
                try:
                    webhooks.webhooks_enable(tenant=tenant, user=None)
                except webhooks.WebhookSetupError as error:
                    failed += 1
                    self.stderr.write(f"{tenant.slug}: {error.message}")
                else:
                    self.stdout.write(f"{tenant.slug}: webhooks on")
            else:
                self.stdout.write(
                    f"{tenant.slug}: {webhooks.webhooks_disable(tenant=tenant, user=None).message}"
                )
        if failed:
            raise CommandError(f"Webhooks could not be turned on for {failed} tenant(s).")
