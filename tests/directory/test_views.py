"""Directory pages against the emulator: lists, the All Company snapshot, progress, CSV, errors."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from directory import services as directory
from directory.models import ReportKind, ReportRow, ReportRun
from portal.models import User
from tenants import upstream
from tenants.models import Tenant
from tests.conftest import client_for
from tests.directory.test_services import CONTOSO_CLIENT, MEGAN, fast_reports, upstream_jobs
from upstreams.contract import Group

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

__all__ = ["fast_reports"]  # autouse fixture shared with test_services.py

HX = {"HX-Request": "true"}


@pytest.fixture
def staff(it_staff: User) -> Client:
    return client_for(it_staff)


def url(name: str, tenant: Tenant, *args: Any) -> str:
    return reverse(f"directory:{name}", args=[tenant.slug, *args])


def refresh(client: Client, tenant: Tenant, capture: Any, **data: str) -> Any:
    with capture(execute=True):
        return client.post(url("report_refresh", tenant), data)


def all_company(tenant: Tenant) -> Group:
    return upstream.provider_for(tenant).get_group("All Company")


def megans_access_snapshot(tenant: Tenant, **fields: Any) -> ReportRun:
    """A succeeded user-access run for Megan, finished now (its rows are the test's)."""
    return ReportRun.objects.create(
        tenant=tenant,
        kind=ReportKind.USER_ACCESS,
        subject=MEGAN,
        state=ReportRun.State.SUCCEEDED,
        finished_at=timezone.now(),
        **fields,
    )


# --- Groups and sites, live --------------------------------------------------------------------


def test_the_groups_page_lists_a_page_of_groups_with_the_total(
    live_tenant_a: Tenant, staff: Client, settings: Settings
) -> None:
    settings.DIRECTORY_PAGE_SIZE = 20
    response = staff.get(url("groups", live_tenant_a))
    assert response.status_code == 200
    assert response.context["page"].total == 301
    assert len(response.context["rows"]) == 20
    assert "Page 1 of 16" in response.text
    second = staff.get(url("groups", live_tenant_a), {"page": 2})
    first_names = {r["group"].name for r in response.context["rows"]}
    assert first_names.isdisjoint({r["group"].name for r in second.context["rows"]})


def test_the_type_filter_and_search_narrow_the_groups(live_tenant_a: Tenant, staff: Client) -> None:
    response = staff.get(url("groups", live_tenant_a), {"type": "DistributionList"})
    assert response.context["page"].total == 50
    assert {r["type_label"] for r in response.context["rows"]} == {"Distribution list"}
    found = staff.get(url("groups", live_tenant_a), {"search": "all comp"})
    assert [r["group"].name for r in found.context["rows"]] == ["All Company"]


def test_an_unknown_group_type_is_a_field_error(live_tenant_a: Tenant, staff: Client) -> None:
    response = staff.get(url("groups", live_tenant_a), {"type": "Nonsense"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.text


def test_the_groups_fragment_comes_back_for_htmx(live_tenant_a: Tenant, staff: Client) -> None:
    response = staff.get(url("groups", live_tenant_a), {"page": 2}, headers=HX)
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="group-results"' in response.text


def test_a_missing_async_permission_is_named_on_the_groups_page(
    live_tenant_a: Tenant, emulator: RunningEmulator, staff: Client
) -> None:
    emulator.control(
        "permissions",
        client_id=CONTOSO_CLIENT,
        revoke=["SharePoint.Read.All", "Point.AsyncRequests"],
        grant=[],
    )
    response = staff.get(url("groups", live_tenant_a))
    assert response.status_code == 200
    assert "Point.AsyncRequests" in response.text
    assert "Grant admin consent" in response.text


def test_the_group_page_shows_the_group(live_tenant_a: Tenant, staff: Client) -> None:
    response = staff.get(url("group", live_tenant_a, "All Company"))
    assert response.status_code == 200
    assert "Microsoft 365 group" in response.text and "Refresh memberships" in response.text
    assert "Nothing stored yet" in response.text


def test_an_unknown_group_is_a_404(live_tenant_a: Tenant, staff: Client) -> None:
    assert staff.get(url("group", live_tenant_a, "No Such Group")).status_code == 404


def test_the_sites_page_lists_sites_and_links_their_permissions(
    live_tenant_a: Tenant, staff: Client
) -> None:
    response = staff.get(url("sites", live_tenant_a))
    assert response.status_code == 200
    first = response.context["page"].items[0]
    assert f"?site={quote(first.url, safe='')}" in response.text
    assert response.context["page"].has_next


# --- The All Company memberships snapshot ------------------------------------------------------


def test_a_10000_member_group_pages_correctly_and_exports_every_row(
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    staff: Client,
    settings: Settings,
    django_capture_on_commit_callbacks: Any,
) -> None:
    emulator.control("timing", job=0.3)
    settings.DIRECTORY_PAGE_SIZE = 50
    group = all_company(live_tenant_a)
    answer = refresh(
        staff,
        live_tenant_a,
        django_capture_on_commit_callbacks,
        kind=ReportKind.GROUP_MEMBERSHIPS,
        subject=group.id,
        label=group.name,
    )
    assert answer.status_code == 302
    assert answer["Location"] == url("group", live_tenant_a, "All Company").replace(" ", "%20")
    run = ReportRun.objects.get(kind=ReportKind.GROUP_MEMBERSHIPS, subject=group.id)
    assert run.state == ReportRun.State.SUCCEEDED and run.row_count == 10_002

    page_url = url("group", live_tenant_a, "All Company")
    first = staff.get(page_url)
    assert "As of" in first.text and "10002 of 10002 rows" in first.text
    assert "Page 1 of 201" in first.text
    positions = list(
        ReportRow.objects.filter(run=run).order_by("position").values_list("name", flat=True)
    )
    page_3 = staff.get(page_url, {"page": 3})
    assert [r.name for r in page_3.context["page"]] == positions[100:150]
    last = staff.get(page_url, {"page": 201})
    assert [r.name for r in last.context["page"]] == positions[10_000:]

    export = staff.get(url("report_export", live_tenant_a, run.pk))
    assert export.status_code == 200 and export.streaming
    assert export["Content-Type"].startswith("text/csv")
    lines = b"".join(export.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "Group,Group ID,Member,E-mail or UPN,Member kind,Role"
    assert len(lines) == 10_003
    assert sum(1 for line in lines if line.endswith(",Owner")) == 2


def test_members_filter_by_kind_role_and_search(
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    staff: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    emulator.control("timing", job=0.3)
    groups = (
        upstream.provider_for(live_tenant_a).groups_page(top=200, group_type="UnifiedGroup").items
    )
    group = next(g for g in groups if g.guests_count and g.name != "All Company")
    refresh(
        staff,
        live_tenant_a,
        django_capture_on_commit_callbacks,
        kind=ReportKind.GROUP_MEMBERSHIPS,
        subject=group.id,
        label=group.name,
    )
    page_url = url("group", live_tenant_a, group.name)
    owners = staff.get(page_url, {"role": "owner"}, headers=HX)
    assert "<html" not in owners.text and 'id="report-results"' in owners.text
    assert owners.context["page"].paginator.count == group.owners_count
    guests = staff.get(page_url, {"kind": "guest"})
    assert guests.context["page"].paginator.count == group.guests_count
    assert {r.kind for r in guests.context["page"]} == {"guest"}
    someone = guests.context["page"][0]
    found = staff.get(page_url, {"search": someone.upn.upper()})
    assert someone.upn in [r.upn for r in found.context["page"]]
    export = staff.get(
        url("report_export", live_tenant_a, found.context["snapshot"].pk), {"kind": "guest"}
    )
    lines = b"".join(export.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 + (group.guests_count or 0)
    assert all(",Guest," in line for line in lines[1:])


def test_a_failed_report_shows_the_upstream_error(
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    staff: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    emulator.control("timing", job=0.3)
    emulator.control(
        "jobs/fail-next", tenant="contoso", message="Report generation failed: quota exceeded."
    )
    group = all_company(live_tenant_a)
    refresh(
        staff,
        live_tenant_a,
        django_capture_on_commit_callbacks,
        kind=ReportKind.GROUP_MEMBERSHIPS,
        subject=group.id,
        label=group.name,
    )
    page = staff.get(url("group", live_tenant_a, "All Company"))
    assert "The last refresh" in page.text
    assert "Report generation failed: quota exceeded." in page.text


def test_a_refresh_while_one_runs_follows_it(
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    staff: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    emulator.control("timing", job=30)
    group = all_company(live_tenant_a)
    data = {"kind": ReportKind.GROUP_MEMBERSHIPS, "subject": group.id, "label": group.name}
    with django_capture_on_commit_callbacks(execute=False):
        staff.post(url("report_refresh", live_tenant_a), data)
    run = ReportRun.objects.get()
    directory.report_start(run_id=run.pk)
    again = refresh(staff, live_tenant_a, django_capture_on_commit_callbacks, **data)
    assert again.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        fragment = staff.post(url("report_refresh", live_tenant_a), data, headers=HX)
    assert "already running; following it" in fragment.text
    assert ReportRun.objects.count() == 1 and len(upstream_jobs(emulator)) == 1


def test_progress_polls_while_running_and_stops_with_286_when_done(
    live_tenant_a: Tenant, staff: Client
) -> None:
    run = ReportRun.objects.create(
        tenant=live_tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN, processed=120, total=302
    )
    running = staff.get(url("report_progress", live_tenant_a, run.pk), headers=HX)
    assert running.status_code == 200
    assert 'hx-trigger="every 1s"' in running.text and "120 of 302 processed" in running.text
    assert "<html" not in running.text

    ReportRun.objects.filter(pk=run.pk).update(
        state=ReportRun.State.SUCCEEDED, finished_at=timezone.now(), row_count=7
    )
    done = staff.get(url("report_progress", live_tenant_a, run.pk), headers=HX)
    assert done.status_code == 286
    assert "directory-report-done" in json.loads(done["HX-Trigger"])
    assert "hx-trigger" not in done.text and "7 rows" in done.text


def test_a_stale_snapshot_is_marked(
    live_tenant_a: Tenant, staff: Client, settings: Settings
) -> None:
    settings.DIRECTORY_SNAPSHOT_MAX_AGE = 3600
    run = megans_access_snapshot(live_tenant_a, row_count=1)
    ReportRow.objects.create(
        run=run, position=0, name="Finance", kind="site", data={"workspaceName": "Finance"}
    )
    page_url = url("user_access", live_tenant_a)
    fresh = staff.get(page_url, {"upn": MEGAN})
    assert "As of" in fresh.text and "older than 1 hour" not in fresh.text
    ReportRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=2))
    stale = staff.get(page_url, {"upn": MEGAN})
    assert "older than 1 hour" in stale.text and ">stale<" in stale.text


# --- Site permissions and user access ----------------------------------------------------------


def test_what_a_person_can_reach(
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    staff: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    emulator.control("timing", job=0.3)
    answer = refresh(
        staff,
        live_tenant_a,
        django_capture_on_commit_callbacks,
        kind=ReportKind.USER_ACCESS,
        subject=MEGAN,
    )
    assert (
        answer.status_code == 302
        and "upn=megan.bowen%40contoso.onmicrosoft.com" in answer["Location"]
    )
    page = staff.get(answer["Location"])
    assert page.context["snapshot"].row_count > 0 and "Export CSV" in page.text
    # Point's identifiers read as words.
    assert "M365Group" not in page.text and "MicrosoftTeam<" not in page.text


def test_a_upn_that_is_not_one_is_refused_next_to_the_field(
    live_tenant_a: Tenant, staff: Client
) -> None:
    page = staff.get(url("user_access", live_tenant_a), {"upn": "not a upn"})
    assert "Enter a user principal name" in page.text and 'value="not a upn"' in page.text
    refused = staff.post(
        url("report_refresh", live_tenant_a),
        {"kind": ReportKind.USER_ACCESS, "subject": "x"},
        headers=HX,
    )
    assert refused.status_code == 400 and "Enter a user principal name" in refused.text
    assert not ReportRun.objects.exists()


def test_site_permissions_of_one_site(
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    staff: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    emulator.control("timing", job=0.3)
    site = upstream.provider_for(live_tenant_a).sites_page(top=1).items[0]
    answer = refresh(
        staff,
        live_tenant_a,
        django_capture_on_commit_callbacks,
        kind=ReportKind.SITE_PERMISSIONS,
        subject=site.url,
    )
    page = staff.get(answer["Location"])
    assert page.context["subject"] == site.url
    assert page.context["page"].paginator.count == page.context["snapshot"].row_count > 0


def test_exported_cells_cannot_run_as_formulas(live_tenant_a: Tenant, staff: Client) -> None:
    run = megans_access_snapshot(live_tenant_a, row_count=1)
    ReportRow.objects.create(
        run=run,
        position=0,
        name="x",
        data={"name": '=HYPERLINK("http://evil")', "site_url": "u"},
    )
    export = staff.get(url("report_export", live_tenant_a, run.pk))
    body = b"".join(export.streaming_content).decode()  # type: ignore[attr-defined]
    assert "'=HYPERLINK" in body


# --- Tenant isolation ---------------------------------------------------------------------------


def test_another_tenants_pages_and_reports_are_404(
    tenant_a: Tenant, tenant_b: Tenant, it_staff_other: User, it_staff: User
) -> None:
    run = megans_access_snapshot(tenant_a)
    other = client_for(it_staff_other)
    assert other.get(url("groups", tenant_a)).status_code == 404
    assert other.get(url("report_export", tenant_a, run.pk)).status_code == 404
    assert other.get(url("report_progress", tenant_a, run.pk)).status_code == 404
    # Through a tenant they do serve, a Contoso run is still not found.
    assert other.get(url("report_export", tenant_b, run.pk)).status_code == 404
    assert client_for(it_staff).get(url("report_export", tenant_b, run.pk)).status_code == 404


def test_the_index_opens_the_groups_of_the_tenant_chosen_in_the_header(
    it_staff: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    it_staff.served_tenants.add(tenant_b)
    it_staff.selected_tenant = tenant_b
    it_staff.save()
    response = client_for(it_staff).get("/directory/")
    assert response.status_code == 302
    assert response["Location"] == url("groups", tenant_b)
