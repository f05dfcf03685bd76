"""Writes of the provisioning app, one module per reason to change:

- `transitions`: the only code that changes a request's state (`record_transition`) or writes
  its timeline (`add_event`);
- `catalogue`: the template catalogue synced from the upstream;
- `requests`: a person's submit (once per form), retry and cancel;
- `approvals`: approval stages run in the portal before a request is sent;
- `bulk`: a CSV of requests checked row by row like the form, then submitted once each;
- `sending`: exactly-once sending to the upstream;
- `following`: fetching an upstream status and applying it (`apply_status`, shared with pushed
  statuses), and the back-off; `poller`: the scheduled pass that checks every due request;
- `pushed`: webhook events received, verified, stored once, matched and applied;
  `webhook_health`: whether a tenant's webhooks are trusted (polling slows) or quiet.

Callers import the package: `from provisioning import services` then `services.request_send(...)`.
The life cycle is in provisioning/states.py and docs/provisioning.md.
"""

from __future__ import annotations

from provisioning.services.approvals import (
    approval_decide,
    approvals_remind,
    may_decide,
    waiting_on,
)
from provisioning.services.bulk import RowResult, bulk_results, bulk_submit, bulk_upload
from provisioning.services.catalogue import (
    SyncReport,
    TemplateDefinition,
    catalogue_sync,
    content_hash,
    template_define,
)
from provisioning.services.following import (
    apply_status,
    capped_retry_after,
    next_poll_interval,
    request_refresh,
    request_watched,
    status_check,
)
from provisioning.services.poller import PollReport, poll_due
from provisioning.services.pushed import (
    Receipt,
    deliveries_prune,
    deliveries_resume,
    delivery_process,
    resume_waiting,
)
from provisioning.services.pushed import receive as webhook_receive
from provisioning.services.requests import (
    SubmitRefused,
    may_send_again,
    request_cancel,
    request_retry,
    request_send_again,
    request_submit,
    request_submit_once,
    submitted_with,
)
from provisioning.services.sending import SendResult, request_send, workspace_spec
from provisioning.services.transitions import (
    NOTIFY_TASK,
    REFRESH_TASK,
    SEND_TASK,
    add_event,
    enqueue_send,
    record_transition,
)

__all__ = [
    "NOTIFY_TASK",
    "REFRESH_TASK",
    "SEND_TASK",
    "PollReport",
    "RowResult",
    "Receipt",
    "SendResult",
    "SubmitRefused",
    "SyncReport",
    "add_event",
    "approval_decide",
    "approvals_remind",
    "bulk_results",
    "bulk_submit",
    "bulk_upload",
    "apply_status",
    "capped_retry_after",
    "TemplateDefinition",
    "catalogue_sync",
    "template_define",
    "content_hash",
    "deliveries_prune",
    "deliveries_resume",
    "delivery_process",
    "enqueue_send",
    "may_decide",
    "may_send_again",
    "next_poll_interval",
    "poll_due",
    "record_transition",
    "request_cancel",
    "request_refresh",
    "request_retry",
    "request_send",
    "request_send_again",
    "request_submit",
    "request_submit_once",
    "request_watched",
    "status_check",
    "resume_waiting",
    "submitted_with",
    "waiting_on",
    "webhook_receive",
    "workspace_spec",
]
