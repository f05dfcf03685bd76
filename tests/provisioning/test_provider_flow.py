"""One request flow, parametrised by upstream (Point, GT365, Microsoft Graph), each against its
emulator over HTTP, asserting on that emulator's ledger: every workload the upstream makes
completes; an unknown outcome never makes a second workspace; a fault before the upstream acted
is sent again; each documented refusal lands on its form field."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from core.roles import Role
from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from provisioning.payload import RequestData
from provisioning.states import State
from tenants.models import Tenant
from tests.conftest import make_tenant, make_user
from tests.provisioning.lifecycle import VALID, assert_no_task_failures, drive, submit

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Upstream:
    """How the suite drives one upstream: its tenant, where it creates, how to count."""

    kind: str
    slug: str
    path: str  # the upstream URL under the emulator
    create: dict[str, str]  # workload -> the emulator path its create POST goes to
    owner: str
    stranger: str  # a UPN the tenant's directory does not have

    @property
    def workloads(self) -> list[str]:
        return list(self.create)


POINT = Upstream(
    "point",
    "contoso",
    "/point/contoso",
    dict.fromkeys(("team", "group", "site"), "/point/contoso/v1.0/provision/*"),
    "adele.vance@contoso.onmicrosoft.com",
    "nobody@contoso.onmicrosoft.com",
)
GT365 = Upstream(
    "gt365",
    "tailspin",
    "/gt365/api",
    {"group": "/gt365/api/ProvisionGroup", "team": "/gt365/api/ProvisionGroup"},
    "kim.abercrombie@tailspin.onmicrosoft.com",
    "nobody@tailspin.onmicrosoft.com",
)
GRAPH = Upstream(
    "graph",
    "litware",
    "/graph/v1.0",
    {
        "group": "/graph/v1.0/groups",
        "team": "/graph/v1.0/groups",
        "site": "/graph/beta/sites",
        "community": "/graph/v1.0/employeeExperience/communities",
    },
    "nancy.davolio@litware.onmicrosoft.com",
    "nobody@litware.onmicrosoft.com",
)
UPSTREAMS = [POINT, GT365, GRAPH]
# Every upstream in two faithful readings of its contract (its emulator's dialects).
DIALECTS = {
    "point": ("today", "documented-minimal"),
    "gt365": ("documented", "plain"),
    "graph": ("documented", "variant"),
}
CASES = [(u, d) for u in UPSTREAMS for d in DIALECTS[u.kind]]
# The Point templates (from its catalogue) the suite uses per workload.
POINT_TEMPLATES = {"team": "3", "group": "11", "site": "21"}


@dataclass
class World:
    upstream: Upstream
    tenant: Tenant
    user: User
    emulator: RunningEmulator
    templates: dict[str, Template]

    def data(self, workload: str, **overrides: Any) -> RequestData:
        values: dict[str, Any] = {
            "display_name": f"Falcon {uuid.uuid4().hex[:8]}",
            "description": "A test workspace",
            "owners": [self.upstream.owner],
        }
        if self.upstream.kind == "point":
            values.update(VALID[POINT_TEMPLATES[workload]])
        if self.upstream.kind == "gt365":
            values["metadata"] = {"Classification": "General"}
        values.update(overrides)
        return RequestData(**values)

    def created(self, request: ProvisioningRequest) -> list[dict[str, Any]]:
        """The workspaces this emulator made whose name holds the name typed."""
        typed = str(request.form_data["display_name"]).lower()
        kind = self.upstream.kind
        if kind == "point":
            entries = self.emulator.control_get(f"ledger?tenant={self.upstream.slug}")["workspaces"]
            names = [str(e.get("displayName", "")) for e in entries]
        elif kind == "gt365":
            entries = self.emulator.control_get(f"gt365/ledger?tenant={self.upstream.slug}")[
                "groups"
            ]
            names = [str(e.get("displayName", "")) for e in entries]
        else:
            entries = [
                e
                for e in self.emulator.control_get(f"graph/ledger?tenant={self.upstream.slug}")[
                    "ledger"
                ]
                if e.get("outcome") == "created" and e.get("kind") == request.workload
            ]
            names = [str(e.get("name") or e.get("displayName") or "") for e in entries]
        return [n for n in names if typed in n.lower()]  # type: ignore[misc]

    def fault(self, workload: str, kind: str, **extra: Any) -> None:
        self.emulator.control(
            "faults",
            path=self.upstream.create[workload],
            method="POST",
            kind=kind,
            count=1,
            **extra,
        )


def _portal_templates(tenant: Tenant, upstream: Upstream) -> dict[str, Template]:
    made = {}
    for workload in upstream.workloads:
        definition = services.TemplateDefinition(
            name=f"{workload} template",
            workload=workload,
            classifications=("General", "Confidential") if upstream.kind == "gt365" else (),
        )
        made[workload] = services.template_define(user=None, tenant=tenant, definition=definition)
    return made


def _dialect(emulator: RunningEmulator, upstream: Upstream, dialect: str) -> None:
    if upstream.kind == "point":
        emulator.control("dialect", tenant=upstream.slug, dialect=dialect)
    else:
        emulator.control(f"{upstream.kind}/dialect", tenant=upstream.slug, dialect=dialect)


@pytest.fixture(params=CASES, ids=[f"{u.kind}-{d}" for u, d in CASES])
def world(
    request: pytest.FixtureRequest,
    emulator: RunningEmulator,
    fast_point: list[float],
    settings: Settings,
) -> World:
    upstream, dialect = request.param
    _dialect(emulator, upstream, dialect)
    tenant = make_tenant(upstream.slug, f"{emulator.url}{upstream.path}")
    tenant.provider = upstream.kind
    tenant.save()
    emulator.control("timing", approval=0, approved=0, in_progress=0)
    if upstream.kind == "graph":
        emulator.control("graph/timing", tenant=upstream.slug, seconds=0)
    if upstream.kind == "point":
        services.catalogue_sync(tenant=tenant)
        templates = {
            w: Template.objects.get(tenant=tenant, upstream_id=t)
            for w, t in POINT_TEMPLATES.items()
        }
    else:
        templates = _portal_templates(tenant, upstream)
    user = make_user(tenant, "Requester", Role.REQUESTER)
    return World(upstream, tenant, user, emulator, templates)


def _send(
    world: World,
    capture: DjangoCaptureOnCommitCallbacks,
    workload: str,
    **overrides: Any,
) -> ProvisioningRequest:
    data = world.data(workload, **overrides)
    return submit(capture, world.templates[workload], world.user, data)


def _each_workload(world: World, check: Callable[[str], None]) -> None:
    for workload in world.upstream.workloads:
        check(workload)


def test_every_workload_the_upstream_makes_completes_once(
    world: World, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    def check(workload: str) -> None:
        item = _send(world, django_capture_on_commit_callbacks, workload)
        item = drive(django_capture_on_commit_callbacks, item)
        assert item.state == State.COMPLETED, (workload, item.state, item.error_message)
        assert len(world.created(item)) == 1, workload

    _each_workload(world, check)
    assert_no_task_failures()


def test_an_answer_lost_after_the_upstream_acted_never_makes_a_second_workspace(
    world: World, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    capture = django_capture_on_commit_callbacks
    for workload in ("group", "team"):
        world.fault(workload, "reset_after")
        item = _send(world, capture, workload)
        assert item.state == State.CONFIRMING, (workload, item.state)
        item = drive(capture, item)
        assert item.state == State.COMPLETED, (workload, item.state, item.error_message)
        assert len(world.created(item)) == 1, workload


def test_a_fault_before_the_upstream_acted_is_sent_again_and_completes_once(
    world: World,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    settings: Settings,
) -> None:
    capture = django_capture_on_commit_callbacks
    world.fault("group", "503")
    item = _send(world, capture, "group")
    assert item.state in (State.CONFIRMING, State.SUBMITTED), item.state
    item = drive(capture, item)
    if item.state == State.CONFIRMING:
        # Point on only what its docs promise cannot prove nothing arrived: it waits for a
        # person, who finds nothing and sends it again.
        assert (world.upstream.kind, world.created(item)) == ("point", [])
        settings.PROVISIONING_CONFIRM_ESCALATE_AFTER = 0
        with capture(execute=True):
            services.request_send_again(item=item, actor=world.user)
        item = drive(capture, item)
    assert item.state == State.COMPLETED, (item.state, item.error_message)
    assert len(world.created(item)) == 1


def test_a_throttled_create_waits_its_retry_after_then_completes(
    world: World, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    capture = django_capture_on_commit_callbacks
    world.emulator.control(
        "throttle", path=world.upstream.create["group"], method="POST", retry_after=1, count=5
    )
    item = _send(world, capture, "group")
    assert item.state == State.SUBMITTED, (item.state, item.error_message)
    assert item.next_poll_at is not None
    item = drive(capture, item)
    assert item.state == State.COMPLETED, (item.state, item.error_message)
    assert len(world.created(item)) == 1


def test_an_owner_the_directory_does_not_have_is_refused_on_the_owners_field(
    world: World, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    if world.upstream.kind == "point":
        pytest.skip("Point's owner refusals are covered by its dialect suite")
    item = _send(
        world, django_capture_on_commit_callbacks, "group", owners=[world.upstream.stranger]
    )
    assert item.state == State.FAILED
    assert "owners" in item.field_errors, item.field_errors
    assert world.created(item) == []


def test_an_alias_already_taken_is_refused_on_the_url_field(
    world: World, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    if world.upstream.kind == "point":
        pytest.skip("Point's duplicate refusals are covered by its dialect suite")
    capture = django_capture_on_commit_callbacks
    first = drive(capture, _send(world, capture, "group", desired_url="falcon-taken"))
    assert first.state == State.COMPLETED
    second = _send(world, capture, "group", desired_url="falcon-taken")
    assert second.state == State.FAILED
    assert "desired_url" in second.field_errors, second.field_errors


def test_gt365_refuses_a_classification_its_policy_lacks_on_that_field(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    live_gt365_tenant: Tenant,
    emulator: RunningEmulator,
    fast_point: list[float],
) -> None:
    emulator.control("gt365/classifications", tenant="tailspin", values=["Public"])
    templates = _portal_templates(live_gt365_tenant, GT365)
    user = make_user(live_gt365_tenant, "Kim", Role.REQUESTER)
    data = RequestData(
        display_name=f"Falcon {uuid.uuid4().hex[:8]}",
        owners=[GT365.owner],
        metadata={"Classification": "Confidential"},
    )
    item = submit(django_capture_on_commit_callbacks, templates["group"], user, data)
    assert item.state == State.FAILED
    assert "meta__classification" in item.field_errors, item.field_errors
    assert "classification policy" in " ".join(item.field_errors["meta__classification"])


def test_graph_checks_the_naming_policy_while_the_requester_types(
    live_graph_tenant: Tenant, emulator: RunningEmulator
) -> None:
    from provisioning import availability

    emulator.control("graph/naming", tenant="litware", prefix="GRP-", blocked=["secret"])
    templates = _portal_templates(live_graph_tenant, GRAPH)
    refused = availability.check(templates["group"], "Falcon")
    assert refused.outcome == availability.REFUSED
    assert "prefix" in refused.message
    ok = availability.check(templates["group"], "GRP-Falcon")
    assert ok.outcome == availability.FREE, ok.message


def test_gt365_says_it_cannot_look_names_up(live_gt365_tenant: Tenant) -> None:
    from provisioning import availability

    templates = _portal_templates(live_gt365_tenant, GT365)
    result = availability.check(templates["group"], "Falcon")
    assert result.outcome == availability.UNKNOWN and "cannot look names up" in result.message


def test_a_graph_groups_members_and_owners_come_from_graph(
    live_graph_tenant: Tenant,
    emulator: RunningEmulator,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    fast_point: list[float],
) -> None:
    from directory import services as directory_services
    from directory.models import ReportRun
    from tenants import upstream as tenant_upstream
    from upstreams.contract import ReportKind

    emulator.control("graph/timing", tenant="litware", seconds=0)
    templates = _portal_templates(live_graph_tenant, GRAPH)
    user = make_user(live_graph_tenant, "Nancy", Role.REQUESTER)
    data = RequestData(
        display_name=f"Falcon {uuid.uuid4().hex[:8]}",
        owners=[GRAPH.owner],
        members=["steven.buchanan@litware.onmicrosoft.com"],
    )
    item = drive(
        django_capture_on_commit_callbacks,
        submit(django_capture_on_commit_callbacks, templates["group"], user, data),
    )
    assert item.state == State.COMPLETED
    group = tenant_upstream.provider_for(live_graph_tenant).get_group(item.workspace_id)
    assert group.owners_count == 1
    with django_capture_on_commit_callbacks(execute=True):
        directory_services.report_refresh(
            tenant=live_graph_tenant,
            kind=ReportKind.GROUP_MEMBERSHIPS,
            subject=item.workspace_id,
            subject_label=item.final_name,
            user=None,
        )
    run = ReportRun.objects.get(tenant=live_graph_tenant)
    assert run.state == ReportRun.State.SUCCEEDED, run.error
    rows = {(r.upn, r.role) for r in run.rows.all()}
    assert (GRAPH.owner, "owner") in rows
    assert ("steven.buchanan@litware.onmicrosoft.com", "member") in rows
