"""Is a workspace name or URL still free? One cheap upstream read while the requester types."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

from provisioning import naming, point
from provisioning.models import Template, Workload
from tenants import tokens

logger = logging.getLogger(__name__)

FREE = "free"
TAKEN = "taken"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Availability:
    outcome: str  # FREE, TAKEN or UNKNOWN (the upstream could not be asked)
    checked: str  # what was looked up: the final name or the site URL
    message: str


def _site_taken(template: Template, slug: str) -> bool:
    wanted = f"/sites/{slug}".lower()
    # One page of a search is enough: an exact URL match sorts among the first hits.
    for site in itertools.islice(point.iter_sites(template.tenant, search=slug, page_size=10), 10):
        if site.url.lower().rstrip("/").endswith(wanted):
            return True
    return False


def _unknown_message(error: point.PointError) -> str:
    """Why the name could not be checked, in a requester's words (no admin guidance here)."""
    later = "the name is checked again when the request is sent."
    token_error = getattr(error, "token_error", None)
    if isinstance(token_error, tokens.EntraUnavailable):
        return f"Could not check right now: Microsoft Entra ID, which the portal signs in to Point with, is not answering; {later}"
    return f"Could not check right now; {later}"


def check(template: Template, display_name: str, desired_url: str = "") -> Availability:
    """Look the final name (groups, teams, communities) or the site URL (sites) up upstream."""
    names = naming.final_names(template.definition or {}, display_name, desired_url)
    try:
        if template.workload == Workload.SITE and names.url_slug:
            checked = names.url_slug
            taken = _site_taken(template, names.url_slug)
        else:
            checked = names.display_name
            try:
                point.get_group(template.tenant, names.display_name)
                taken = True
            except point.NotFound:
                taken = False
    except point.PointError as error:
        logger.info("Availability check for template %s: %s", template.pk, type(error).__name__)
        return Availability(UNKNOWN, names.display_name, _unknown_message(error))
    if taken:
        return Availability(TAKEN, checked, f"“{checked}” is already taken. Choose another name.")
    return Availability(FREE, checked, f"“{checked}” is available.")
