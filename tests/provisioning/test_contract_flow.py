"""Nothing above the upstream layer needs Point: a second upstream of a few lines, speaking only
the neutral contract (upstreams.contract), runs the whole request flow through the registry.

The tenant's Point URL points nowhere (127.0.0.1:9): a single Point call would fail the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from provisioning.states import State
from tenants.models import Tenant
from tests.conftest import client_for
from tests.provisioning.lifecycle import make_due, poll
from upstreams import contract, registry
from upstreams.contract import RequestStatus, Status


class FakeUpstream:
    """An upstream with one template, whose requests wait for an approver."""

    kind, label, capabilities = (
        "fake",
        "Fake",
        contract.Capabilities(directory=False, reports=False),
    )
    requests: dict[str, RequestStatus] = {}

    def __init__(self, connection: contract.Connection) -> None:
        self.connection = connection

    def list_templates(self) -> list[contract.CatalogueItem]:
        rules = contract.TemplateRules(naming=contract.Affixes("FK - ", ""), owners_min=1)
        return [contract.CatalogueItem("t1", "Fake team", contract.Workload.TEAM, rules=rules)]

    def submit(self, spec: contract.WorkspaceSpec) -> RequestStatus:
        if spec.display_name == "Taken":
            raise contract.Invalid({"display_name": ["This name is taken."], "": ["Refused."]})
        found = RequestStatus(f"r{len(self.requests) + 1}", Status.PENDING_APPROVAL)
        self.requests[found.id] = found
        return found

    def get_request(self, request_id: str) -> RequestStatus:
        return self.requests[request_id]

    def find_requests(self, *, display_name: str, desired_url: str = "") -> list[RequestStatus]:
        return []

    def __getattr__(self, name: str) -> Any:  # the directory and the checks: not this upstream's
        raise contract.NotSupported(f"The fake upstream has no {name}.")


@pytest.fixture
def fake_tenant(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant]:
    module = "tests.provisioning.test_contract_flow:FakeUpstream"
    monkeypatch.setitem(registry.PROVIDERS, "fake", ("Fake", module))
    FakeUpstream.requests = {}
    tenant_a.provider = "fake"
    tenant_a.save()
    yield tenant_a


@pytest.mark.django_db
def test_a_request_goes_from_form_to_completed_through_the_contract_alone(
    fake_tenant: Tenant,
    requester_a: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    services.catalogue_sync(tenant=fake_tenant)
    template = Template.objects.get(tenant=fake_tenant)
    client = client_for(requester_a)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/requests/new/{template.pk}/",
            {"display_name": "Kite", "owners": requester_a.email},
        )
    request = ProvisioningRequest.objects.get()
    assert (request.final_name, request.state, request.upstream_id) == (
        "FK - Kite",
        State.WAITING_APPROVAL,
        "r1",
    )
    FakeUpstream.requests["r1"] = RequestStatus(
        "r1",
        Status.COMPLETED,
        status_text="Done",
        workspace_url="https://fake.example/kite",
    )
    make_due(request)
    poll(django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.state == State.COMPLETED
    assert request.workspace_url == "https://fake.example/kite"
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "Fake: Done" in page and "Point" not in page


@pytest.mark.django_db
def test_the_upstreams_field_errors_land_on_the_form_fields(
    fake_tenant: Tenant,
    requester_a: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    services.catalogue_sync(tenant=fake_tenant)
    template = Template.objects.get(tenant=fake_tenant)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(requester_a).post(
            f"/requests/new/{template.pk}/",
            {"display_name": "Taken", "owners": requester_a.email},
        )
    request = ProvisioningRequest.objects.get()
    assert request.state == State.FAILED
    assert request.field_errors == {
        "display_name": ["This name is taken."],
        "__all__": ["Refused."],
    }
    assert request.error_message.startswith("Fake refused the request")
