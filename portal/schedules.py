"""The recurring tasks of the portal app; `manage.py setup_schedules` installs them."""

from __future__ import annotations

from core.scheduling import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="portal.heartbeat",
        func="portal.tasks.heartbeat",
        minutes=1,
        doc="Lets /healthz tell whether a worker is running.",
    ),
    ScheduleSpec(
        name="portal.clear_sessions",
        func="portal.tasks.clear_sessions",
        minutes=60,
        doc="Deletes expired sessions, such as sign-ins that were started and abandoned.",
    ),
]
