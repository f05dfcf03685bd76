"""The template catalogue: synced from the tenant's upstream, kept when it disappears there."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from provisioning.models import PORTAL_TEMPLATE_PREFIX, Template
from tenants import upstream
from tenants.models import Tenant
from upstreams.contract import (
    AddressRules,
    Affixes,
    Approval,
    CatalogueItem,
    MetadataField,
    Privacy,
    TemplateRules,
    Workload,
)

if TYPE_CHECKING:
    from portal.models import User

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
    kept (requests point at them). An upstream without a catalogue has nothing to read: its
    templates are the ones admins define in the portal, and any synced from an earlier
    upstream are no longer offered.
    """
    if not tenant.capabilities.catalogue:
        removed = (
            Template.objects.filter(tenant=tenant, removed_upstream=False)
            .exclude(upstream_id__startswith=PORTAL_TEMPLATE_PREFIX)
            .update(removed_upstream=True)
        )
        return SyncReport(removed=removed)
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


# --- Templates the portal defines (upstreams without a catalogue: GT365, Microsoft Graph) -------


@dataclass(frozen=True)
class TemplateDefinition:
    """What an admin says of a template the portal defines."""

    name: str
    workload: str
    description: str = ""
    help_text: str = ""
    naming_prefix: str = ""
    naming_suffix: str = ""
    privacy: str = Privacy.REQUESTER
    owners_min: int = 1
    owners_max: int | None = None
    classifications: tuple[str, ...] = ()
    terms: str = ""
    hidden: bool = False

    def rules(self) -> TemplateRules:
        """The neutral rules the form and the naming read. The URL (and the alias, which is
        its slug) is shaped by the requester unless the workload has none (communities)."""
        has_url = self.workload != Workload.COMMUNITY
        url = AddressRules(editable=True, max_length=64) if has_url else None
        metadata: tuple[MetadataField, ...] = ()
        if self.classifications:
            metadata = (
                MetadataField(
                    name=CLASSIFICATION,
                    kind="dropdown",
                    required=True,
                    options=self.classifications,
                ),
            )
        return TemplateRules(
            naming=Affixes(self.naming_prefix, self.naming_suffix),
            url=url,
            alias=AddressRules(editable=False) if has_url else None,
            privacy=Privacy(self.privacy),
            owners_min=self.owners_min,
            owners_max=self.owners_max,
            metadata=metadata,
            terms=self.terms,
        )


# The metadata field a GT365 template offers for the group's classification (seed 001).
CLASSIFICATION = "Classification"


@transaction.atomic
def template_define(
    *,
    user: User | None,
    tenant: Tenant,
    definition: TemplateDefinition,
    template: Template | None = None,
) -> Template:
    """Create (or change) a template the portal defines for a tenant whose upstream has no
    catalogue. Requests already made keep what they were sent with."""
    if tenant.capabilities.catalogue:
        raise ValueError(f"{tenant.upstream_label} has a catalogue: its templates are synced.")
    now = timezone.now()
    rules = definition.rules().to_json()
    fields: dict[str, Any] = {
        "workload": definition.workload,
        "name": definition.name[:200],
        "description": definition.description,
        "help_text": definition.help_text,
        "hidden": definition.hidden,
        "approval": Template.Approval.AUTOMATIC,  # the portal's own stages decide, if any
        "rules": rules,
        "definition": {},
        "content_hash": content_hash(rules),
        "synced_at": now,
    }
    if template is None:
        template = Template.objects.create(
            tenant=tenant,
            upstream_id=f"{PORTAL_TEMPLATE_PREFIX}{uuid.uuid4().hex}",
            changed_at=now,
            **fields,
        )
        verb = "defined"
    else:
        if template.content_hash != fields["content_hash"]:
            template.changed_at = now
        for name, value in fields.items():
            setattr(template, name, value)
        template.save()
        verb = "changed"
    audit_record(
        action=AuditAction.TEMPLATE_DEFINED,
        user=user,
        tenant=tenant,
        detail=f"Template {template.name} ({template.get_workload_display()}) {verb}.",
    )
    return template
