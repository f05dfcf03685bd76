"""The template catalogue: synced from the tenant's upstream, kept when it disappears there."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from provisioning.models import Template
from tenants import upstream
from tenants.models import Tenant
from upstreams.contract import Approval, CatalogueItem

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


def content_hash(definition: Mapping[str, Any]) -> str:
    """SHA-256 of the definition as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def catalogue_sync(*, tenant: Tenant) -> SyncReport:
    """Upsert the tenant's templates from its upstream. Raises upstreams.contract.UpstreamError.

    hidden and help_text belong to the admins and are never touched; changed_at moves only
    when the definition's hash does; templates gone upstream are marked removed_upstream and
    kept (requests point at them).
    """
    return _apply_catalogue(tenant, upstream.provider_for(tenant).list_templates())


def _wanted(item: CatalogueItem) -> dict[str, Any]:
    definition = dict(item.raw)
    return {
        "workload": item.workload,
        "name": item.name[:200],
        "description": item.description,
        # The catalogue may say nothing about approval (it is not documented): then the
        # request page follows what the upstream says of each request.
        "approval": {
            Approval.MANUAL: Template.Approval.MANUAL,
            Approval.AUTOMATIC: Template.Approval.AUTOMATIC,
        }.get(item.approval, Template.Approval.UNKNOWN),
        "definition": definition,
        "rules": item.rules.to_json(),
        "content_hash": content_hash(definition),
        "removed_upstream": False,
    }


@transaction.atomic
def _apply_catalogue(tenant: Tenant, items: list[CatalogueItem]) -> SyncReport:
    now = timezone.now()
    existing = {
        t.upstream_id: t for t in Template.objects.select_for_update().filter(tenant=tenant)
    }
    created = updated = unchanged = removed = 0
    seen: set[str] = set()
    for item in items:
        if item.workload is None or not item.id:
            logger.warning(
                "Tenant %s: template %r has an unknown workspace type %r; skipped",
                tenant.slug,
                item.id,
                item.kind_text,
            )
            continue
        seen.add(item.id)
        wanted = _wanted(item)
        current = existing.get(item.id)
        if current is None:
            Template.objects.create(
                tenant=tenant, upstream_id=item.id, synced_at=now, changed_at=now, **wanted
            )
            created += 1
            continue
        differs = [name for name, value in wanted.items() if getattr(current, name) != value]
        if differs:
            if current.content_hash != wanted["content_hash"]:
                current.changed_at = now
            for name, value in wanted.items():
                setattr(current, name, value)
            current.synced_at = now
            current.save()
            updated += 1
        else:
            unchanged += 1
    Template.objects.filter(tenant=tenant, upstream_id__in=seen).update(synced_at=now)
    gone = [t.pk for uid, t in existing.items() if uid not in seen and not t.removed_upstream]
    if gone:
        removed = Template.objects.filter(pk__in=gone).update(removed_upstream=True, synced_at=now)
    report = SyncReport(created, updated, unchanged, removed)
    logger.info("Tenant %s: catalogue synced: %s", tenant.slug, report)
    return report
