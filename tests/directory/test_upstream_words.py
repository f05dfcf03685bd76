from __future__ import annotations

import pytest

from directory.templatetags.upstream_words import upstream_word


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("MicrosoftTeam", "Microsoft Teams team"),
        ("M365Group", "Microsoft 365 group"),
        ("M365GroupOwner", "Microsoft 365 group owner"),
        ("M365GroupMember", "Microsoft 365 group member"),
        ("SharePointGroup", "SharePoint group"),
        ("SecurityGroup", "Security group"),
        ("DirectPermission", "Direct permission"),
        ("Site", "Site"),
        ("", ""),
    ],
)
def test_point_identifiers_read_as_words(raw: str, shown: str) -> None:
    assert upstream_word(raw) == shown
