"""The groups and sites lists for governance (issue 15, item 5): owner, member and guest counts,
"ownerless", storage, last activity, sharing and label; sorting on the portal's side; "—" where
the upstream gives nothing; and the links between groups, sites and reports."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from directory import selectors
from directory.models import ReportKind, ReportRow, ReportRun
from portal.models import User
from tenants import upstream
from tenants.models import Tenant
from tests.conftest import client_for
from upstreams.contract import Group, Page, Site

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

HX = {"HX-Request": "true"}
MEGAN = "megan.bowen@contoso.onmicrosoft.com"


@pytest.fixture
def staff(it_staff: User) -> Client:
    return client_for(it_staff)


def url(name: str, tenant: Tenant, *args: Any) -> str:
    return reverse(f"directory:{name}", args=[tenant.slug, *args])


def groups_of(response: Any) -> list[Group]:
    return [row["group"] for row in response.context["rows"]]


def dialect(emulator: RunningEmulator, name: str) -> None:
    emulator.control("dialect", dialect=name, tenant="contoso")


def header_query(response: Any, column: str) -> dict[str, list[str]]:
    """The query of a sortable column's header link, read from the context."""
    return parse_qs(response.context["sorts"][column]["query"])


# --- Sorting, on the portal's side ---------------------------------------------------------------


def test_groups_sort_by_members_biggest_first_across_pages(
    live_tenant_a: Tenant, staff: Client, settings: Settings
) -> None:
    settings.DIRECTORY_PAGE_SIZE = 20
    first = staff.get(url("groups", live_tenant_a), {"sort": "-members"})
    assert first.status_code == 200
    page = first.context["page"]
    assert page.local and page.read == page.total == 301 and not page.partial
    counts = [g.members_count or 0 for g in groups_of(first)]
    assert counts == sorted(counts, reverse=True) and groups_of(first)[0].name == "All Company"
    assert "sorted by the portal over the 301 groups read from Point" in first.text
    assert 'aria-sort="descending"' in first.text
    second = staff.get(url("groups", live_tenant_a), {"sort": "-members", "page": "2"})
    assert (groups_of(second)[0].members_count or 0) <= counts[-1]
    assert "Page 2 of 16" in second.text


def test_groups_sort_by_name_and_back(live_tenant_a: Tenant, staff: Client) -> None:
    up = groups_of(staff.get(url("groups", live_tenant_a), {"sort": "name"}))
    names = [g.name.casefold() for g in up]
    assert names == sorted(names)
    down = staff.get(url("groups", live_tenant_a), {"sort": "-name"})
    assert [g.name.casefold() for g in groups_of(down)] == sorted(
        (g.name.casefold() for g in selectors.read_bounded(fetch_all(live_tenant_a))[0]),
        reverse=True,
    )[: len(up)]
    # Sorted by name descending, the name header's link sorts ascending, and back.
    assert header_query(down, "name")["sort"] == ["name"]
    assert 'aria-sort="descending"' in down.text


def fetch_all(tenant: Tenant) -> Any:
    provider = upstream.provider_for(tenant)
    return lambda top, skip: provider.groups_page(top=top, skip=skip)


def test_sort_links_keep_the_filters_and_drop_the_page(
    live_tenant_a: Tenant, staff: Client
) -> None:
    response = staff.get(
        url("groups", live_tenant_a),
        {"type": "DistributionList", "search": "dl", "ownerless": "on", "page": "1"},
    )
    query = header_query(response, "owners")
    assert query == {
        "type": ["DistributionList"],
        "search": ["dl"],
        "ownerless": ["on"],
        "sort": ["-owners"],
    }
    link = response.context["sorts"]["owners"]["query"].replace("&", "&amp;")
    assert f'href="?{link}"' in response.text
    assert 'hx-target="#group-results"' in response.text


def test_a_sorted_fragment_keeps_the_sort_for_the_filter_form(
    live_tenant_a: Tenant, staff: Client
) -> None:
    response = staff.get(url("groups", live_tenant_a), {"sort": "-guests"}, headers=HX)
    assert "<html" not in response.text
    assert '<input type="hidden" name="sort" value="-guests" form="group-filters">' in (
        response.text
    )
    # The pager keeps the sort too.
    assert "sort=-guests&amp;page=2" in response.text


def test_an_unknown_sort_is_the_upstreams_order(live_tenant_a: Tenant, staff: Client) -> None:
    response = staff.get(url("groups", live_tenant_a), {"sort": "-nonsense"})
    assert response.status_code == 200
    assert not response.context["page"].local and response.context["sort"] == ""
    unsorted = staff.get(url("groups", live_tenant_a))
    assert [g.id for g in groups_of(response)] == [g.id for g in groups_of(unsorted)]


def test_sites_sort_by_storage_and_last_activity(live_tenant_a: Tenant, staff: Client) -> None:
    biggest = staff.get(url("sites", live_tenant_a), {"sort": "-storage"})
    sizes = [s.storage_used_bytes for s in biggest.context["page"].items]
    assert None not in sizes and sizes == sorted(sizes, reverse=True)
    assert "sorted by the portal over the 301 sites read from Point" in biggest.text
    oldest = staff.get(url("sites", live_tenant_a), {"sort": "activity"})
    days = [s.last_activity_on for s in oldest.context["page"].items]
    assert days == sorted(days)
    assert header_query(oldest, "activity")["sort"] == ["-activity"]


def test_a_list_longer_than_the_bound_is_sorted_over_what_was_read(
    live_tenant_a: Tenant, staff: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "READ_MAX", 100)
    monkeypatch.setattr(selectors, "READ_PAGE", 40)
    response = staff.get(url("groups", live_tenant_a), {"sort": "-members"})
    page = response.context["page"]
    assert (page.read, page.partial, page.total) == (100, True, 100)
    assert "Point has more, and only the first 100 were read" in response.text


def test_unknown_values_sort_last_in_either_direction() -> None:
    sites = [Site("a", storage_used_bytes=5), Site("b"), Site("c", storage_used_bytes=9)]
    storage = selectors.SITE_SORTS["storage"]
    assert [s.id for s in selectors.sort_items(sites, storage, descending=True)] == [
        "c",
        "a",
        "b",
    ]
    assert [s.id for s in selectors.sort_items(sites, storage, descending=False)] == [
        "a",
        "c",
        "b",
    ]
    dated = [Site("x"), Site("y", last_activity_on=date(2026, 1, 2))]
    assert (
        selectors.sort_items(dated, selectors.SITE_SORTS["activity"], descending=False)[0].id == "y"
    )


def test_a_bounded_read_stops_at_the_end_at_the_bound_or_at_an_empty_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(selectors, "READ_MAX", 10)
    monkeypatch.setattr(selectors, "READ_PAGE", 4)
    calls: list[tuple[int, int]] = []

    def endless(top: int, skip: int) -> Page[Group]:
        calls.append((top, skip))
        return Page([Group(str(skip + i)) for i in range(top)], None, True)

    items, partial = selectors.read_bounded(endless)
    assert (len(items), partial) == (10, True)
    assert calls == [(4, 0), (4, 4), (2, 8)]

    def short(top: int, skip: int) -> Page[Group]:
        return Page([Group("1"), Group("2")], 2, False)

    assert selectors.read_bounded(short) == ([Group("1"), Group("2")], False)

    def lying(top: int, skip: int) -> Page[Group]:
        return Page([], None, True)  # "more" but nothing: stop, do not loop

    assert selectors.read_bounded(lying) == ([], False)


# --- Ownerless -----------------------------------------------------------------------------------


def test_ownerless_only_lists_the_groups_with_no_owner(
    live_tenant_a: Tenant, staff: Client
) -> None:
    everything, _ = selectors.read_bounded(fetch_all(live_tenant_a))
    expected = {g.id for g in everything if g.owners_count == 0}
    assert expected, "the emulator has distribution lists without owners"
    response = staff.get(url("groups", live_tenant_a), {"ownerless": "on"})
    found = groups_of(response)
    assert {g.id for g in found} == expected and response.context["page"].total == len(expected)
    assert response.text.count('class="badge badge-ownerless"') == len(found)
    assert f"{len(expected)} ownerless groups · filtered by the portal" in response.text


def test_the_ownerless_badge_is_shown_only_for_a_count_of_zero(
    live_tenant_a: Tenant, staff: Client
) -> None:
    response = staff.get(url("groups", live_tenant_a), {"sort": "owners"})
    rows = response.context["rows"]
    assert rows[0]["group"].owners_count == 0 and rows[0]["ownerless"]
    assert all(row["ownerless"] == (row["group"].owners_count == 0) for row in rows)


def test_groups_without_owner_counts_are_not_ownerless_and_show_a_dash(
    live_tenant_a: Tenant, emulator: RunningEmulator, staff: Client
) -> None:
    dialect(emulator, "graph-names")  # Graph's group has no counts
    listed = staff.get(url("groups", live_tenant_a))
    assert listed.status_code == 200
    assert all(g.owners_count is None for g in groups_of(listed))
    assert "badge-ownerless" not in listed.text
    cells = [f'data-label="{c}" class="dir-number">—</td>' for c in ("Owners", "Members", "Guests")]
    assert all(cell in listed.text for cell in cells)
    assert 'class="dir-number">0</td>' not in listed.text
    ownerless = staff.get(url("groups", live_tenant_a), {"ownerless": "on"})
    assert groups_of(ownerless) == []
    assert "Point gives no owner counts, so no group can be shown as ownerless." in ownerless.text


def test_some_groups_without_an_owner_count_are_said_to_be_left_out(
    tenant_a: Tenant, staff: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = [Group("a", "A", owners_count=0), Group("b", "B"), Group("c", "C", owners_count=2)]

    class Fake:
        def groups_page(self, *, top: int, skip: int, **kwargs: Any) -> Page[Group]:
            return Page(groups[skip : skip + top], len(groups), skip + top < len(groups))

    monkeypatch.setattr(upstream, "provider_for", lambda tenant: Fake())
    response = staff.get(url("groups", tenant_a), {"ownerless": "on"})
    assert [g.id for g in groups_of(response)] == ["a"]
    assert "1 group has no owner count from" in response.text
    assert "and is not shown as ownerless" in response.text


# --- Sites: storage, last activity, sharing, label -----------------------------------------------


def test_the_sites_list_shows_what_point_says_of_each_site(
    live_tenant_a: Tenant, staff: Client
) -> None:
    response = staff.get(url("sites", live_tenant_a))
    first = response.context["page"].items[0]
    assert first.storage_used_bytes and first.last_activity_on and first.external_sharing
    assert f"{first.last_activity_on:%Y-%m-%d}</time>" in response.text
    assert f'title="{first.storage_used_bytes} bytes"' in response.text
    assert "External sharing" in response.text and "Sensitivity label" in response.text


@pytest.mark.parametrize("name", ["documented-minimal", "graph-names"])
def test_a_dialect_without_them_shows_a_dash_not_a_zero(
    name: str, live_tenant_a: Tenant, emulator: RunningEmulator, staff: Client
) -> None:
    dialect(emulator, name)
    response = staff.get(url("sites", live_tenant_a))
    assert response.status_code == 200
    items = response.context["page"].items
    assert items and all(s.storage_used_bytes is None for s in items)
    for label in ("Storage used", "Last activity"):
        assert f'data-label="{label}" class="dir-number">—</td>' in response.text
    for label in ("External sharing", "Sensitivity label"):
        assert f'data-label="{label}">—</td>' in response.text
    assert "0 bytes" not in response.text
    # Sorting by storage still answers: every site's storage is unknown, so the order stays.
    sorted_page = staff.get(url("sites", live_tenant_a), {"sort": "-storage"})
    assert sorted_page.status_code == 200 and sorted_page.context["page"].items


# --- Links -----------------------------------------------------------------------------------------


def test_a_group_links_to_its_memberships_and_its_sites_permissions(
    live_tenant_a: Tenant, staff: Client
) -> None:
    response = staff.get(url("groups", live_tenant_a), {"search": "All Company"})
    group = groups_of(response)[0]
    assert group.site_url
    members = url("group", live_tenant_a, group.name)
    permissions = (
        url("site_permissions", live_tenant_a)
        + "?"
        + urlencode({"site": group.site_url, "group": group.name}, quote_via=quote, safe="")
    )
    assert f'href="{members}">Members and owners</a>' in response.text
    assert f'href="{permissions.replace("&", "&amp;")}">Site permissions</a>' in response.text
    page = staff.get(members)
    assert permissions.replace("&", "&amp;") in page.text


def test_a_sites_permissions_page_links_back_to_its_group(
    live_tenant_a: Tenant, staff: Client
) -> None:
    site = "https://contoso.sharepoint.com/sites/allcompany"
    response = staff.get(
        url("site_permissions", live_tenant_a), {"site": site, "group": "All Company"}
    )
    assert response.context["group_name"] == "All Company"
    assert f'<a href="{url("group", live_tenant_a, "All Company")}">All Company</a>' in (
        response.text
    )
    # The report's filters keep it; a page without a site names no group.
    assert '<input type="hidden" name="group" value="All Company">' in response.text
    every = staff.get(url("site_permissions", live_tenant_a), {"group": "All Company"})
    assert every.context["group_name"] == "" and "Site of the group" not in every.text


def test_a_user_access_row_links_to_its_group_when_it_is_one(
    live_tenant_a: Tenant, staff: Client
) -> None:
    run = ReportRun.objects.create(
        tenant=live_tenant_a,
        kind=ReportKind.USER_ACCESS,
        subject=MEGAN,
        state=ReportRun.State.SUCCEEDED,
        finished_at=timezone.now(),
        row_count=3,
    )
    team_url = "https://contoso.sharepoint.com/sites/falcon"
    for position, (name, kind, site_url) in enumerate(
        [
            ("Falcon", "team", team_url),
            ("Finance Budget", "group", ""),
            ("Policies", "site", "https://contoso.sharepoint.com/sites/policies"),
        ]
    ):
        ReportRow.objects.create(
            run=run,
            position=position,
            name=name,
            kind=kind,
            site_url=site_url,
            data={"name": name, "kind": kind, "site_url": site_url},
        )
    response = staff.get(url("user_access", live_tenant_a), {"upn": MEGAN})
    text = response.text
    assert f'<a href="{url("group", live_tenant_a, "Falcon")}">Falcon</a>' in text
    assert f'<a href="{url("group", live_tenant_a, "Finance Budget")}">Finance Budget</a>' in text
    assert url("group", live_tenant_a, "Policies") not in text
    # A team's site links to its permissions, naming the group.
    assert f"?site={quote(team_url, safe='')}&amp;group=Falcon" in text
