"""Background tasks of the portal app (run by django-q2; see portal/schedules.py)."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.utils import timezone

from portal.models import Heartbeat

WORKER_HEARTBEAT = "worker"


def heartbeat() -> None:
    """Scheduled: record that a worker is alive and runs schedules."""
    Heartbeat.objects.update_or_create(name=WORKER_HEARTBEAT, defaults={"seen_at": timezone.now()})


def clear_sessions() -> int:
    """Scheduled: delete expired sessions (abandoned sign-ins expire within minutes)."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
