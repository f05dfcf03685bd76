"""Every request and directory page renders objects that carry nothing but an id (issue 13: a
group whose name came under another key made every groups page a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from directory.models import ReportKind
from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from provisioning.payload import RequestData
from tenants.models import Tenant
from tests.conftest import client_for
from upstreams import contract, registry
from upstreams.contract import Group, JobState, Page, ReportJob, ReportRow, RequestStatus, Site

pytestmark = pytest.mark.django_db


class Bare:
    """An upstream that names nothing but ids."""

    kind, label, capabilities = "bare", "Bare", contract.Capabilities()

    def __init__(self, connection: contract.Connection) -> None:
        pass

    def list_templates(self) -> list[contract.CatalogueItem]:
        return [contract.CatalogueItem("t1", "", contract.Workload.GROUP)]

    def submit(self, spec: contract.WorkspaceSpec) -> RequestStatus:
        return RequestStatus("r1")

    def get_request(self, request_id: str) -> RequestStatus:
        return RequestStatus(request_id)

    def find_requests(self, **kwargs: Any) -> list[RequestStatus]:
        return []

    def find_workspace(self, **kwargs: Any) -> None:
        return None

    def groups_page(self, **kwargs: Any) -> Page[Group]:
        return Page([Group("g1"), Group("")])

    def get_group(self, name: str) -> Group:
        return Group("g1")

    def sites_page(self, **kwargs: Any) -> Page[Site]:
        return Page([Site("s1"), Site("")])

    def start_report(self, kind: contract.ReportKind, subject: str = "") -> ReportJob:
        return ReportJob("j1")

    def get_report(self, job_id: str) -> ReportJob:
        return ReportJob(job_id, JobState.SUCCEEDED)

    def report_rows(self, kind: contract.ReportKind, job_id: str) -> Iterator[ReportRow]:
        yield ReportRow()


@pytest.fixture
def bare(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    monkeypatch.setitem(registry.PROVIDERS, "bare", ("Bare", f"{__name__}:Bare"))
    tenant_a.provider = "bare"
    tenant_a.save()
    return tenant_a


def ok(client: Client, url: str, **data: Any) -> str:
    response = client.get(url, data)
    assert response.status_code == 200, url
    return response.content.decode()


def test_the_directory_pages_render_id_only_objects(
    bare: Tenant, it_staff: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    client = client_for(it_staff)
    assert "(no name)" in ok(client, "/directory/contoso/groups/")
    assert "g1" in ok(client, "/directory/contoso/groups/g1")
    ok(client, "/directory/contoso/sites/")
    for kind, subject in (
        (ReportKind.GROUP_MEMBERSHIPS, "g1"),
        (ReportKind.SITE_PERMISSIONS, ""),
        (ReportKind.USER_ACCESS, "a@contoso.example"),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/directory/contoso/reports/refresh", {"kind": kind, "subject": subject}
            )
        assert response.status_code == 302
    ok(client, "/directory/contoso/groups/g1")
    ok(client, "/directory/contoso/site-permissions/")
    ok(client, "/directory/contoso/access/", upn="a@contoso.example")


def test_the_request_pages_render_an_id_only_request(
    bare: Tenant,
    requester_a: User,
    it_staff: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    services.catalogue_sync(tenant=bare)
    template = Template.objects.get()
    assert template.name == ""
    with django_capture_on_commit_callbacks(execute=True):
        item = services.request_submit(
            tenant=bare,
            template=template,
            requested_by=requester_a,
            data=RequestData(display_name="Kite"),
        )
    item.refresh_from_db()
    assert item.upstream_id == "r1"
    for client in (client_for(requester_a), client_for(it_staff)):
        ok(client, f"/requests/{item.pk}/")
        ok(client, "/requests/")
        ok(client, "/requests/new/")
    ok(client_for(it_staff), "/requests/all/")
    ok(client_for(it_staff), "/requests/dashboard/")
    assert ProvisioningRequest.objects.count() == 1
