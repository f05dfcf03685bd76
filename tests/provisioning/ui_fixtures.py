"""Fixtures of the provisioning pages' tests: templates shaped like Point's, and requests.

Imported by the test modules (``from tests.provisioning.ui_fixtures import *``-style, by name)
rather than a conftest, so other suites in this folder are not affected.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from emulator.point import catalogue, shapes
from portal.models import User
from provisioning.models import ProvisioningRequest, RequestEvent, RequestPerson, Template
from provisioning.states import State
from tenants.models import Tenant
from tests.conftest import demo_tenant
from upstreams.point import wire


def point_definition(slug: str, template_id: int) -> dict[str, Any]:
    """A template definition exactly as the emulator's Point serves it."""
    record = catalogue.find(demo_tenant(slug), template_id)
    assert record is not None
    return shapes.template(record)


def make_template(tenant: Tenant, template_id: int, **extra: Any) -> Template:
    """A template as the catalogue sync stores it from the emulator's Point definition."""
    definition = point_definition(tenant.slug, template_id)
    item = wire.catalogue_item(definition)
    assert item.workload is not None
    now = timezone.now()
    values: dict[str, Any] = {
        "workload": item.workload,
        "rules": item.rules.to_json(),
        "name": definition["name"],
        "description": definition["description"],
        "approval": Template.Approval.AUTOMATIC
        if definition["approvalProcess"]["isAutomatic"]
        else Template.Approval.MANUAL,
        "definition": definition,
        "content_hash": "x",
        "synced_at": now,
        "changed_at": now,
        **extra,
    }
    return Template.objects.create(tenant=tenant, upstream_id=str(template_id), **values)


def make_request(
    template: Template,
    user: User,
    *,
    state: str = State.SUBMITTED,
    name: str = "Apollo",
    owners: list[str] | None = None,
    members: list[str] | None = None,
    **extra: Any,
) -> ProvisioningRequest:
    """A request as the submit service stores it (the owners and members it names included)."""
    owners = [user.email] if owners is None else owners
    item = ProvisioningRequest.objects.create(
        tenant=template.tenant,
        template=template,
        requested_by=user,
        workload=template.workload,
        display_name=name,
        final_name=f"PRJ - {name}",
        state=state,
        form_data={
            "display_name": name,
            "owners": owners,
            "members": members or [],
            "metadata": {},
        },
        **extra,
    )
    RequestPerson.objects.bulk_create(
        [
            RequestPerson(request=item, upn=upn.lower(), role=RequestPerson.Role.OWNER)
            for upn in owners
        ]
        + [
            RequestPerson(request=item, upn=upn.lower(), role=RequestPerson.Role.MEMBER)
            for upn in members or []
        ]
    )
    return item


@pytest.fixture
def project_template(tenant_a: Tenant) -> Template:
    """Contoso's "Manage a project" team: RequesterDecides, 2-5 owners, guests as members, 6 metadata types."""
    return make_template(tenant_a, 1)


@pytest.fixture
def fabrikam_template(tenant_b: Tenant) -> Template:
    return make_template(tenant_b, 1)


@pytest.fixture
def request_a(project_template: Template, requester_a: User) -> ProvisioningRequest:
    item = make_request(project_template, requester_a)
    RequestEvent.objects.create(
        request=item,
        source=RequestEvent.Source.PORTAL,
        to_state=State.SUBMITTED,
        detail="Submitted.",
        actor=requester_a,
    )
    return item
