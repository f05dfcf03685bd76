"""The final names a template gives a workspace: display name, URL and e-mail alias.

The upstream applies the template's naming rule on its side; the portal computes the same
result from the template's neutral rules (upstreams.contract.TemplateRules) to preview it
while the requester types and to store it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from upstreams.contract import TemplateRules

URL_CORE = re.compile(r"^[A-Za-z0-9_-]+$")
DEFAULT_URL_MAX_LENGTH = 256


# Letters NFKD does not split into an ASCII letter and a mark.
_ASCII = str.maketrans(
    {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l", "ı": "i"}
)


def slugify(text: str) -> str:
    """A URL part from a name: ASCII (Zürich -> zurich, Ærø -> aero), lower-case, spaces to
    '-', other characters dropped, no run of dashes, no dash at either end. The portal sends
    it as the desired URL (sending.workspace_spec), so the upstream's URL is the one shown."""
    folded = unicodedata.normalize("NFKD", text.strip().lower().translate(_ASCII))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9_-]", "", re.sub(r"\s+", "-", ascii_text))
    return re.sub(r"-{2,}", "-", slug).strip("-")


@dataclass(frozen=True)
class FinalNames:
    display_name: str
    url_slug: str | None  # None: the workload has no URL (Viva Engage) or the upstream picks it
    email_alias: str | None
    url_too_long: bool = False
    url_max_length: int = DEFAULT_URL_MAX_LENGTH


def final_names(rules: TemplateRules, display_name: str, desired_url: str = "") -> FinalNames:
    """Apply a template's naming, URL and e-mail rules to what the requester typed."""
    display = f"{rules.naming.prefix}{display_name.strip()}{rules.naming.suffix}"
    url_slug = None
    too_long = False
    max_length = DEFAULT_URL_MAX_LENGTH
    if rules.url is not None:
        core = desired_url.strip() or slugify(display_name)
        url_slug = f"{rules.url.prefix}{core}{rules.url.suffix}".lower() if core else None
        max_length = rules.url.max_length or DEFAULT_URL_MAX_LENGTH
        too_long = bool(url_slug and len(url_slug) > max_length)
    email_alias = None
    if rules.alias is not None:
        url_prefix = rules.url.prefix if rules.url is not None else ""
        core = (url_slug or slugify(display_name)).removeprefix(url_prefix)
        email_alias = f"{rules.alias.prefix}{core}{rules.alias.suffix}".lower() if core else None
    return FinalNames(display, url_slug, email_alias, too_long, max_length)
