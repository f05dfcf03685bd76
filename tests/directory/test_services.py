"""Directory reports against the emulator: start, join, poll, store, fail, stale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone
from pytest_django.fixtures import Settings

from core.csv_export import cell as csv_cell
from directory import selectors
from directory import services as directory
from directory.models import ReportKind, ReportRow, ReportRun
from portal.models import User
from tenants import tokens, upstream
from tenants.models import Tenant
from tests.conftest import demo_tenant
from upstreams.contract import Group

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

CONTOSO_CLIENT = demo_tenant("contoso")["apps"][0]["client_id"]
MEGAN = "megan.bowen@contoso.onmicrosoft.com"


def killed_claim_age() -> timedelta:
    """How old a claim must be to belong to a task django-q2 no longer runs."""
    from django.conf import settings

    return timedelta(seconds=settings.Q_CLUSTER_TIMEOUT + directory.CLAIM_SLACK + 1)


@pytest.fixture(autouse=True)
def fast_reports(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short polls and Point timeouts; no token kept from another test's emulator."""
    tokens.forget()
    settings.DIRECTORY_POLL_INTERVAL_MS = 50
    settings.POINT_CONNECT_TIMEOUT = 2
    settings.POINT_READ_TIMEOUT = 10
    settings.POINT_BACKOFF_MS = 10
    monkeypatch.setattr(upstream, "_sleep", lambda seconds: None)
    yield
    tokens.forget()


@pytest.fixture
def quick_jobs(emulator: RunningEmulator) -> RunningEmulator:
    emulator.control("timing", job=0.3)
    return emulator


def upstream_jobs(emulator: RunningEmulator, slug: str = "contoso") -> list[dict[str, Any]]:
    from emulator.point import provisioning as emulated

    with emulator.state.lock:
        return list(emulated.tenant_data(emulator.state, slug)["jobs"].values())


def a_group(tenant: Tenant, group_type: str = "UnifiedGroup") -> Group:
    return upstream.provider_for(tenant).groups_page(top=1, group_type=group_type).items[0]


def refresh_and_run(
    capture: Any,
    tenant: Tenant,
    kind: str,
    subject: str = "",
    label: str = "",
    user: User | None = None,
) -> ReportRun:
    with capture(execute=True):
        refresh = directory.report_refresh(
            tenant=tenant, kind=kind, subject=subject, subject_label=label, user=user
        )
    refresh.run.refresh_from_db()
    return refresh.run


def test_a_refresh_stores_the_snapshot_with_its_time(
    live_tenant_a: Tenant,
    quick_jobs: RunningEmulator,
    it_staff: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    group = a_group(live_tenant_a)
    run = refresh_and_run(
        django_capture_on_commit_callbacks,
        live_tenant_a,
        ReportKind.GROUP_MEMBERSHIPS,
        group.id,
        "typed by hand",
        it_staff,
    )
    assert run.state == ReportRun.State.SUCCEEDED, run.error
    assert run.finished_at is not None and run.upstream_job_id
    assert run.subject_label == group.name  # corrected from Point's rows
    rows = list(ReportRow.objects.filter(run=run))
    assert len(rows) == run.row_count > 0
    assert {r.group_id for r in rows} == {group.id}
    assert {r.role for r in rows} <= {"owner", "member"}
    assert {r.kind for r in rows} <= {"user", "guest", "group"}
    assert (
        selectors.latest_snapshot(
            tenant=live_tenant_a, kind=ReportKind.GROUP_MEMBERSHIPS, subject=group.id
        )
        == run
    )


def test_a_refresh_while_one_runs_joins_it_and_starts_no_second_job(
    live_tenant_a: Tenant, emulator: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    emulator.control("timing", job=30)  # still running while the second refresh comes
    group = a_group(live_tenant_a)
    with django_capture_on_commit_callbacks(execute=False):
        first = directory.report_refresh(
            tenant=live_tenant_a, kind=ReportKind.GROUP_MEMBERSHIPS, subject=group.id
        )
    started = directory.report_start(run_id=first.run.pk)
    assert started is not None and started.upstream_job_id

    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        second = directory.report_refresh(
            tenant=live_tenant_a, kind=ReportKind.GROUP_MEMBERSHIPS, subject=group.id
        )

    assert second.joined and second.run.pk == first.run.pk
    assert second.run.upstream_job_id == started.upstream_job_id
    assert enqueued == []
    assert len(upstream_jobs(emulator)) == 1


def test_a_second_delivery_of_the_task_starts_no_second_job(
    live_tenant_a: Tenant, emulator: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    emulator.control("timing", job=30)
    with django_capture_on_commit_callbacks(execute=False):
        refresh = directory.report_refresh(
            tenant=live_tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN
        )
    directory.report_start(run_id=refresh.run.pk)
    directory.report_start(run_id=refresh.run.pk)
    assert len(upstream_jobs(emulator)) == 1


def test_a_start_claimed_by_a_killed_task_is_taken_over_by_the_next_delivery(
    live_tenant_a: Tenant, quick_jobs: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        refresh = directory.report_refresh(
            tenant=live_tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN
        )
    # A task claimed the start, then was killed before it saved the job (SIGKILL, OOM).
    ReportRun.objects.filter(pk=refresh.run.pk).update(start_claimed_at=timezone.now())
    waiting = directory.report_start(run_id=refresh.run.pk)
    assert waiting is not None and waiting.upstream_job_id == ""  # the claim is still its

    with time_machine.travel(timezone.now() + killed_claim_age()):
        started = directory.report_start(run_id=refresh.run.pk)
        assert started is not None and started.upstream_job_id
        done = directory.report_poll(run_id=refresh.run.pk)
    assert done is not None
    assert done.state == ReportRun.State.SUCCEEDED, done.error
    assert len(upstream_jobs(quick_jobs)) == 1


def test_rows_half_stored_by_a_killed_task_are_stored_again_once(
    live_tenant_a: Tenant, quick_jobs: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        refresh = directory.report_refresh(
            tenant=live_tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN
        )
    run = directory.report_start(run_id=refresh.run.pk)
    assert run is not None
    # A task claimed the rows and stored one, then was killed.
    ReportRun.objects.filter(pk=run.pk).update(fetch_claimed_at=timezone.now())
    ReportRow.objects.create(run=run, position=0, data={"half": "stored"})

    with time_machine.travel(timezone.now() + killed_claim_age()):
        done = directory.report_poll(run_id=run.pk)
    assert done is not None
    assert done.state == ReportRun.State.SUCCEEDED, done.error
    rows = ReportRow.objects.filter(run=run)
    assert rows.count() == done.row_count > 0
    assert not rows.filter(data={"half": "stored"}).exists()


def test_the_database_allows_one_running_run_per_report(tenant_a: Tenant) -> None:
    ReportRun.objects.create(tenant=tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN)
    ReportRun.objects.create(
        tenant=tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN, state=ReportRun.State.SUCCEEDED
    )
    ReportRun.objects.create(
        tenant=tenant_a, kind=ReportKind.USER_ACCESS, subject="other@contoso.onmicrosoft.com"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportRun.objects.create(tenant=tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN)


def test_a_failed_job_keeps_points_error(
    live_tenant_a: Tenant, quick_jobs: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    quick_jobs.control(
        "jobs/fail-next", tenant="contoso", message="Report generation failed: quota exceeded."
    )
    run = refresh_and_run(
        django_capture_on_commit_callbacks, live_tenant_a, ReportKind.USER_ACCESS, MEGAN
    )
    assert run.state == ReportRun.State.FAILED
    assert "Report generation failed: quota exceeded." in run.error
    assert not ReportRow.objects.filter(run=run).exists()
    assert (
        selectors.latest_snapshot(tenant=live_tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN)
        is None
    )


def test_a_missing_permission_is_named(
    live_tenant_a: Tenant, emulator: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    emulator.control(
        "permissions",
        client_id=CONTOSO_CLIENT,
        revoke=["SharePoint.Read.All", "Point.AsyncRequests"],
        grant=[],
    )
    run = refresh_and_run(
        django_capture_on_commit_callbacks, live_tenant_a, ReportKind.GROUP_MEMBERSHIPS
    )
    assert run.state == ReportRun.State.FAILED
    assert "Point.AsyncRequests" in run.error
    assert "Grant admin consent" in run.error
    assert not upstream_jobs(emulator)


def test_a_new_snapshot_replaces_the_rows_of_the_old_one(
    live_tenant_a: Tenant, quick_jobs: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    first = refresh_and_run(
        django_capture_on_commit_callbacks, live_tenant_a, ReportKind.USER_ACCESS, MEGAN
    )
    second = refresh_and_run(
        django_capture_on_commit_callbacks, live_tenant_a, ReportKind.USER_ACCESS, MEGAN
    )
    assert first.pk != second.pk and second.state == ReportRun.State.SUCCEEDED
    assert not ReportRow.objects.filter(run=first).exists()
    assert ReportRow.objects.filter(run=second).count() == second.row_count > 0
    assert (
        selectors.latest_snapshot(tenant=live_tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN)
        == second
    )


def test_site_permission_and_access_rows_are_stored_with_their_columns(
    live_tenant_a: Tenant, quick_jobs: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    site = upstream.provider_for(live_tenant_a).sites_page(top=1).items[0]
    run = refresh_and_run(
        django_capture_on_commit_callbacks, live_tenant_a, ReportKind.SITE_PERMISSIONS, site.url
    )
    assert run.state == ReportRun.State.SUCCEEDED, run.error
    rows = ReportRow.objects.filter(run=run)
    assert rows.exists() and {r.site_url for r in rows} == {site.url}
    assert all(r.permission and r.kind in {"user", "guest", "group"} for r in rows)

    access = refresh_and_run(
        django_capture_on_commit_callbacks, live_tenant_a, ReportKind.USER_ACCESS, MEGAN
    )
    kinds = set(ReportRow.objects.filter(run=access).values_list("kind", flat=True))
    assert kinds and kinds <= {"site", "team", "group", "onedrive"}


def test_a_run_stuck_past_the_timeout_is_given_up_and_a_refresh_starts_anew(
    tenant_a: Tenant, settings: Settings, django_capture_on_commit_callbacks: Any
) -> None:
    settings.DIRECTORY_REPORT_TIMEOUT = 600
    with time_machine.travel(timezone.now() - timedelta(seconds=601), tick=False):
        stuck = ReportRun.objects.create(
            tenant=tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN
        )
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        refresh = directory.report_refresh(
            tenant=tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN
        )
    stuck.refresh_from_db()
    assert stuck.state == ReportRun.State.FAILED and "10 minutes" in stuck.error
    assert not refresh.joined and refresh.run.pk != stuck.pk and len(enqueued) == 1


def test_a_snapshot_older_than_the_max_age_is_stale(tenant_a: Tenant, settings: Settings) -> None:
    settings.DIRECTORY_SNAPSHOT_MAX_AGE = 3600
    run = ReportRun.objects.create(
        tenant=tenant_a,
        kind=ReportKind.USER_ACCESS,
        subject=MEGAN,
        state=ReportRun.State.SUCCEEDED,
        finished_at=timezone.now(),
    )
    assert not selectors.is_stale(run)
    with time_machine.travel(timezone.now() + timedelta(seconds=3599), tick=False):
        assert not selectors.is_stale(run)
    with time_machine.travel(timezone.now() + timedelta(seconds=3601), tick=False):
        assert selectors.is_stale(run)


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1", "-1", "@SUM(A1)", "\tx"])
def test_csv_cells_never_start_a_formula(value: str) -> None:
    assert csv_cell(value).startswith("'")


def test_plain_csv_cells_are_kept() -> None:
    assert csv_cell("Alex Wilber") == "Alex Wilber"
    assert csv_cell(None) == ""
