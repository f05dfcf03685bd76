from __future__ import annotations

from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        from provisioning import tasks
        from tenants.signals import upstream_moved

        upstream_moved.connect(tasks.resync_after_move, dispatch_uid="provisioning.resync")
