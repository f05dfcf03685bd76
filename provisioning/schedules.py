"""The recurring tasks of the provisioning app; `manage.py setup_schedules` installs them."""

from __future__ import annotations

from core.scheduling import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="provisioning.poll_requests",
        func="provisioning.tasks.poll_requests",
        minutes=1,
        doc="Follows in-flight requests upstream (per-request back-off) and resumes due sends.",
    ),
    ScheduleSpec(
        name="provisioning.remind_approvers",
        func="provisioning.tasks.remind_approvers",
        minutes=60,
        doc="Reminds the approvers of portal approval stages waiting over APPROVAL_REMIND_AFTER.",
    ),
    ScheduleSpec(
        name="provisioning.prune_deliveries",
        func="provisioning.tasks.prune_deliveries",
        minutes=24 * 60,
        doc="Forgets webhook deliveries older than WEBHOOK_KEEP_DAYS.",
    ),
    ScheduleSpec(
        name="provisioning.sync_all_catalogues",
        func="provisioning.tasks.sync_all_catalogues",
        minutes=60,
        doc="Syncs every active tenant's template catalogue from its upstream.",
    ),
]
