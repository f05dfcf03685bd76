"""Is a workspace name or URL still free? One cheap upstream read while the requester types."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from provisioning import naming
from provisioning.models import Template, Workload
from tenants import upstream
from upstreams.contract import AuthenticationFailed, NotFound, Upstream, UpstreamError

logger = logging.getLogger(__name__)

FREE = "free"
TAKEN = "taken"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Availability:
    outcome: str  # FREE, TAKEN or UNKNOWN (the upstream could not be asked)
    checked: str  # what was looked up: the final name or the site URL
    message: str


def _site_taken(provider: Upstream, slug: str) -> bool:
    wanted = f"/sites/{slug}".lower()
    # One page of a search is enough: an exact URL match sorts among the first hits.
    return any(
        site.url.lower().rstrip("/").endswith(wanted)
        for site in provider.find_sites(slug, limit=10)
    )


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
    """Look the final name (groups, teams, communities) or the site URL (sites) up upstream."""
    names = naming.final_names(template.template_rules, display_name, desired_url)
    provider = upstream.provider_for(template.tenant)
    try:
        if template.workload == Workload.SITE and names.url_slug:
            checked = names.url_slug
            taken = _site_taken(provider, names.url_slug)
        else:
            checked = names.display_name
            try:
                provider.get_group(names.display_name)
                taken = True
            except NotFound:
                taken = False
    except UpstreamError as error:
        logger.info("Availability check for template %s: %s", template.pk, type(error).__name__)
        return Availability(
            UNKNOWN, names.display_name, _unknown_message(error, template.tenant.upstream_label)
        )
    if taken:
        return Availability(TAKEN, checked, f"“{checked}” is already taken. Choose another name.")
    return Availability(FREE, checked, f"“{checked}” is available.")
