"""Templates the portal defines for a tenant whose upstream has no catalogue (GT365, Graph)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from portal.models import User
from provisioning import services
from provisioning.models import Template
from provisioning.services.sending import workspace_spec
from tenants.models import Tenant
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_request, make_template
from upstreams.contract import Workload

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_graph(tenant_a: Tenant) -> Tenant:
    tenant_a.provider = "graph"
    tenant_a.save()
    return tenant_a


def test_an_admin_defines_a_template_that_requesters_then_see_in_the_catalogue(
    on_graph: Tenant, admin: User, requester_a: User
) -> None:
    response = client_for(admin).post(
        reverse("provisioning:template_new"),
        {
            "name": "Project team",
            "workload": "team",
            "naming_prefix": "PRJ-",
            "privacy": "private",
            "owners_min": 2,
            "description": "For projects.",
        },
    )
    assert response.status_code == 302
    template = Template.objects.get(tenant=on_graph)
    assert template.portal_defined and template.offered
    rules = template.template_rules
    assert (rules.naming.prefix, rules.privacy, rules.owners_min) == ("PRJ-", "private", 2)
    assert rules.url is not None and rules.url.editable
    page = client_for(requester_a).get(reverse("provisioning:catalogue")).content.decode()
    assert "Project team" in page and "New template" not in page
    assert AuditEvent.objects.filter(action=AuditAction.TEMPLATE_DEFINED).count() == 1


def test_a_bad_template_is_refused_with_a_message_next_to_each_field(
    on_graph: Tenant, admin: User
) -> None:
    response = client_for(admin).post(
        reverse("provisioning:template_new"),
        {
            "name": "",
            "workload": "group",
            "naming_prefix": "PRJ/<",
            "privacy": "requester",
            "owners_min": 3,
            "owners_max": 2,
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"name", "naming_prefix", "owners_max"}
    assert not Template.objects.filter(tenant=on_graph).exists()


def test_only_the_workloads_the_upstream_makes_are_offered(tenant_a: Tenant, admin: User) -> None:
    tenant_a.provider = "gt365"
    tenant_a.save()
    form = client_for(admin).get(reverse("provisioning:template_new")).context["form"]
    assert [value for value, _ in form.fields["workload"].choices] == ["team", "group"]
    assert "classifications" in form.fields  # GT365 sends a classification; Graph does not


def test_a_gt365_template_offers_its_classifications_as_a_required_choice(
    tenant_a: Tenant,
) -> None:
    tenant_a.provider = "gt365"
    tenant_a.save()
    definition = services.TemplateDefinition(
        name="Group", workload="group", classifications=("General", "Confidential")
    )
    template = services.template_define(user=None, tenant=tenant_a, definition=definition)
    (field,) = template.template_rules.metadata
    assert (field.name, field.kind, field.required) == ("Classification", "dropdown", True)
    assert field.options == ("General", "Confidential")


def test_a_point_tenant_gets_no_template_editor(tenant_a: Tenant, admin: User) -> None:
    assert client_for(admin).get(reverse("provisioning:template_new")).status_code == 404
    with pytest.raises(ValueError):
        services.template_define(
            user=None,
            tenant=tenant_a,
            definition=services.TemplateDefinition(name="x", workload="group"),
        )


def test_the_portal_sends_the_final_names_of_its_own_templates(
    on_graph: Tenant, requester_a: User
) -> None:
    definition = services.TemplateDefinition(
        name="Group", workload="group", naming_prefix="PRJ-", naming_suffix="-EU"
    )
    template = services.template_define(user=None, tenant=on_graph, definition=definition)
    item = make_request(template, requester_a, name="Apollo")
    spec = workspace_spec(item)
    assert spec.display_name == "PRJ-Apollo-EU"
    assert spec.desired_url == "apollo"  # the alias: the URL the requester shaped, or the name
    assert spec.workload == Workload.GROUP


def test_moving_to_an_upstream_without_a_catalogue_stops_offering_the_synced_templates(
    tenant_a: Tenant,
) -> None:
    synced = make_template(tenant_a, 1)
    tenant_a.provider = "graph"
    tenant_a.save()
    definition = services.TemplateDefinition(name="Mine", workload="group")
    mine = services.template_define(user=None, tenant=tenant_a, definition=definition)
    report = services.catalogue_sync(tenant=tenant_a)
    assert report.removed == 1
    synced.refresh_from_db()
    mine.refresh_from_db()
    assert not synced.offered and mine.offered


def test_an_admin_changes_a_template_and_requests_keep_what_they_were_sent_with(
    on_graph: Tenant, admin: User
) -> None:
    definition = services.TemplateDefinition(name="Group", workload="group")
    template = services.template_define(user=None, tenant=on_graph, definition=definition)
    url = reverse("provisioning:template_edit", args=[template.pk])
    form = client_for(admin).get(url).context["form"]
    assert form.initial["name"] == "Group"
    response = client_for(admin).post(
        url, {"name": "Renamed", "workload": "group", "privacy": "public", "owners_min": 1}
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.name == "Renamed" and template.template_rules.privacy == "public"
