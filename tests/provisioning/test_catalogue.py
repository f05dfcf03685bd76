"""The template catalogue: sync from the upstream, content hash, admin fields kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_q.models import Schedule

from core.scheduling import all_specs, install_schedules
from provisioning import services, tasks
from provisioning.models import Template, Workload
from tenants import upstream as tenant_upstream
from tenants.models import Tenant
from upstreams.contract import CatalogueItem
from upstreams.point import wire


def upstream(id: str, name: str = "Public team", **extra: Any) -> CatalogueItem:
    raw = {
        "id": int(id),
        "name": name,
        "description": "Open to all",
        "workspaceType": "MicrosoftTeams",
        "approvalProcess": {"isAutomatic": True},
        **extra,
    }
    return wire.catalogue_item(raw)


def sync(
    tenant: Tenant, items: list[CatalogueItem], monkeypatch: pytest.MonkeyPatch
) -> services.SyncReport:
    class Fake:
        def list_templates(self) -> list[CatalogueItem]:
            return items

    monkeypatch.setattr(tenant_upstream, "provider_for", lambda tenant: Fake())
    return services.catalogue_sync(tenant=tenant)


def test_content_hash_ignores_key_order() -> None:
    assert services.content_hash({"a": 1, "b": [1, 2]}) == services.content_hash(
        {"b": [1, 2], "a": 1}
    )
    assert services.content_hash({"a": 1}) != services.content_hash({"a": 2})


def test_first_sync_creates_every_template(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = sync(
        tenant_a,
        [
            upstream("3"),
            upstream(
                "31",
                "Community",
                workspaceType="YammerCommunity",
                approvalProcess={"isAutomatic": False},
            ),
        ],
        monkeypatch,
    )
    assert report == services.SyncReport(created=2)
    community = Template.objects.get(tenant=tenant_a, upstream_id="31")
    assert community.workload == Workload.COMMUNITY
    assert community.approval == Template.Approval.MANUAL
    assert community.content_hash == services.content_hash(community.definition)


def test_unchanged_templates_keep_their_changed_at(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(tenant_a, [upstream("3")], monkeypatch)
    Template.objects.update(changed_at=timezone.now() - timedelta(days=3))
    before = Template.objects.get()
    report = sync(tenant_a, [upstream("3")], monkeypatch)
    after = Template.objects.get()
    assert report == services.SyncReport(unchanged=1)
    assert after.changed_at == before.changed_at
    assert after.synced_at > before.synced_at


def test_a_changed_definition_updates_the_hash_and_changed_at_but_keeps_admin_fields(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(tenant_a, [upstream("3")], monkeypatch)
    Template.objects.update(
        changed_at=timezone.now() - timedelta(days=3), hidden=True, help_text="Ask IT first."
    )
    before = Template.objects.get()
    report = sync(tenant_a, [upstream("3", description="New words")], monkeypatch)
    after = Template.objects.get()
    assert report == services.SyncReport(updated=1)
    assert after.content_hash != before.content_hash
    assert after.description == "New words"
    assert after.changed_at > before.changed_at
    assert (after.hidden, after.help_text) == (True, "Ask IT first.")


def test_a_template_gone_upstream_is_marked_removed_and_comes_back(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(tenant_a, [upstream("3"), upstream("1", "Manage a project")], monkeypatch)
    report = sync(tenant_a, [upstream("3")], monkeypatch)
    assert report == services.SyncReport(unchanged=1, removed=1)
    gone = Template.objects.get(upstream_id="1")
    assert gone.removed_upstream and not gone.offered
    assert sync(tenant_a, [upstream("3")], monkeypatch) == services.SyncReport(unchanged=1)
    report = sync(tenant_a, [upstream("3"), upstream("1", "Manage a project")], monkeypatch)
    assert report == services.SyncReport(updated=1, unchanged=1)
    assert not Template.objects.get(upstream_id="1").removed_upstream


def test_templates_of_an_unknown_workspace_type_are_skipped(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = sync(tenant_a, [upstream("3"), upstream("9", workspaceType="Planner")], monkeypatch)
    assert report == services.SyncReport(created=1)


def test_each_tenant_has_its_own_catalogue(
    tenant_a: Tenant, tenant_b: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(tenant_a, [upstream("3")], monkeypatch)
    report = sync(tenant_b, [upstream("1")], monkeypatch)
    assert report == services.SyncReport(created=1)
    assert not Template.objects.get(tenant=tenant_a).removed_upstream


def test_the_sync_task_reads_the_emulators_catalogue(
    live_tenant_a: Tenant, fast_point: list[float]
) -> None:
    assert tasks.sync_catalogue(live_tenant_a.pk) == {
        "created": 10,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
    }
    assert tasks.sync_catalogue(live_tenant_a.pk) == {
        "created": 0,
        "updated": 0,
        "unchanged": 10,
        "removed": 0,
    }
    workloads = set(Template.objects.values_list("workload", flat=True))
    assert workloads == {Workload.TEAM, Workload.GROUP, Workload.SITE, Workload.COMMUNITY}
    assert Template.objects.get(upstream_id="2").approval == Template.Approval.MANUAL


def test_the_sync_task_skips_inactive_tenants(tenant_a: Tenant) -> None:
    tenant_a.is_active = False
    tenant_a.save()
    assert tasks.sync_catalogue(tenant_a.pk) is None


def test_the_hourly_schedule_syncs_every_active_tenant(
    tenant_a: Tenant, tenant_b: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_b.is_active = False
    tenant_b.save()
    queued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(tasks, "async_task", lambda func, *args: queued.append((func, args)))
    assert tasks.sync_all_catalogues() == 1
    assert queued == [("provisioning.tasks.sync_catalogue", (tenant_a.pk,))]
    specs = {spec.name: spec for spec in all_specs()}
    assert specs["provisioning.sync_all_catalogues"].minutes == 60
    install_schedules(all_specs())
    assert Schedule.objects.filter(func="provisioning.tasks.sync_all_catalogues").exists()
