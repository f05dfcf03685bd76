"""Background tasks of tenants: take ids, call services."""

from __future__ import annotations


def run_connection_check(check_id: int) -> None:
    """Run one "Test connection" (enqueued by services.connection_check_start)."""
    from tenants import services

    services.connection_check_run(check_id=check_id)
