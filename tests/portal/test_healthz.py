from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from portal.models import Heartbeat
from portal.tasks import heartbeat

pytestmark = pytest.mark.django_db


def enqueue_raw(age: timedelta) -> None:
    """Put a task in the ORM queue as a web process would have, `age` ago."""
    task = {
        "id": "t1",
        "name": "t1",
        "func": "portal.tasks.heartbeat",
        "args": (),
        "kwargs": {},
        "started": timezone.now() - age,
    }
    OrmQ.objects.create(key="portal", payload=SignedPackage.dumps(task), lock=timezone.now() - age)


def test_it_is_healthy_with_a_recent_heartbeat_and_an_empty_queue(client: Client) -> None:
    heartbeat()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["queue"] == {"ok": True, "backlog": 0, "oldest_age_seconds": 0}
    assert body["checks"]["worker"]["age_seconds"] <= 1


def test_it_reports_backlog_and_age_of_the_oldest_task(client: Client) -> None:
    heartbeat()
    enqueue_raw(timedelta(seconds=40))
    body = client.get("/healthz").json()
    assert body["checks"]["queue"]["backlog"] == 1
    assert 39 <= body["checks"]["queue"]["oldest_age_seconds"] <= 45


def test_it_is_unhealthy_when_the_oldest_task_waited_too_long(client: Client) -> None:
    heartbeat()
    enqueue_raw(timedelta(hours=1))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["queue"]
    assert "oldest queued task waited" in response.json()["checks"]["queue"]["error"]


def test_it_is_unhealthy_without_a_worker_heartbeat(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert "no worker heartbeat" in response.json()["checks"]["worker"]["error"]


def test_it_is_unhealthy_when_the_heartbeat_is_stale(client: Client) -> None:
    Heartbeat.objects.create(name="worker", seen_at=timezone.now() - timedelta(minutes=30))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]


def test_it_names_the_database_when_it_is_unreachable(client: Client) -> None:
    with patch("portal.health.connection.cursor", side_effect=OperationalError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database", "queue", "worker"]
    assert body["checks"]["database"]["error"] == "database unreachable (OperationalError)"


def test_it_is_never_cached(client: Client) -> None:
    heartbeat()
    assert "no-cache" in client.get("/healthz")["Cache-Control"]
