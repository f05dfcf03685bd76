"""Background tasks of the directory browser: take ids, call directory.services."""

from __future__ import annotations


def run_report(run_id: int) -> None:
    """Start a report run's upstream job and follow it (enqueued by directory.report_refresh)."""
    from directory import services as directory

    directory.report_run(run_id=run_id)


def poll_report(run_id: int) -> None:
    """Carry on following a running report (enqueued by directory.report_poll when its time slice ends)."""
    from directory import services as directory

    directory.report_poll(run_id=run_id)
