"""Is a workspace name or URL still free? One cheap upstream read while the requester types."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from provisioning import naming
from provisioning.models import Template, Workload
from tenants import upstream
from upstreams.contract import AuthenticationFailed, NotSupported, Upstream, UpstreamError
from upstreams.contract import Workload as ContractWorkload
from upstreams.contract import WorkspaceSpec as ContractWorkspaceSpec

logger = logging.getLogger(__name__)

FREE = "free"
TAKEN = "taken"
MAYBE = "maybe"  # the naming rule is not published: a workspace holds the typed name
UNKNOWN = "unknown"
REFUSED = "taken"  # the tenant's naming policy refuses the name (shown like a taken one)


@dataclass(frozen=True)
class Availability:
    outcome: str  # FREE, TAKEN, MAYBE or UNKNOWN (the upstream could not be asked)
    checked: str  # what was looked up: the final name or the site URL
    message: str


def _unknown_message(error: UpstreamError, label: str) -> str:
    """Why the name could not be checked, in a requester's words (no admin guidance here)."""
    later = "the name is checked again when the request is sent."
    if isinstance(error, AuthenticationFailed) and error.retryable:
        return (
            "Could not check right now: Microsoft Entra ID, which the portal signs in to "
            f"{label} with, is not answering; {later}"
        )
    return f"Could not check right now; {later}"


def check(template: Template, display_name: str, desired_url: str = "") -> Availability:
    """Look the final name (groups, teams, communities) or the site URL (sites) up upstream,
    exactly (the upstream's own search may be fuzzy, or ignored)."""
    rules = template.template_rules
    provider = upstream.provider_for(template.tenant)
    if not rules.naming_published:
        return _check_unpublished(template, provider, display_name.strip())
    names = naming.final_names(rules, display_name, desired_url)
    site = template.workload == Workload.SITE and bool(names.url_slug)
    checked = (names.url_slug or "") if site else names.display_name
    try:
        found = provider.find_workspace(
            workload=ContractWorkload(template.workload),
            name=names.display_name,
            url_slug=(names.url_slug or "") if site else "",
        )
        taken = found is not None
    except NotSupported:
        label = template.tenant.upstream_label
        return Availability(
            UNKNOWN,
            checked,
            f"{label} cannot look names up. It refuses an alias that is taken when the request "
            "is sent, and the request page then says so.",
        )
    except UpstreamError as error:
        logger.info("Availability check for template %s: %s", template.pk, type(error).__name__)
        return Availability(
            UNKNOWN, names.display_name, _unknown_message(error, template.tenant.upstream_label)
        )
    if taken:
        return Availability(TAKEN, checked, f"“{checked}” is already taken. Choose another name.")
    refused = _naming_policy(template, provider, names.display_name, names.url_slug or "")
    if refused is not None:
        return refused
    return Availability(FREE, checked, f"“{checked}” is available.")


def _naming_policy(
    template: Template, provider: Upstream, display_name: str, alias: str
) -> Availability | None:
    """The tenant's naming policy on the final name and alias (Microsoft Graph's
    validateProperties), where the upstream checks one: what it refuses, or None."""
    if not provider.capabilities.name_check:
        return None
    spec = ContractWorkspaceSpec(
        template_id=template.upstream_id,
        workload=ContractWorkload(template.workload),
        display_name=display_name,
        desired_url=alias,
    )
    try:
        verdict = provider.check_name(spec)
    except UpstreamError as error:
        logger.info("Naming policy check for template %s: %s", template.pk, type(error).__name__)
        return None  # the upstream checks again when the request is sent
    if verdict.ok:
        return None
    problems = " ".join(m for messages in verdict.problems.values() for m in messages)
    return Availability(
        REFUSED,
        display_name,
        f"{template.tenant.upstream_label} refuses “{display_name}” (the organisation's naming "
        f"policy, or a name in use): {problems}",
    )


def _check_unpublished(template: Template, provider: Upstream, typed: str) -> Availability:
    """The template does not publish its naming rule: the final name is unknown, so no exact
    lookup can say "available". Workspaces holding the typed name are shown as possibly taken;
    the upstream checks for sure when the request is sent."""
    label = template.tenant.upstream_label
    try:
        found = provider.find_workspaces(
            workload=ContractWorkload(template.workload), containing=typed, limit=3
        )
    except UpstreamError as error:
        logger.info("Availability check for template %s: %s", template.pk, type(error).__name__)
        return Availability(UNKNOWN, typed, _unknown_message(error, label))
    names = [w.name or w.url or w.id for w in found.items]
    if not names:
        return Availability(
            FREE,
            typed,
            f"“{typed}” is available: no workspace in {label} has it in its name. The final name "
            f"may differ: {label} applies this template's naming rule.",
        )
    listed = ", ".join(f"“{n}”" for n in names) + (" and more" if found.has_more else "")
    return Availability(
        MAYBE,
        typed,
        f"{label} already has workspaces whose names contain “{typed}”: {listed}. This template "
        "does not publish its naming rule, so the portal cannot tell whether your final name is "
        f"among them; {label} checks when the request is sent.",
    )
