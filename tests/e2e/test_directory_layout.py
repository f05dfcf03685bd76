"""Every directory page fits its screen: on a 1280 px desktop and on a 390 px phone, no page is
wider than the window and no table is wider than its card (long URLs and UPNs wrap; on a phone
the tables stack into cards)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from directory.models import ReportKind, ReportRow, ReportRun
from tenants import upstream
from tests.e2e.test_sign_in_journey import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from emulator.server import RunningEmulator
    from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = [(1280, 900), (390, 844)]
MEGAN = "megan.bowen@contoso.onmicrosoft.com"
# Values with nothing to break at, as Point sends them: a guest's UPN and a deep site URL.
LONG_UPN = "patti.fernandez_fabrikam.example#EXT#@contoso.onmicrosoft.com" * 2
LONG_URL = "https://contoso.sharepoint.com/sites/" + "project-falcon-archive-" * 6
LONG_NAME = "Falcon" * 20

# What is wrong with the page's width, measured in the browser: the document wider than the
# window, or a table wider than its card (the card scrolls, or ends past the window).
OVERFLOW = """() => {
  const width = window.innerWidth;
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > width) problems.push(`page: ${doc.scrollWidth} > ${width}`);
  const tables = [...document.querySelectorAll("table")];
  tables.forEach((table, i) => {
    const card = table.closest(".table-wrap") || table.parentElement;
    const box = card.getBoundingClientRect();
    if (card.scrollWidth > card.clientWidth) {
      problems.push(`table ${i}: ${card.scrollWidth} in a card of ${card.clientWidth}`);
    }
    if (table.getBoundingClientRect().width > box.width + 0.5) {
      problems.push(`table ${i}: wider than its card`);
    }
    if (box.right > width + 0.5) problems.push(`table ${i}: its card ends at ${box.right}`);
  });
  return {problems, tables: tables.length};
}"""


def snapshot(
    tenant: Tenant, kind: str, subject: str, label: str, rows: list[dict[str, str]]
) -> None:
    run = ReportRun.objects.create(
        tenant=tenant,
        kind=kind,
        subject=subject,
        subject_label=label,
        state=ReportRun.State.SUCCEEDED,
        finished_at=timezone.now(),
        row_count=len(rows),
    )
    ReportRow.objects.bulk_create(
        ReportRow(
            run=run,
            position=i,
            group_id=row.get("group_id", ""),
            group_name=row.get("group_name", ""),
            name=row.get("name", ""),
            upn=row.get("upn", ""),
            kind=row.get("kind", ""),
            role=row.get("role") or row.get("access_via", ""),
            site_url=row.get("site_url", ""),
            permission=row.get("permission", ""),
            data=row,
        )
        for i, row in enumerate(rows)
    )


def long_snapshots(tenant: Tenant, group_id: str, group_name: str) -> None:
    """Stored reports whose rows hold the longest values a page may have to show."""
    member = {"name": LONG_NAME, "upn": LONG_UPN, "kind": "guest", "role": "member"}
    nested = {"name": "SG Finance Team", "upn": "sgfinance@contoso.com", "kind": "group"}
    snapshot(tenant, ReportKind.GROUP_MEMBERSHIPS, group_id, group_name, [member, nested])
    snapshot(
        tenant,
        ReportKind.GROUP_MEMBERSHIPS,
        "",
        "",
        [{**member, "group_id": group_id, "group_name": LONG_NAME}],
    )
    grant = {
        "site_url": LONG_URL,
        "name": LONG_UPN,
        "kind": "guest",
        "kind_text": "Guest",
        "permission": "Site Collection Administrator",
        "access_via": "M365GroupOwner",
    }
    snapshot(tenant, ReportKind.SITE_PERMISSIONS, LONG_URL, LONG_URL, [grant])
    snapshot(tenant, ReportKind.SITE_PERMISSIONS, "", "", [grant])
    reach = {
        "name": LONG_NAME,
        "site_url": LONG_URL,
        "kind": "team",
        "kind_text": "MicrosoftTeam",
        "permission": "Owner",
        "access_via": "M365GroupOwner",
    }
    snapshot(tenant, ReportKind.USER_ACCESS, MEGAN, MEGAN, [reach, {**reach, "kind": "site"}])


def test_every_directory_page_fits_a_desktop_and_a_phone(
    page: Page, live_server: Any, emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    group = upstream.provider_for(live_tenant_a).get_group("All Company")
    long_snapshots(live_tenant_a, group.id, group.name)
    sign_in(page, live_server.url, emulator, "Megan Bowen")
    base = f"{live_server.url}/directory/{live_tenant_a.slug}"
    pages = [
        ("/groups/", True),
        ("/groups/?sort=-members", True),
        ("/groups/?ownerless=on&sort=name", True),
        ("/groups/All Company", True),
        ("/sites/", True),
        ("/sites/?sort=-storage", True),
        ("/site-permissions/", True),
        ("/site-permissions/?" + urlencode({"site": LONG_URL, "group": LONG_NAME}), True),
        ("/access/", False),
        ("/access/?" + urlencode({"upn": MEGAN}), True),
    ]
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for path, has_table in pages:
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            found = page.evaluate(OVERFLOW)
            assert found["problems"] == [], (width, path, found["problems"])
            assert (found["tables"] > 0) == has_table, (width, path)
    assert page.csp_errors == []  # type: ignore[attr-defined]


def test_a_phone_stacks_the_groups_into_cards_and_keeps_the_sort_links(
    page: Page, live_server: Any, emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    sign_in(page, live_server.url, emulator, "Megan Bowen")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/directory/{live_tenant_a.slug}/groups/")
    cell = page.locator("#group-results td[data-label='Members']").first
    assert cell.evaluate("td => getComputedStyle(td).display") == "block"
    # The sort links stay in reach, and sorting (htmx) keeps the table on the page.
    page.get_by_role("link", name="Members (sort descending)").click()
    page.wait_for_url("**sort=-members**")
    assert page.locator("th[aria-sort='descending']").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
