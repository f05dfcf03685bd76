"""Readable words for an upstream's own identifiers (MicrosoftTeam, M365GroupOwner,
SharePointGroup), as report rows carry them (contract.ReportRow.kind_text)."""

from __future__ import annotations

import re

from django import template

register = template.Library()

# Product names keep their capitals; the rest reads as a sentence.
KNOWN = {
    "MicrosoftTeam": "Microsoft Teams team",
    "MicrosoftTeams": "Microsoft Teams team",
    "M365Group": "Microsoft 365 group",
    "SharePointSiteCollection": "SharePoint site",
    "OneDrive": "OneDrive",
    "SharePointGroup": "SharePoint group",
    "YammerCommunity": "Viva Engage community",
}
PRODUCT_WORDS = ("Microsoft 365", "Microsoft Teams", "SharePoint", "OneDrive", "Viva Engage")


@register.filter
def upstream_word(value: object) -> str:
    """ "M365GroupOwner" -> "Microsoft 365 group owner"; unknown words are split at capitals."""
    text = str(value or "")
    for code, words in sorted(KNOWN.items(), key=lambda item: -len(item[0])):
        if text.startswith(code):
            rest = text[len(code) :]
            return words + (" " + _split(rest).lower() if rest else "")
    split = _split(text)
    if any(split.startswith(word) for word in PRODUCT_WORDS):
        return split
    return split[:1].upper() + split[1:].lower()


def _split(text: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text).strip()
