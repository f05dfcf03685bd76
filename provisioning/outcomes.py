"""What a finished request means, in plain words for the person who asked for it. The
upstream's own message (an exception text, a correlation id) stays on the page, folded away,
for IT staff to act on."""

from __future__ import annotations

from provisioning.models import FailureKind, ProvisioningRequest
from provisioning.states import State


def plain_outcome(item: ProvisioningRequest) -> str:
    """One or two sentences on a failed, rejected or cancelled request ("" otherwise)."""
    label = item.tenant.upstream_label
    if item.state == State.REJECTED:
        return "An approver turned this request down. The timeline says who, and why if they gave a reason."
    if item.state == State.CANCELLED:
        return "This request was cancelled before it was sent: nothing was created."
    if item.state != State.FAILED:
        return ""
    if item.failure_kind == FailureKind.INVALID:
        return (
            f"{label} did not accept some of what was asked. Use “Fix and resubmit” to correct it; "
            "the fields concerned are marked."
        )
    if item.failure_kind == FailureKind.REFUSED:
        return (
            "The portal is not allowed to create this workspace at the moment (a permission or a "
            "setting on the IT side). Your IT team can see why below and retry it once fixed."
        )
    if item.failure_kind == FailureKind.NOT_RECEIVED:
        return (
            f"{label} could not be reached, even after several tries, so nothing was created. "
            "Retry in a while; if it keeps failing, tell your IT team."
        )
    return (
        f"{label} could not create the workspace, so nothing was created. You can retry; if it "
        "fails again, tell your IT team and give them the reference below."
    )


def retry_may_help(item: ProvisioningRequest, *, staff: bool) -> bool:
    """Retry only where sending the same request again can succeed: never after the upstream
    refused what was asked (fix it instead); after a permission or setting problem only for IT
    staff, who can fix it first."""
    if item.state != State.FAILED or item.failure_kind == FailureKind.INVALID:
        return False
    if item.failure_kind == FailureKind.REFUSED:
        return staff
    return True
