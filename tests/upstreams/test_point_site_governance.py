"""A site's governance fields (storage, last activity, external sharing, sensitivity label) read
from Point's JSON in every spelling the reference, the emulator and Graph use, and left unknown
(None or "") when missing or unreadable (docs/point-contract.md §5.2)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from emulator.point import directory as inventory
from emulator.point.dialects import DIALECTS
from upstreams.contract import Site
from upstreams.point import wire

URL = "https://contoso.sharepoint.com/sites/finance"


def governance(site: Site) -> tuple[int | None, date | None, str, str]:
    return (
        site.storage_used_bytes,
        site.last_activity_on,
        site.external_sharing,
        site.sensitivity_label,
    )


@pytest.mark.parametrize(
    "data",
    [
        # The reference's proposed body (§5.1 of the research notes) and the emulator's `today`.
        {
            "storageUsedBytes": 1288490188,
            "lastActivityDate": "2026-08-19",
            "sharingSettings": "ExistingGuestsOnly",
            "sensitivityLabel": "Confidential",
        },
        # PascalCase (pascal-problem-details) and snake_case.
        {
            "StorageUsedBytes": 1288490188,
            "LastActivityDate": "2026-08-19",
            "SharingSettings": "ExistingGuestsOnly",
            "SensitivityLabel": "Confidential",
        },
        {
            "storage_used_bytes": "1288490188",
            "last_activity_date": "2026-08-19T10:15:00Z",
            "sharing_settings": "existing guests only",
            "sensitivity_label": {"name": "Confidential"},
        },
        # Graph's names: usage reports, SharePoint's sharing capability, a label object.
        {
            "storageUsedInBytes": 1288490188.0,
            "lastActivityDateTime": "2026-08-19T23:59:59+00:00",
            "sharingCapability": "existingExternalUserSharingOnly",
            "sensitivityLabel": {"id": "c99e52c6", "displayName": "Confidential"},
        },
        # A drive's quota, and SharePoint's SharingCapabilities as a number.
        {
            "quota": {"used": 1288490188, "total": 27487790694400},
            "lastActivity": "2026-08-19",
            "sharingCapabilities": 3,
            "assignedLabels": [{"displayName": "Confidential"}],
        },
    ],
)
def test_the_governance_fields_are_read_in_every_spelling(data: dict[str, Any]) -> None:
    found = wire.site({"id": "s", "url": URL, "title": "Finance", **data})
    assert governance(found) == (
        1288490188,
        date(2026, 8, 19),
        wire.SHARING_EXISTING_GUESTS,
        "Confidential",
    )
    assert (found.id, found.url, found.title) == ("s", URL, "Finance")


def test_a_site_without_them_leaves_every_one_unknown() -> None:
    assert governance(wire.site({"id": "s", "url": URL})) == (None, None, "", "")
    assert wire.site({"id": "s"}) == Site(id="s")


@pytest.mark.parametrize(
    "data",
    [
        {"storageUsedBytes": None, "lastActivityDate": None, "sharingSettings": None},
        {"storageUsedBytes": "", "lastActivityDate": "", "sharingSettings": ""},
        {"storageUsedBytes": "lots", "lastActivityDate": "yesterday", "sensitivityLabel": []},
        {"storageUsedBytes": -1, "lastActivityDate": 1755600000, "sensitivityLabel": {}},
        {"storageUsedBytes": True, "lastActivityDate": {"date": "x"}},
        {"storageUsedBytes": 12.5},
    ],
)
def test_an_unreadable_value_is_unknown_never_a_guess(data: dict[str, Any]) -> None:
    assert governance(wire.site({"id": "s", **data})) == (None, None, "", "")


def test_a_bare_storage_used_is_not_read_its_unit_is_unknown() -> None:
    assert wire.site({"id": "s", "storageUsed": 1200}).storage_used_bytes is None
    assert wire.site({"id": "s", "storage": 1200}).storage_used_bytes is None


def test_megabytes_under_sharepoint_admins_names_become_bytes() -> None:
    assert wire.site({"id": "s", "storageUsageCurrent": 2}).storage_used_bytes == 2 * 1024**2
    assert wire.site({"id": "s", "storageUsedMB": "1.5"}).storage_used_bytes == 1572864
    # A bytes key wins over a megabytes one.
    both = {"id": "s", "storageUsedBytes": 7, "storageUsageCurrent": 2}
    assert wire.site(both).storage_used_bytes == 7


def test_a_timestamp_is_read_as_its_day_in_utc() -> None:
    late = wire.site({"id": "s", "lastActivityDateTime": "2026-08-19T22:30:00-05:00"})
    assert late.last_activity_on == date(2026, 8, 20)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("Anyone", wire.SHARING_ANYONE),
        ("ExternalUserAndGuestSharing", wire.SHARING_ANYONE),
        (2, wire.SHARING_ANYONE),
        ("NewAndExistingGuests", wire.SHARING_NEW_AND_EXISTING_GUESTS),
        ("externalUserSharingOnly", wire.SHARING_NEW_AND_EXISTING_GUESTS),
        ("1", wire.SHARING_NEW_AND_EXISTING_GUESTS),
        ("OnlyOrganization", wire.SHARING_ORGANIZATION_ONLY),
        ("Disabled", wire.SHARING_ORGANIZATION_ONLY),
        (0, wire.SHARING_ORGANIZATION_ONLY),
        ({"name": "ExistingGuestsOnly"}, wire.SHARING_EXISTING_GUESTS),
        ("SpecificPeopleOnly", "SpecificPeopleOnly"),  # unknown: kept as sent
        (9, "9"),  # an unknown number: its digits
    ],
)
def test_external_sharing_reads_as_the_admin_centers_words(value: Any, words: str) -> None:
    assert wire.site({"id": "s", "sharingSettings": value}).external_sharing == words


# --- The emulator's dialects: `today` sends them; the others omit or rename them ----------------


def a_record() -> dict[str, Any]:
    tenant = {"slug": "contoso", "domain": "contoso.onmicrosoft.com", "users": []}
    return next(s for s in inventory.inventory(tenant).sites if s["label"])


def test_the_today_and_pascal_dialects_carry_them() -> None:
    record = a_record()
    for name in ("today", "pascal-problem-details"):
        found = wire.site(DIALECTS[name].site(record))
        assert found.storage_used_bytes == record["storage"], name
        assert found.last_activity_on == date.fromisoformat(record["last_modified"][:10]), name
        assert found.external_sharing in {
            wire.SHARING_ANYONE,
            wire.SHARING_NEW_AND_EXISTING_GUESTS,
            wire.SHARING_EXISTING_GUESTS,
            wire.SHARING_ORGANIZATION_ONLY,
        }, name
        assert found.sensitivity_label == record["label"], name


def test_the_minimal_and_graph_dialects_leave_them_unknown() -> None:
    record = a_record()
    for name in ("documented-minimal", "graph-names"):
        found = wire.site(DIALECTS[name].site(record))
        assert found.url == record["url"], name
        assert governance(found) == (None, None, "", ""), name
