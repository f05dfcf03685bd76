"""Roles apply to the organisation that granted them; operators come only from the operator tenant.

A role in a token is the word of that organisation's Entra. Fabrikam's Entra can make someone
an admin of Fabrikam, never of Contoso, and never an operator of the whole portal (issue 11).
"""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from audit.models import AuditAction, AuditEvent
from core.roles import Role
from portal.models import User
from tenants.models import Tenant
from tenants.selectors import admin_tenants_for_user, tenants_for_user
from tests.conftest import client_for
from tests.portal.conftest import GRADY, LEE, NESTOR, Entra
from tests.provisioning.ui_fixtures import make_request, make_template

pytestmark = pytest.mark.django_db


def signed_in(client: Client) -> User:
    return User.objects.get(pk=client.session["_auth_user_id"])


def test_the_operator_role_counts_from_the_operator_tenant(
    entra: Entra, tenant_a: Tenant, settings: Settings
) -> None:
    settings.OPERATOR_TENANT_ID = str(tenant_a.entra_tenant_id)
    client = Client()
    entra.sign_in(client, GRADY)
    user = signed_in(client)
    assert user.role == Role.OPERATOR
    assert user.is_superuser and user.is_staff
    assert set(tenants_for_user(user)) == set(Tenant.objects.all())
    assert 'badge-operator"' in client.get("/").content.decode()


def test_without_an_operator_tenant_the_operator_claim_grants_nothing(
    entra: Entra, settings: Settings
) -> None:
    settings.OPERATOR_TENANT_ID = ""
    client = Client()
    response = entra.sign_in(client, GRADY)
    assert response.status_code == 403  # Portal.Operator was Grady's only role
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(role=Role.OPERATOR).exists()


def test_an_operator_claim_from_another_tenant_is_refused_and_audited(
    entra: Entra,
    tenant_a: Tenant,
    tenant_b: Tenant,
    settings: Settings,
) -> None:
    settings.OPERATOR_TENANT_ID = str(tenant_a.entra_tenant_id)
    client = Client()
    callback = entra.choose(entra.start(client, "fabrikam"), LEE)
    entra.override_id_token(claims={"roles": ["Portal.Admin", "Portal.Operator"]})
    assert client.get(callback).status_code == 302
    lee = signed_in(client)
    assert lee.role == Role.ADMIN
    assert not lee.is_superuser
    assert list(tenants_for_user(lee)) == [tenant_b]
    assert list(admin_tenants_for_user(lee)) == [tenant_b]
    refused = AuditEvent.objects.get(action=AuditAction.ROLE_REFUSED)
    assert refused.tenant == tenant_b and "Portal.Operator" in refused.detail


def test_a_role_from_one_tenants_token_never_grants_rights_in_another(
    entra: Entra,
    tenant_a: Tenant,
    tenant_b: Tenant,
    requester_a: User,
) -> None:
    """Lee Gu, Fabrikam's admin, tried Contoso's requests, audit log, reports and Django admin."""
    contoso_request = make_request(make_template(tenant_a, 1), requester_a)
    client = Client()
    entra.sign_in(client, LEE, slug="fabrikam")
    lee = signed_in(client)
    assert lee.role == Role.ADMIN and lee.home_tenant == tenant_b
    assert client.get(f"/requests/{contoso_request.pk}/").status_code == 404
    assert client.get(f"/tenants/{tenant_a.slug}/").status_code == 404
    assert (
        client.get(f"/directory/{tenant_a.slug}/access/?upn=a@contoso.example").status_code == 404
    )
    assert client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").status_code == 404
    assert (
        client.get(
            f"/admin/provisioning/provisioningrequest/{contoso_request.pk}/change/"
        ).status_code
        == 404
    )
    assert "Contoso" not in client.get("/admin/tenants/tenant/").content.decode()
    assert client.get(f"/audit/?tenant={tenant_a.pk}").context["page"].paginator.count == 0


def test_the_same_person_signing_in_through_another_tenant_keeps_nothing_from_the_first(
    entra: Entra,
    tenant_a: Tenant,
) -> None:
    """Nestor is Contoso's admin: his rights are Contoso's, and follow his token, not his name."""
    client = Client()
    entra.sign_in(client, NESTOR)
    nestor = signed_in(client)
    assert list(admin_tenants_for_user(nestor)) == [tenant_a]
    assert not nestor.is_superuser


def test_an_operator_sees_every_organisation_in_django_admin(
    operator: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    html = client_for(operator).get("/admin/tenants/tenant/").content.decode()
    assert "Contoso" in html and "Fabrikam" in html
