"""The request flow under answers our emulator never gave (issue 13): an upstream that accepts
without naming the request, answers without a status, loses answers and has no request lookup,
says Pending after we showed Approved, or sends a status word nobody knows.

A scripted upstream stands in (registered like any provider); each test says what it answers.
The promises: a 2xx is never Failed; nothing is sent twice on a guess; Retry only where it helps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from portal.models import User
from provisioning import services
from provisioning.models import FailureKind, ProvisioningRequest, Template
from provisioning.payload import RequestData
from provisioning.states import State
from tenants.models import Tenant, UpstreamNotice
from tests.conftest import client_for
from tests.provisioning.lifecycle import make_due, poll
from upstreams import contract, registry
from upstreams.contract import (
    AlreadyExists,
    NotSupported,
    OutcomeUnknown,
    RequestStatus,
    Status,
    Workspace,
)

pytestmark = pytest.mark.django_db
Capture = DjangoCaptureOnCommitCallbacks


class Scripted:
    """An upstream whose answers the test scripts; it records every submit."""

    kind, label, capabilities = "scripted", "Upstream", contract.Capabilities()
    submits: list[contract.WorkspaceSpec] = []
    answers: list[Any] = []  # one per submit: a RequestStatus to return or an error to raise
    statuses: dict[str, RequestStatus] = {}
    lookup: Any = None  # find_requests: a list, or an error class to raise
    workspaces: dict[str, Workspace] = {}
    approval: contract.Approval = contract.Approval.MANUAL
    naming_published = True
    listed: list[Workspace] = []  # what find_workspaces sees (naming rule unpublished)
    created: list[Workspace] = []  # what a submit creates before its answer is lost
    list_error: Exception | None = None  # find_workspaces raises it when set

    def __init__(self, connection: contract.Connection) -> None:
        pass

    def list_templates(self) -> list[contract.CatalogueItem]:
        rules = contract.TemplateRules(naming_published=Scripted.naming_published)
        return [
            contract.CatalogueItem(
                "t1", "Team", contract.Workload.TEAM, approval=Scripted.approval, rules=rules
            )
        ]

    def submit(self, spec: contract.WorkspaceSpec) -> RequestStatus:
        Scripted.submits.append(spec)
        Scripted.listed.extend(Scripted.created)
        answer = Scripted.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get_request(self, request_id: str) -> RequestStatus:
        return Scripted.statuses[request_id]

    def find_requests(self, *, display_name: str, desired_url: str = "") -> list[RequestStatus]:
        if isinstance(Scripted.lookup, type):
            raise Scripted.lookup("no request lookup")
        return list(Scripted.lookup or [])

    def find_workspace(self, *, workload: Any, name: str, url_slug: str = "") -> Workspace | None:
        return Scripted.workspaces.get(name)

    def find_workspaces(
        self, *, workload: Any, containing: str, limit: int = 50
    ) -> contract.Page[Workspace]:
        if Scripted.list_error is not None:
            raise Scripted.list_error
        found = [w for w in Scripted.listed if containing.lower() in w.name.lower()]
        return contract.Page(found[:limit], len(found), len(found) > limit)


@pytest.fixture
def scripted(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant]:
    monkeypatch.setitem(registry.PROVIDERS, "scripted", ("Upstream", f"{__name__}:Scripted"))
    Scripted.submits, Scripted.answers, Scripted.statuses = [], [], {}
    Scripted.lookup, Scripted.workspaces = NotSupported, {}
    Scripted.approval = contract.Approval.MANUAL
    Scripted.naming_published, Scripted.listed, Scripted.created = True, [], []
    Scripted.list_error = None
    tenant_a.provider = "scripted"
    tenant_a.save()
    yield tenant_a


def submit(capture: Capture, tenant: Tenant, user: User, name: str = "Kite") -> ProvisioningRequest:
    services.catalogue_sync(tenant=tenant)
    template = Template.objects.get(tenant=tenant)
    data = RequestData(display_name=name, owners=[user.email])
    with capture(execute=True):
        item = services.request_submit(
            tenant=tenant, template=template, requested_by=user, data=data
        )
    item.refresh_from_db()
    return item


def again(capture: Capture, item: ProvisioningRequest) -> ProvisioningRequest:
    make_due(item)
    poll(capture)
    item.refresh_from_db()
    return item


@pytest.mark.parametrize(
    ("approval", "state"),
    [
        (contract.Approval.MANUAL, State.WAITING_APPROVAL),
        (contract.Approval.AUTOMATIC, State.APPROVED),
        (contract.Approval.UNKNOWN, State.WAITING_APPROVAL),
    ],
)
def test_an_answer_without_a_status_follows_the_templates_approval_mode(
    scripted: Tenant,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    approval: contract.Approval,
    state: State,
) -> None:
    Scripted.approval = approval
    Scripted.answers = [RequestStatus("r1")]
    item = submit(django_capture_on_commit_callbacks, scripted, requester_a)
    assert (item.state, item.upstream_id) == (state, "r1")


def test_pending_after_approved_is_believed(
    scripted: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.approval = contract.Approval.AUTOMATIC
    Scripted.answers = [RequestStatus("r1")]
    item = submit(django_capture_on_commit_callbacks, scripted, requester_a)
    assert item.state == State.APPROVED
    Scripted.statuses["r1"] = RequestStatus("r1", Status.PENDING_APPROVAL, status_text="Pending")
    item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.WAITING_APPROVAL


def test_an_accepted_request_without_an_id_is_confirmed_and_never_sent_again(
    scripted: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.answers = [RequestStatus("")]
    item = submit(django_capture_on_commit_callbacks, scripted, requester_a)
    assert item.state == State.CONFIRMING and item.accepted_at is not None
    page = client_for(requester_a).get(f"/requests/{item.pk}/").content.decode()
    assert "Accepted by Upstream, confirming" in page
    for _ in range(3):
        item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.CONFIRMING and len(Scripted.submits) == 1
    Scripted.workspaces["Kite"] = Workspace("g-1", "Kite", url="https://x.example/kite")
    item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.COMPLETED and item.workspace_url == "https://x.example/kite"
    assert len(Scripted.submits) == 1


def test_a_lost_answer_without_a_lookup_waits_and_is_never_failed_nor_sent_twice(
    scripted: Tenant,
    requester_a: User,
    it_staff: User,
    django_capture_on_commit_callbacks: Capture,
    settings: Settings,
) -> None:
    Scripted.answers = [OutcomeUnknown("the connection was reset")]
    item = submit(django_capture_on_commit_callbacks, scripted, requester_a)
    assert item.state == State.CONFIRMING and item.maybe_sent
    for _ in range(5):
        item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.CONFIRMING and len(Scripted.submits) == 1
    page = client_for(requester_a).get(f"/requests/{item.pk}/").content.decode()
    assert "Retry" not in page.split('id="request-live"')[1]
    # After a while a person is asked; IT staff checked and found nothing: send it again.
    settings.PROVISIONING_CONFIRM_ESCALATE_AFTER = 60
    item.events.update(at=timezone.now() - timedelta(hours=2))
    item = again(django_capture_on_commit_callbacks, item)
    assert item.events.filter(detail__startswith="IT staff: please check").count() == 1
    staff = client_for(it_staff)
    assert "Not in Upstream: send again" in staff.get(f"/requests/{item.pk}/").content.decode()
    # Meanwhile it did arrive: the upstream says it already has it, and it is adopted.
    Scripted.answers = [AlreadyExists("Kite is already requested (request r9).", existing_id="r9")]
    Scripted.statuses["r9"] = RequestStatus("r9", Status.IN_PROGRESS, status_text="InProgress")
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/requests/{item.pk}/send-again")
    item.refresh_from_db()
    assert (item.state, item.upstream_id) != (State.FAILED, "")
    assert item.upstream_id == "r9" and item.state == State.WAITING_APPROVAL
    item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.IN_PROGRESS
    assert len(Scripted.submits) == 2


def test_a_lookup_that_finds_nothing_proves_absence_and_it_is_sent_again(
    scripted: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.lookup = []
    Scripted.answers = [OutcomeUnknown("timed out"), RequestStatus("r2", Status.APPROVED)]
    item = submit(django_capture_on_commit_callbacks, scripted, requester_a)
    assert item.state == State.CONFIRMING
    item = again(django_capture_on_commit_callbacks, item)
    assert (item.state, item.upstream_id) == (State.APPROVED, "r2")
    assert len(Scripted.submits) == 2


def test_already_exists_on_a_first_send_is_a_name_to_fix_not_a_retry(
    scripted: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.answers = [AlreadyExists("A workspace named 'Kite' already exists.")]
    item = submit(django_capture_on_commit_callbacks, scripted, requester_a)
    assert item.state == State.FAILED and item.failure_kind == FailureKind.INVALID
    assert item.field_errors == {"display_name": ["A workspace named 'Kite' already exists."]}
    client = client_for(requester_a)
    live = client.get(f"/requests/{item.pk}/").content.decode().split('id="request-live"')[1]
    assert "Fix and resubmit" in live and ">Retry<" not in live
    assert client.post(f"/requests/{item.pk}/retry", follow=True).status_code == 200
    item.refresh_from_db()
    assert item.state == State.FAILED  # refused: a retry cannot help
    # The fixed request links back to the one it replaces, and the original forward.
    template = item.template
    with django_capture_on_commit_callbacks(execute=True):
        Scripted.answers = [RequestStatus("r3", Status.APPROVED)]
        client.post(
            f"/requests/new/{template.pk}/",
            {"display_name": "Kite 2", "owners": requester_a.email, "cloned_from": item.pk},
        )
    fixed = ProvisioningRequest.objects.exclude(pk=item.pk).get()
    assert "Replaces" in client.get(f"/requests/{fixed.pk}/").content.decode()
    assert (
        f'Resubmitted as</dt><dd><a href="/requests/{fixed.pk}/"'
        in client.get(f"/requests/{item.pk}/").content.decode()
    )


def test_a_status_word_nobody_knows_is_shown_raw_and_flagged_for_it_staff(
    scripted: Tenant,
    requester_a: User,
    it_staff: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    Scripted.answers = [RequestStatus("r1", Status.PENDING_APPROVAL)]
    item = submit(django_capture_on_commit_callbacks, scripted, requester_a)
    Scripted.statuses["r1"] = RequestStatus("r1", Status.UNKNOWN, status_text="Succeeded")
    item = again(django_capture_on_commit_callbacks, item)
    item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.WAITING_APPROVAL  # not guessed
    assert item.next_poll_at is not None  # and still followed
    page = client_for(requester_a).get(f"/requests/{item.pk}/").content.decode()
    assert "Upstream: Succeeded" in page
    notice = UpstreamNotice.objects.get()
    assert (notice.value, notice.count) == ("Succeeded", 2)
    tenant_page = client_for(it_staff).get(f"/tenants/{scripted.slug}/").content.decode()
    assert "Succeeded" in tenant_page and "does not know" in tenant_page


# --- A template that does not publish its naming rule: the final name is unknown ------------


@pytest.fixture
def unpublished(scripted: Tenant) -> Tenant:
    Scripted.naming_published = False
    Scripted.answers = [OutcomeUnknown("the connection was reset")]
    return scripted


def test_a_lost_answer_adopts_the_one_workspace_that_appeared_with_the_typed_name(
    unpublished: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.listed = [Workspace("old", "PRJ - Kite Club")]  # someone's, from before
    Scripted.created = [Workspace("new", "PRJ - Kite", url="https://x.example/prj-kite")]
    item = submit(django_capture_on_commit_callbacks, unpublished, requester_a)
    assert item.state == State.CONFIRMING
    item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.COMPLETED
    assert (item.workspace_id, item.final_name) == ("new", "PRJ - Kite")
    assert len(Scripted.submits) == 1


def test_a_workspace_older_than_the_send_is_never_taken_for_ours(
    unpublished: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.listed = [Workspace("old", "Kite")]  # exactly the typed name, but not new
    item = submit(django_capture_on_commit_callbacks, unpublished, requester_a)
    for _ in range(3):
        item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.CONFIRMING and len(Scripted.submits) == 1


def test_two_new_workspaces_holding_the_name_wait_for_a_person(
    unpublished: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.created = [Workspace("a", "PRJ - Kite"), Workspace("b", "Kite - HR")]
    item = submit(django_capture_on_commit_callbacks, unpublished, requester_a)
    item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.CONFIRMING and len(Scripted.submits) == 1


def test_another_requests_workspace_holding_the_typed_name_is_not_adopted(
    unpublished: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.answers = [RequestStatus("r1", Status.PENDING_APPROVAL)]
    submit(django_capture_on_commit_callbacks, unpublished, requester_a, name="Kite Ops")
    Scripted.answers = [OutcomeUnknown("timed out")]
    Scripted.created = [Workspace("ops", "PRJ - Kite Ops")]  # the other request's, made now
    item = submit(django_capture_on_commit_callbacks, unpublished, requester_a, name="Kite")
    item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.CONFIRMING
    assert len(Scripted.submits) == 2


def test_workspaces_that_cannot_be_read_before_the_send_leave_a_lost_answer_to_a_person(
    unpublished: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.list_error = NotSupported("no list")
    item = submit(django_capture_on_commit_callbacks, unpublished, requester_a)
    assert item.state == State.CONFIRMING and item.workspaces_before is None
    Scripted.list_error, Scripted.listed = None, [Workspace("new", "PRJ - Kite")]
    item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.CONFIRMING and len(Scripted.submits) == 1


def test_the_upstreams_name_for_the_workspace_becomes_the_final_name(
    unpublished: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.answers = [RequestStatus("r1", Status.IN_PROGRESS)]
    item = submit(django_capture_on_commit_callbacks, unpublished, requester_a)
    assert item.final_name == "Kite"  # all the portal can know before the upstream says
    Scripted.statuses["r1"] = RequestStatus(
        "r1", Status.COMPLETED, display_name="PRJ - Kite", workspace_url="https://x.example/k"
    )
    item = again(django_capture_on_commit_callbacks, item)
    assert (item.state, item.final_name) == (State.COMPLETED, "PRJ - Kite")


def test_a_request_of_the_same_name_finished_long_ago_does_not_stop_the_adoption(
    unpublished: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.answers = [RequestStatus("r0", Status.COMPLETED)]
    old = submit(django_capture_on_commit_callbacks, unpublished, requester_a)
    assert old.state == State.COMPLETED
    ProvisioningRequest.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - timedelta(days=200)
    )
    Scripted.answers = [OutcomeUnknown("timed out")]
    Scripted.created = [Workspace("new", "PRJ - Kite (2)")]
    item = submit(django_capture_on_commit_callbacks, unpublished, requester_a)
    item = again(django_capture_on_commit_callbacks, item)
    assert (item.state, item.workspace_id) == (State.COMPLETED, "new")


def test_a_request_of_the_same_name_in_flight_leaves_the_match_to_a_person(
    unpublished: Tenant, requester_a: User, django_capture_on_commit_callbacks: Capture
) -> None:
    Scripted.answers = [RequestStatus("r0", Status.IN_PROGRESS)]
    submit(django_capture_on_commit_callbacks, unpublished, requester_a)
    Scripted.answers = [OutcomeUnknown("timed out")]
    Scripted.created = [Workspace("new", "PRJ - Kite")]
    item = submit(django_capture_on_commit_callbacks, unpublished, requester_a)
    item = again(django_capture_on_commit_callbacks, item)
    assert item.state == State.CONFIRMING
