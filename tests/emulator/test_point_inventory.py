"""Point's groups and sites inventory: generated data, filters, lookups and paging."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.server import start_background
from tests.emulator import test_point_support as support
from tests.emulator.test_point_support import CONTOSO, Point, token

# Fixtures shared by the Point tests.
fast, contoso, fabrikam = support.fast, support.contoso, support.fabrikam

GROUP_TYPES = ["DistributionList", "UnifiedGroup", "SecurityGroup", "MailEnabledSecurityGroup"]


def collect(point: Point, path: str, **params: Any) -> list[dict[str, Any]]:
    """Follow @odata.nextLink to the end."""
    items: list[dict[str, Any]] = []
    answer = point.get(path, params=params).json()
    while True:
        items += answer["value"]
        if "@odata.nextLink" not in answer:
            return items
        answer = point.get(answer["@odata.nextLink"]).json()


def test_groups_come_in_pages_with_a_next_link_until_the_end(contoso: Point) -> None:
    first = contoso.get("/groups").json()
    assert len(first["value"]) == 100
    assert first["@odata.count"] >= 300
    assert first["@odata.nextLink"].startswith(contoso.base + "/groups?")
    everything = collect(contoso, "/groups", **{"$top": 70})
    assert len(everything) == first["@odata.count"]
    assert len({g["id"] for g in everything}) == len(everything)


@pytest.mark.parametrize("group_type", GROUP_TYPES)
def test_groups_filter_by_type(contoso: Point, group_type: str) -> None:
    groups = collect(contoso, "/groups", groupType=group_type, **{"$top": 1000})
    assert groups
    assert {g["groupType"] for g in groups} == {group_type}


def test_group_types_partition_all_groups_and_include_guests_and_teams(contoso: Point) -> None:
    total = contoso.get("/groups").json()["@odata.count"]
    assert (
        sum(
            contoso.get("/groups", params={"groupType": t}).json()["@odata.count"]
            for t in GROUP_TYPES
        )
        == total
    )
    everything = collect(contoso, "/groups", **{"$top": 1000})
    assert any(g["guestsCount"] > 0 for g in everything)
    assert any(g["isTeam"] for g in everything)


def test_an_unknown_group_type_is_a_validation_error(contoso: Point) -> None:
    answer = contoso.get("/groups", params={"groupType": "Friends"})
    assert answer.status_code == 400
    assert "groupType" in answer.json()["errors"]


def test_a_group_is_found_by_name_case_insensitively(contoso: Point) -> None:
    group = contoso.get("/groups/all company").json()
    assert group["name"] == "All Company"
    assert group["membersCount"] == 10_000
    assert group["groupType"] == "UnifiedGroup"


def test_an_unknown_group_is_404_in_the_documented_shape(contoso: Point) -> None:
    answer = contoso.get("/groups/No Such Group")
    assert answer.status_code == 404
    body = answer.json()
    assert body["message"] == "An error has occurred."
    assert (
        body["exceptionType"]
        == "SysKit.Point.Application.SeedWork.Exceptions.ResourceMissingException"
    )
    assert "No Such Group" in body["exceptionMessage"]


def test_groups_can_be_searched(contoso: Point) -> None:
    found = contoso.get("/groups", params={"search": "finance"}).json()["value"]
    assert found
    assert all("finance" in (g["name"] + g["email"]).lower() for g in found)


def test_sites_page_through_a_few_hundred(contoso: Point) -> None:
    sites = collect(contoso, "/sites", **{"$top": 120})
    assert len(sites) >= 300
    assert len({s["url"] for s in sites}) == len(sites)
    assert {s["siteType"] for s in sites} == {
        "Microsoft 365 Group connected",
        "Communication site",
        "Team site (no group)",
    }


def test_page_size_is_capped_and_bad_paging_is_rejected(contoso: Point) -> None:
    capped = contoso.get("/sites", params={"$top": 5000}).json()
    assert len(capped["value"]) == min(1000, capped["@odata.count"])
    assert contoso.get("/sites", params={"$top": "many"}).status_code == 400
    assert contoso.get("/sites", params={"$skip": -1}).status_code == 400
    assert contoso.get("/sites", params={"$skip": 100_000}).json()["value"] == []


def test_the_inventory_is_the_same_in_every_emulator_and_differs_per_tenant(
    contoso: Point, fabrikam: Point
) -> None:
    other = start_background(log_requests=False)
    try:
        again = Point(other, CONTOSO, token(other, CONTOSO))
        assert again.get("/groups").json()["value"] == contoso.get("/groups").json()["value"]
        assert again.get("/sites").json()["value"] == contoso.get("/sites").json()["value"]
    finally:
        other.stop()
    assert (
        fabrikam.get("/groups").json()["value"][0]["id"]
        != contoso.get("/groups").json()["value"][0]["id"]
    )
