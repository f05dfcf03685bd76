from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _webhooks_follow_move(sender: Any, tenant: Any, **kwargs: Any) -> None:
    """A tenant now reaches another upstream: register the receiver there (a task)."""
    from django_q.tasks import async_task

    async_task("tenants.tasks.resync_webhooks", tenant.pk)


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from django.core import checks

        from tenants.crypto import check_stored_secrets
        from tenants.signals import upstream_moved

        checks.register(check_stored_secrets, checks.Tags.database)

        upstream_moved.connect(_webhooks_follow_move, dispatch_uid="tenants.webhooks")
