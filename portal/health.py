"""What /healthz reports: the database, the task queue and the worker heartbeat."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import BadSignature, SignedPackage

from portal.worker import last_heartbeat


@dataclass
class Check:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        # The class name only: driver messages can carry host names and user names.
        return Check(False, {"error": f"database unreachable ({type(error).__name__})"})
    return Check(True, {"vendor": connection.vendor})


def _oldest_enqueued_at() -> datetime | None:
    """When the oldest task still waiting in the queue was enqueued (None if empty)."""
    broker = get_broker()
    if "orm" in settings.Q_CLUSTER:
        from django_q.models import OrmQ

        row = (
            OrmQ.objects.filter(key=broker.list_key, lock__lte=timezone.now())
            .order_by("id")
            .first()
        )
        payload = row.payload if row else None
    else:
        payload = broker.connection.lindex(broker.list_key, 0)
    if payload is None:
        return None
    try:
        task = SignedPackage.loads(payload)
    except BadSignature:
        return None
    started = task.get("started")
    return started if isinstance(started, datetime) else None


def check_queue() -> Check:
    try:
        backlog = get_broker().queue_size()
        oldest = _oldest_enqueued_at()
    except Exception as error:  # any broker failure (Redis down, DB error) is unhealthy
        return Check(False, {"error": f"queue unreachable ({type(error).__name__})"})
    age = round((timezone.now() - oldest).total_seconds()) if oldest else 0
    detail: dict[str, Any] = {"backlog": backlog, "oldest_age_seconds": age}
    if age > settings.HEALTH_MAX_QUEUE_AGE:
        detail["error"] = (
            f"oldest queued task waited {age} s (limit {settings.HEALTH_MAX_QUEUE_AGE} s)"
        )
        return Check(False, detail)
    return Check(True, detail)


def check_worker() -> Check:
    """The heartbeat against HEALTH_MAX_HEARTBEAT_AGE. A wedged cluster is replaced sooner by
    `manage.py worker` (portal/worker.py, stricter rule); this is what a load balancer sees."""
    try:
        seen_at = last_heartbeat()
    except DatabaseError as error:
        return Check(False, {"error": f"heartbeat unreadable ({type(error).__name__})"})
    if seen_at is None:
        return Check(False, {"error": "no worker heartbeat yet: is the worker running?"})
    age = round((timezone.now() - seen_at).total_seconds())
    detail: dict[str, Any] = {"last_heartbeat": seen_at.isoformat(), "age_seconds": age}
    if age > settings.HEALTH_MAX_HEARTBEAT_AGE:
        detail["error"] = (
            f"last worker heartbeat {age} s ago (limit {settings.HEALTH_MAX_HEARTBEAT_AGE} s)"
        )
        return Check(False, detail)
    return Check(True, detail)


def run_checks() -> dict[str, Check]:
    database = check_database()
    if not database.ok:
        # Queue (ORM broker) and heartbeat live in the database: say so once.
        skipped = Check(False, {"error": "skipped: database unreachable"})
        return {"database": database, "queue": skipped, "worker": skipped}
    return {"database": database, "queue": check_queue(), "worker": check_worker()}


def webhook_warnings() -> list[str]:
    """Tenants whose webhooks went quiet: their requests are polled at the normal rate again."""
    from provisioning.services.webhook_health import health

    quiet = [h for h in health() if h.quiet]
    if not quiet:
        return []
    # Counts only, as for secrets below; the deliveries page names the tenants and says why.
    what = "1 tenant's webhooks are" if len(quiet) == 1 else f"{len(quiet)} tenants' webhooks are"
    return [
        f"{what} quiet ({quiet[0].reason if len(quiet) == 1 else 'no events'}): their requests "
        "in flight are polled at the normal rate until events arrive again."
    ]


def collect_warnings() -> list[str]:
    """Things to fix soon that do not make the service unhealthy (status stays 200)."""
    try:
        from tenants.selectors import expiring_secrets

        expiring = list(expiring_secrets())
        warnings = webhook_warnings()
    except DatabaseError:
        return []
    if not expiring:
        return warnings
    # /healthz is public (load balancers, monitors): it counts, and admins see the names on
    # the tenants page and in the portal's banner.
    count = len(expiring)
    what = (
        "1 tenant's client secret expires"
        if count == 1
        else f"{count} tenants' client secrets expire"
    )
    return [
        f"{what} within {settings.SECRET_EXPIRY_WARNING_DAYS} days or already "
        "expired: see the tenants page.",
        *warnings,
    ]
