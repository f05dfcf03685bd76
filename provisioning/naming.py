"""The final names a template gives a workspace: display name, URL and e-mail alias.

Point applies the template's naming rule on its side (syskit-point-api.md 3.1, 8.2); the portal
computes the same result to preview it while the requester types and to store it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

URL_CORE = re.compile(r"^[A-Za-z0-9_-]+$")
DEFAULT_URL_MAX_LENGTH = 256


def slugify(text: str) -> str:
    """Lower-case, spaces to '-', other non-word characters dropped (as Point's examples do)."""
    slug = re.sub(r"\s+", "-", text.strip().lower())
    return re.sub(r"[^a-z0-9_-]", "", slug)


@dataclass(frozen=True)
class FinalNames:
    display_name: str
    url_slug: str | None  # None: the workload has no URL (Viva Engage) or Point picks it
    email_alias: str | None
    url_too_long: bool = False
    url_max_length: int = DEFAULT_URL_MAX_LENGTH


def _affixes(section: Any) -> tuple[str, str]:
    if not isinstance(section, dict):
        return "", ""
    return str(section.get("prefix") or ""), str(section.get("suffix") or "")


def final_names(definition: dict[str, Any], display_name: str, desired_url: str = "") -> FinalNames:
    """Apply a template definition's naming, URL and e-mail rules to what the requester typed."""
    prefix, suffix = _affixes(definition.get("namingRule"))
    display = f"{prefix}{display_name.strip()}{suffix}"
    url_settings = definition.get("urlSettings")
    url_slug = None
    too_long = False
    max_length = DEFAULT_URL_MAX_LENGTH
    if isinstance(url_settings, dict) and not url_settings.get("hideWorkspaceName"):
        core = desired_url.strip() or slugify(display_name)
        url_prefix, url_suffix = _affixes(url_settings)
        url_slug = f"{url_prefix}{core}{url_suffix}".lower() if core else None
        max_length = int(url_settings.get("maxLength") or DEFAULT_URL_MAX_LENGTH)
        too_long = bool(url_slug and len(url_slug) > max_length)
    email_settings = definition.get("emailSettings")
    email_alias = None
    if isinstance(email_settings, dict) and not email_settings.get("hideWorkspaceName"):
        url_prefix = _affixes(url_settings)[0]
        core = (url_slug or slugify(display_name)).removeprefix(url_prefix)
        mail_prefix, mail_suffix = _affixes(email_settings)
        email_alias = f"{mail_prefix}{core}{mail_suffix}".lower() if core else None
    return FinalNames(display, url_slug, email_alias, too_long, max_length)
