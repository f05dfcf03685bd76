"""The directory's live lists, kept briefly (issue 18, item 4): a list seen again within
DIRECTORY_CACHE_SECONDS costs the upstream nothing and says how old it is; "Refresh" reads it
again; nothing a failed read said is kept; one tenant's list is never another's; a tenant
pointed at another upstream reads that one."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from core import caching
from directory import selectors
from portal.models import User
from tenants import tokens, upstream
from tenants.models import Tenant
from tests.conftest import client_for
from upstreams.contract import Group, Page, Site

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

HX = {"HX-Request": "true"}
Read = tuple[str, str, dict[str, Any]]  # tenant slug, list, the call's arguments


@pytest.fixture(autouse=True)
def _clean(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty cache, the default window, no token of another test's emulator, no waits."""
    cache.clear()
    tokens.forget()
    settings.DIRECTORY_CACHE_SECONDS = 60
    settings.POINT_BACKOFF_MS = 10
    monkeypatch.setattr(upstream, "_sleep", lambda seconds: None)
    yield
    cache.clear()
    tokens.forget()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Read]:
    """Every list call the portal makes to an upstream, recorded, then passed on."""
    calls: list[Read] = []
    real = upstream.provider_for

    class Recording:
        def __init__(self, tenant: Tenant) -> None:
            self._slug = tenant.slug
            self._provider = real(tenant)

        def groups_page(self, **kwargs: Any) -> Page[Group]:
            calls.append((self._slug, "groups", kwargs))
            return self._provider.groups_page(**kwargs)

        def sites_page(self, **kwargs: Any) -> Page[Site]:
            calls.append((self._slug, "sites", kwargs))
            return self._provider.sites_page(**kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._provider, name)

    monkeypatch.setattr(upstream, "provider_for", Recording)
    return calls


@pytest.fixture
def staff(it_staff: User) -> Client:
    return client_for(it_staff)


def url(name: str, tenant: Tenant) -> str:
    return reverse(f"directory:{name}", args=[tenant.slug])


def names(response: Any) -> list[str]:
    return [row["group"].name for row in response.context["rows"]]


def ids(response: Any) -> set[str]:
    return {row["group"].id for row in response.context["rows"]}


# --- Seen again within the window -----------------------------------------------------------------


def test_a_second_view_within_the_window_asks_the_upstream_nothing_and_says_how_old(
    live_tenant_a: Tenant, staff: Client, reads: list[Read]
) -> None:
    first = staff.get(url("groups", live_tenant_a))
    assert first.status_code == 200 and len(reads) == 1
    assert "Read from Point <time" in first.text and ">just now</time>" in first.text
    read_at = first.context["page"].read_at
    with time_machine.travel(read_at + timedelta(seconds=42), tick=False):
        second = staff.get(url("groups", live_tenant_a))
    assert len(reads) == 1
    assert second.context["page"].cached and second.context["page"].read_at == read_at
    assert names(second) == names(first)
    assert ">42 s ago</time>" in second.text


def test_sites_are_kept_too(live_tenant_a: Tenant, staff: Client, reads: list[Read]) -> None:
    first = staff.get(url("sites", live_tenant_a))
    again = staff.get(url("sites", live_tenant_a), headers=HX)  # the fragment says it too
    assert len(reads) == 1 and [r[1] for r in reads] == ["sites"]
    assert again.context["page"].items == first.context["page"].items
    assert "<html" not in again.text and "Read from Point" in again.text


def test_after_the_window_the_list_is_read_again(
    live_tenant_a: Tenant, staff: Client, reads: list[Read]
) -> None:
    read_at = staff.get(url("groups", live_tenant_a)).context["page"].read_at
    with time_machine.travel(read_at + timedelta(seconds=61), tick=False):
        later = staff.get(url("groups", live_tenant_a))
    assert len(reads) == 2 and not later.context["page"].cached


def test_with_the_window_at_zero_every_view_reads(
    live_tenant_a: Tenant, staff: Client, reads: list[Read], settings: Settings
) -> None:
    settings.DIRECTORY_CACHE_SECONDS = 0
    staff.get(url("groups", live_tenant_a))
    staff.get(url("groups", live_tenant_a))
    assert len(reads) == 2


# --- Refresh ------------------------------------------------------------------------------------


def test_refresh_reads_the_list_again_and_keeps_the_new_answer(
    live_tenant_a: Tenant, staff: Client, reads: list[Read]
) -> None:
    filters = {"search": "all comp", "type": "UnifiedGroup"}
    first = staff.get(url("groups", live_tenant_a), filters)
    with time_machine.travel(first.context["page"].read_at + timedelta(seconds=30), tick=False):
        refreshed = staff.get(url("groups", live_tenant_a), {**filters, "fresh": "1"}, headers=HX)
        assert len(reads) == 2 and not refreshed.context["page"].cached
        assert ">just now</time>" in refreshed.text
        # The refreshed answer is the one kept: the next view asks nothing.
        again = staff.get(url("groups", live_tenant_a), filters)
    assert len(reads) == 2 and again.context["page"].read_at == refreshed.context["page"].read_at
    assert names(again) == ["All Company"]


def test_the_refresh_link_keeps_the_page_and_leaves_fresh_out_of_every_other_link(
    live_tenant_a: Tenant, staff: Client, settings: Settings
) -> None:
    settings.DIRECTORY_PAGE_SIZE = 20
    query = {"type": "UnifiedGroup", "sort": "-members", "page": "2", "fresh": "1"}
    response = staff.get(url("groups", live_tenant_a), query)
    context = response.context
    assert parse_qs(context["refresh_query"]) == {
        "type": ["UnifiedGroup"],
        "sort": ["-members"],
        "page": ["2"],
        "fresh": ["1"],
    }
    refresh = context["refresh_query"].replace("&", "&amp;")
    here = context["here_query"].replace("&", "&amp;")
    assert f'<a href="?{refresh}" hx-get="?{refresh}"' in response.text
    assert f'hx-push-url="{url("groups", live_tenant_a)}?{here}">Refresh</a>' in response.text
    # The pager and the sort links do not read past the cache.
    assert "fresh" not in context["query"] and "fresh" not in context["here_query"]
    assert all("fresh" not in header["query"] for header in context["sorts"].values())


# --- What is one entry --------------------------------------------------------------------------


def test_different_filters_and_pages_are_different_entries(
    live_tenant_a: Tenant, staff: Client, reads: list[Read], settings: Settings
) -> None:
    settings.DIRECTORY_PAGE_SIZE = 20
    groups = url("groups", live_tenant_a)
    views = [{}, {"search": "all comp"}, {"type": "DistributionList"}, {"page": "2"}]
    answers = [staff.get(groups, query) for query in views]
    assert len(reads) == 4
    assert names(answers[1]) == ["All Company"]
    assert answers[2].context["page"].total == 50
    assert set(names(answers[0])).isdisjoint(names(answers[3]))
    for query, answer in zip(views, answers, strict=True):  # each one kept as it was
        assert names(staff.get(groups, query)) == names(answer)
    assert len(reads) == 4


def test_every_sort_filter_and_page_of_a_sorted_list_come_from_one_read(
    live_tenant_a: Tenant, staff: Client, reads: list[Read], settings: Settings
) -> None:
    settings.DIRECTORY_PAGE_SIZE = 20
    groups = url("groups", live_tenant_a)
    first = staff.get(groups, {"sort": "-members"})
    calls = len(reads)  # the bounded read: 301 groups, one call of READ_PAGE
    assert first.context["page"].read == 301 and calls == 1
    second = staff.get(groups, {"sort": "-members", "page": "2"})
    by_name = staff.get(groups, {"sort": "name"})
    ownerless = staff.get(groups, {"ownerless": "on", "sort": "owners"})
    assert len(reads) == calls
    assert second.context["page"].cached and "Page 2 of 16" in second.text
    assert names(by_name) == sorted(names(by_name), key=str.casefold)
    assert all(row["ownerless"] for row in ownerless.context["rows"])
    # Page 2 is cut from the same read as page 1, so nothing is listed twice.
    assert set(names(first)).isdisjoint(names(second))
    # A search is another read.
    staff.get(groups, {"sort": "-members", "search": "all comp"})
    assert len(reads) == calls + 1


def test_a_different_read_bound_is_a_different_entry(
    live_tenant_a: Tenant, staff: Client, reads: list[Read], monkeypatch: pytest.MonkeyPatch
) -> None:
    staff.get(url("groups", live_tenant_a), {"sort": "-members"})
    monkeypatch.setattr(selectors, "READ_MAX", 100)
    monkeypatch.setattr(selectors, "READ_PAGE", 40)
    bounded = staff.get(url("groups", live_tenant_a), {"sort": "-members"})
    assert (bounded.context["page"].read, bounded.context["page"].partial) == (100, True)
    assert len(reads) == 1 + 3


# --- Errors -------------------------------------------------------------------------------------


def test_an_upstream_error_is_not_kept(
    live_tenant_a: Tenant, emulator: RunningEmulator, staff: Client, reads: list[Read]
) -> None:
    emulator.control("faults", path="/point/contoso/v1.0/groups*", kind="503", count=50)
    failed = staff.get(url("groups", live_tenant_a))
    assert failed.status_code == 200 and failed.context["page"].error
    assert "could not list the groups" in failed.text and "Read from Point" not in failed.text
    emulator.control("clear")
    listed = staff.get(url("groups", live_tenant_a))
    assert len(reads) == 2
    assert not listed.context["page"].error and listed.context["page"].total == 301
    assert not listed.context["page"].cached


def test_a_failed_refresh_keeps_the_list_read_before(
    live_tenant_a: Tenant, emulator: RunningEmulator, staff: Client, reads: list[Read]
) -> None:
    first = staff.get(url("groups", live_tenant_a))
    emulator.control("faults", path="/point/contoso/v1.0/groups*", kind="503", count=50)
    assert staff.get(url("groups", live_tenant_a), {"fresh": "1"}).context["page"].error
    emulator.control("clear")
    again = staff.get(url("groups", live_tenant_a))
    assert again.context["page"].cached and names(again) == names(first)
    assert len(reads) == 2


# --- Whose list ---------------------------------------------------------------------------------


def test_another_tenant_never_sees_this_tenants_list(
    live_tenant_a: Tenant,
    live_tenant_b: Tenant,
    staff: Client,
    it_staff_other: User,
    reads: list[Read],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    contoso = staff.get(url("groups", live_tenant_a))
    other = client_for(it_staff_other)
    keys: list[str] = []
    real_get = caching.cache.get

    def get(key: str, *args: Any) -> Any:
        keys.append(key)
        return real_get(key, *args)

    monkeypatch.setattr(caching.cache, "get", get)
    # Fabrikam's IT staff asking for Contoso's list: a 404 before any cache read.
    assert other.get(url("groups", live_tenant_a)).status_code == 404
    assert other.get(url("groups", live_tenant_a), headers=HX).status_code == 404
    assert keys == [] and len(reads) == 1
    # Their own list is read from their own upstream, under their own key.
    fabrikam = other.get(url("groups", live_tenant_b))
    assert [r[0] for r in reads] == ["contoso", "fabrikam"]
    assert len(keys) == 1 and keys[0].startswith(f"directory-list:{live_tenant_b.pk}:")
    assert ids(fabrikam).isdisjoint(ids(contoso))


def test_a_tenant_pointed_at_another_upstream_reads_that_one(
    live_tenant_a: Tenant, emulator: RunningEmulator, staff: Client, reads: list[Read]
) -> None:
    before = staff.get(url("groups", live_tenant_a))
    live_tenant_a.api_url = f"{emulator.url}/point/fabrikam"
    live_tenant_a.save()
    after = staff.get(url("groups", live_tenant_a))
    assert len(reads) == 2 and not after.context["page"].cached
    assert ids(after).isdisjoint(ids(before))


def test_the_key_names_the_tenant_its_upstream_and_the_read(tenant_a: Tenant) -> None:
    read = {"search": "", "top": 50, "skip": 0}
    key = selectors.list_cache_key(tenant_a, "groups", read)
    assert key == selectors.list_cache_key(tenant_a, "groups", dict(read))
    assert key != selectors.list_cache_key(tenant_a, "sites", read)
    assert key != selectors.list_cache_key(tenant_a, "groups", {**read, "search": "x"})
    tenant_a.api_url = "https://other.example/point"  # not even saved yet
    assert key != selectors.list_cache_key(tenant_a, "groups", read)
    tenant_a.refresh_from_db()
    tenant_a.provider = "graph"
    assert key != selectors.list_cache_key(tenant_a, "groups", read)
    assert len(selectors.list_cache_key(tenant_a, "groups", {"search": "x" * 200})) < 250


# --- What is kept -------------------------------------------------------------------------------


def test_what_is_kept_pickles() -> None:
    groups = Page([Group("g", "G", owners_count=0, site_url="https://x.example/sites/g")], 1)
    sites = ([Site("s", "https://x.example", last_activity_on=date(2026, 11, 30))], False)
    for value in (groups, sites):
        assert pickle.loads(pickle.dumps(value)) == value
