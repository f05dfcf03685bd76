"""PointProvider: the Upstream contract on Point, offline (scripted answers) and against the
live emulator (Contoso's Point; tokens from the emulator's Entra; back-off waits recorded).

The live cases port every case of the old client's tests (tests/provisioning/
test_point_client.py) to the neutral API.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.upstreams.conftest import (
    BASE,
    POINT_PATH,
    EmulatorTokens,
    ScriptedSession,
    answer,
    demo_app,
)
from upstreams import registry
from upstreams.contract import (
    FIELD_DISPLAY_NAME,
    FIELD_OWNERS,
    Approval,
    AuthenticationFailed,
    Capabilities,
    Conflict,
    Connection,
    Invalid,
    JobState,
    NotFound,
    OutcomeUnknown,
    PermissionMissing,
    Privacy,
    ReportKind,
    Status,
    Throttled,
    Unavailable,
    Upstream,
    UpstreamError,
    Workload,
    WorkspaceSpec,
)
from upstreams.point import transport
from upstreams.point.provider import (
    ADMIN,
    ASYNC_REQUESTS,
    PROVISIONING,
    SHAREPOINT_READ_ALL,
    PointProvider,
)

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

ADELE = "adele.vance@contoso.onmicrosoft.com"
ROOT = Path(__file__).resolve().parents[2]


def _falcon(**changes: object) -> WorkspaceSpec:
    """A valid request for the emulator's "Public team" template (id 3, automatic)."""
    spec = WorkspaceSpec(
        template_id="3", workload=Workload.TEAM, display_name="Falcon", owners=(ADELE,)
    )
    return replace(spec, **changes)  # type: ignore[arg-type]


# --- The provider as a whole --------------------------------------------------------------------


def test_the_registry_builds_a_point_provider_that_is_an_upstream(offline: Connection) -> None:
    provider: Upstream = registry.create("point", offline)
    assert isinstance(provider, PointProvider)
    assert (provider.kind, provider.label) == ("point", "Point")
    assert provider.capabilities == Capabilities(True, True, True, True, True)


def test_the_permissions_say_what_each_switches_off_and_only_admin_is_optional(
    offline: Connection,
) -> None:
    permissions = PointProvider(offline).permissions()
    assert [p.name for p in permissions] == [
        SHAREPOINT_READ_ALL,
        ASYNC_REQUESTS,
        PROVISIONING,
        ADMIN,
    ]
    assert all(p.needed_for for p in permissions)
    assert [p.name for p in permissions if p.optional] == [ADMIN]
    assert "webhook" in permissions[-1].needed_for


def test_the_point_package_loads_without_django_or_the_portal() -> None:
    code = (
        "import sys, upstreams.point.provider, upstreams.registry;"
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for forbidden in ("django", "portal", "provisioning", "tenants", "emulator", "audit", "core"):
        assert f"'{forbidden}'" not in loaded


def test_a_provider_shows_its_url_but_no_token(offline: Connection) -> None:
    assert repr(PointProvider(offline)) == f"PointProvider({BASE!r})"


# --- Offline: what is asked and how answers are read --------------------------------------------


@pytest.mark.parametrize(
    ("kind", "endpoint"),
    [
        (Workload.TEAM, "teams"),
        (Workload.GROUP, "groups"),
        (Workload.SITE, "sites"),
        (Workload.COMMUNITY, "yammer"),
    ],
)
def test_a_submission_posts_the_body_to_its_workloads_endpoint_once(
    offline: Connection, http: ScriptedSession, kind: Workload, endpoint: str
) -> None:
    http.script = [answer(201, {"id": "r1", "status": "Pending", "displayName": "Falcon"})]
    created = PointProvider(offline).submit(_falcon(workload=kind, desired_url="falcon"))
    assert (created.id, created.status) == ("r1", Status.PENDING_APPROVAL)
    [sent] = http.sent
    assert (sent.method, sent.url) == ("POST", f"{BASE}/v1.0/provision/{endpoint}")
    assert sent.kwargs["json"]["templateId"] == 3
    assert sent.kwargs["json"]["desiredUrl"] == "falcon"


def test_a_submission_answered_without_a_body_is_named_by_its_location(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(202, headers={"Location": "/v1.0/provision/requests/77"})]
    created = PointProvider(offline).submit(_falcon())
    assert (created.id, created.display_name, created.status) == ("77", "Falcon", Status.UNKNOWN)


def test_a_submission_answered_with_nothing_usable_has_no_id(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, ["unexpected"])]
    assert PointProvider(offline).submit(_falcon()).id == ""


def test_ids_and_names_are_one_path_segment(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(200, {"id": "a/b"}), answer(200, {"id": "g", "name": "R&D / Lab?"})]
    provider = PointProvider(offline)
    provider.get_request("a/b")
    provider.get_group("R&D / Lab?")
    assert [s.url for s in http.sent] == [
        f"{BASE}/v1.0/provision/requests/a%2Fb",
        f"{BASE}/v1.0/groups/R%26D%20%2F%20Lab%3F",
    ]


def test_a_request_in_another_shape_is_an_error(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(200, ["r1"])]
    with pytest.raises(UpstreamError, match="unexpected shape"):
        PointProvider(offline).get_request("r1")


def test_find_requests_asks_only_for_what_it_was_given(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, [{"requestId": "r1", "status": "Completed"}])]
    found = PointProvider(offline).find_requests(display_name="Falcon")
    assert [(r.id, r.status) for r in found] == [("r1", Status.COMPLETED)]
    assert http.sent[0].kwargs["params"] == {"displayName": "Falcon"}


def test_a_bare_array_is_paged_locally(offline: Connection, http: ScriptedSession) -> None:
    everything = [{"id": str(i), "name": f"G{i}"} for i in range(7)]
    http.script = [answer(200, everything), answer(200, everything)]
    provider = PointProvider(offline)
    middle = provider.groups_page(top=3, skip=3)
    last = provider.groups_page(top=3, skip=6)
    assert ([g.id for g in middle.items], middle.total, middle.has_more) == (
        ["3", "4", "5"],
        7,
        True,
    )
    assert ([g.id for g in last.items], last.total, last.has_more) == (["6"], 7, False)
    assert http.sent[0].kwargs["params"] == {"$top": 3, "$skip": 3}


def test_a_page_has_more_when_the_count_says_so(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(200, {"value": [{"id": "s1", "title": "Finance"}], "@odata.count": 5})]
    page = PointProvider(offline).sites_page(top=1, skip=0, search="fin")
    assert (page.total, page.has_more) == (5, True)
    assert http.sent[0].kwargs["params"] == {"search": "fin", "$top": 1, "$skip": 0}


def test_find_sites_reads_no_more_than_its_limit(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(
            200,
            {
                "value": [{"id": str(i), "title": f"Area {i}"} for i in range(5)],
                "@odata.nextLink": f"{BASE}/v1.0/sites?$skip=5",
            },
        )
    ]
    found = PointProvider(offline).find_sites("a", limit=3)
    assert [s.id for s in found] == ["0", "1", "2"]
    assert len(http.sent) == 1 and http.sent[0].kwargs["params"] == {"$top": 3, "search": "a"}
    assert PointProvider(offline).find_sites("a", limit=0) == []


def test_a_302_on_a_report_status_means_it_succeeded(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(302, headers={"Location": "/v1.0/requests/j1/result"})]
    job = PointProvider(offline).get_report("j1")
    assert (job.id, job.state) == ("j1", JobState.SUCCEEDED)
    assert http.sent[0].url == f"{BASE}/v1.0/requests/j1/status"


@pytest.mark.parametrize(
    ("kind", "path", "body"),
    [
        (ReportKind.GROUP_MEMBERSHIPS, "/v1.0/groups/memberships", {"groupIds": ["g1"]}),
        (ReportKind.SITE_PERMISSIONS, "/v1.0/sites/permissions/generate", {"siteUrls": ["g1"]}),
        (ReportKind.USER_ACCESS, "/v1.0/users/access/generate", {"user": "g1"}),
    ],
)
def test_a_report_starts_at_its_endpoint_and_may_be_repeated(
    offline: Connection, http: ScriptedSession, kind: ReportKind, path: str, body: object
) -> None:
    http.script = [answer(503), answer(202, {"id": "j1", "status": "InProgress"})]
    job = PointProvider(offline).start_report(kind, "g1")
    assert (job.id, job.state) == ("j1", JobState.RUNNING)
    assert [s.url for s in http.sent] == [f"{BASE}{path}"] * 2
    assert http.sent[0].kwargs["json"] == body


def test_report_rows_are_read_a_thousand_at_a_time(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, {"value": [{"workspaceName": "Finance", "workspaceType": "Site"}]})]
    rows = list(PointProvider(offline).report_rows(ReportKind.USER_ACCESS, "j1"))
    assert [(r.name, r.kind) for r in rows] == [("Finance", "site")]
    assert http.sent[0].url == f"{BASE}/v1.0/requests/j1/result"
    assert http.sent[0].kwargs["params"] == {"$top": 1000}


@pytest.mark.parametrize(
    ("permission", "endpoint"),
    [
        (SHAREPOINT_READ_ALL, "GET /v1.0/sites?$top=1"),
        (ASYNC_REQUESTS, "GET /v1.0/groups?$top=1"),
        (PROVISIONING, "GET /v1.0/provision/templates"),
        (ADMIN, "GET /v1.0/options"),
    ],
)
def test_each_permission_has_a_cheap_probe(
    offline: Connection, http: ScriptedSession, permission: str, endpoint: str
) -> None:
    http.script = [answer(200, {"webhooksSignatureAuthenticationKey": "secret"})]
    assert PointProvider(offline).probe(permission) == endpoint
    method, _, path = endpoint.partition(" ")
    assert (http.sent[0].method, http.sent[0].url) == (method, f"{BASE}{path.split('?')[0]}")


def test_a_probe_of_an_unknown_permission_is_a_mistake(offline: Connection) -> None:
    with pytest.raises(ValueError, match="Unknown Point permission"):
        PointProvider(offline).probe("Point.Everything")


# --- Live: the catalogue and requests ------------------------------------------------------------


def test_templates_come_back_as_catalogue_items(point: PointProvider) -> None:
    templates = point.list_templates()
    assert len(templates) == 10
    first = templates[0]
    assert (first.id, first.name, first.workload, first.approval) == (
        "1",
        "Manage a project",
        Workload.TEAM,
        Approval.AUTOMATIC,
    )
    assert first.rules.naming.prefix == "PRJ - "
    assert first.rules.url is not None and first.rules.url.editable
    assert first.rules.privacy == Privacy.REQUESTER
    assert (first.rules.owners_min, first.rules.owners_max) == (2, 5)
    assert {m.kind for m in first.rules.metadata} == {
        "text",
        "people",
        "dropdown",
        "date",
        "number",
        "yesno",
    }
    assert {t.workload for t in templates} == set(Workload)
    assert {t.approval for t in templates} == {Approval.AUTOMATIC, Approval.MANUAL}


def test_a_submission_returns_the_request_and_its_status(point: PointProvider) -> None:
    created = point.submit(_falcon())
    assert created.id and created.display_name == "Falcon"
    again = point.get_request(created.id)
    assert again.id == created.id
    assert again.status in (Status.APPROVED, Status.IN_PROGRESS, Status.COMPLETED)
    assert again.requested_at is not None


def test_a_request_waiting_for_approval_shows_its_stages(
    point: PointProvider, emulator: RunningEmulator
) -> None:
    spec = _falcon(template_id="2", metadata={"Department": "Finance"})
    created = point.submit(spec)
    found = point.get_request(created.id)
    assert found.status == Status.PENDING_APPROVAL
    assert len(found.stages) == 2 and found.stages[0].status == Status.PENDING_APPROVAL
    emulator.control(f"requests/{created.id}/reject", by="nestor@contoso.com", comment="No.")
    rejected = point.get_request(created.id)
    assert rejected.status == Status.REJECTED
    assert any(s.comment == "No." and s.status == Status.REJECTED for s in rejected.stages)


def test_refused_fields_come_back_under_neutral_names(point: PointProvider) -> None:
    with pytest.raises(Invalid) as caught:
        point.submit(_falcon(display_name="", owners=()))
    assert (
        FIELD_DISPLAY_NAME in caught.value.field_errors or FIELD_OWNERS in caught.value.field_errors
    )
    assert not caught.value.retryable


def test_an_unknown_request_is_not_found(point: PointProvider) -> None:
    with pytest.raises(NotFound):
        point.get_request("6f1c2d0e-3a7b-4c55-9f0e-2b8d7e61a9c4")


def test_requests_are_found_by_name_or_url(point: PointProvider) -> None:
    created = point.submit(_falcon(display_name="Osprey", desired_url="osprey-team"))
    assert [r.id for r in point.find_requests(display_name="Osprey")] == [created.id]
    assert [r.id for r in point.find_requests(display_name="", desired_url="osprey-team")] == [
        created.id
    ]
    assert point.find_requests(display_name="Nobody") == []


# --- Live: retries, timeouts and writes that may have arrived ----------------------------------


def test_it_retries_after_429_honouring_retry_after(
    point: PointProvider, emulator: RunningEmulator, waits: list[float]
) -> None:
    emulator.control(
        "throttle", method="GET", path=f"{POINT_PATH}/provision/templates", count=2, retry_after=7
    )
    assert len(point.list_templates()) == 10
    assert len(waits) == 2 and all(wait >= 7 for wait in waits)


def test_throttling_beyond_the_budget_raises_throttled(
    live: Connection, emulator: RunningEmulator
) -> None:
    emulator.control(
        "throttle", method="GET", path=f"{POINT_PATH}/provision/templates", count=1, retry_after=60
    )
    with pytest.raises(Throttled) as caught:
        PointProvider(replace(live, retry_budget=10.0)).list_templates()
    assert caught.value.retryable and caught.value.retry_after == 60


def test_a_5xx_is_retried_with_growing_back_off(
    point: PointProvider, emulator: RunningEmulator, waits: list[float]
) -> None:
    emulator.control(
        "faults", method="GET", path=f"{POINT_PATH}/provision/templates", kind="503", count=2
    )
    assert len(point.list_templates()) == 10
    assert len(waits) == 2
    assert waits[1] > waits[0] * 0.9  # the full delay doubles; jitter keeps at least half


def test_a_persistent_5xx_gives_up_with_a_clear_error(
    point: PointProvider, emulator: RunningEmulator, waits: list[float]
) -> None:
    emulator.control(
        "faults", method="GET", path=f"{POINT_PATH}/provision/templates", kind="500", count=10
    )
    with pytest.raises(Unavailable) as caught:
        point.list_templates()
    assert "answered 500" in str(caught.value) and "4 times" in str(caught.value)
    assert caught.value.retryable
    assert len(waits) == 3


def test_a_hang_is_cut_by_the_timeout(live: Connection, emulator: RunningEmulator) -> None:
    emulator.control(
        "faults", method="GET", path=f"{POINT_PATH}/provision/templates", kind="hang", seconds=2
    )
    with pytest.raises(Unavailable, match="timed out"):
        PointProvider(replace(live, read_timeout=0.3, max_retries=0)).list_templates()


def test_a_reset_get_is_retried(point: PointProvider, emulator: RunningEmulator) -> None:
    emulator.control("faults", method="GET", path=f"{POINT_PATH}/provision/templates", kind="reset")
    assert len(point.list_templates()) == 10


def test_malformed_json_is_retried_on_a_get(
    point: PointProvider, emulator: RunningEmulator
) -> None:
    emulator.control(
        "faults", method="GET", path=f"{POINT_PATH}/provision/templates", kind="malformed"
    )
    assert len(point.list_templates()) == 10


def test_a_submission_is_never_repeated_when_its_outcome_is_unknown(
    point: PointProvider, emulator: RunningEmulator
) -> None:
    emulator.control(
        "faults", method="POST", path=f"{POINT_PATH}/provision/teams", kind="reset_after"
    )
    with pytest.raises(OutcomeUnknown) as caught:
        point.submit(_falcon())
    assert not caught.value.retryable
    found = point.find_requests(display_name="Falcon")
    assert len(found) == 1  # created once; the caller finds it instead of posting again


def test_a_submission_answered_503_is_not_repeated(
    point: PointProvider, emulator: RunningEmulator
) -> None:
    emulator.control("faults", method="POST", path=f"{POINT_PATH}/provision/teams", kind="503")
    with pytest.raises(OutcomeUnknown):
        point.submit(_falcon())
    assert point.find_requests(display_name="Falcon") == []  # this fault answers before Point


# --- Live: permissions and tokens ----------------------------------------------------------------


def test_a_missing_permission_is_named(point: PointProvider, emulator: RunningEmulator) -> None:
    emulator.control(
        "permissions", client_id=demo_app("contoso")["client_id"], revoke=[ADMIN], grant=[]
    )
    with pytest.raises(PermissionMissing) as caught:
        point.probe(ADMIN)
    assert caught.value.permission == ADMIN
    assert "Grant admin consent" in caught.value.guidance


def test_a_read_only_app_gets_the_directory_but_not_the_catalogue(
    emulator: RunningEmulator, waits: list[float]
) -> None:
    reader = Connection(
        base_url=f"{emulator.url}/point/fabrikam",
        tokens=EmulatorTokens(emulator.url, demo_app("fabrikam", 1)),
        sleep=waits.append,
    )
    provider = PointProvider(reader)
    assert provider.sites_page(top=1).items
    assert provider.probe(SHAREPOINT_READ_ALL) == "GET /v1.0/sites?$top=1"
    with pytest.raises(PermissionMissing) as caught:
        provider.list_templates()
    assert caught.value.permission == PROVISIONING and waits == []


def test_the_admin_probe_never_decodes_the_signing_key(live: Connection) -> None:
    options = transport.call(live, "GET", "/v1.0/options", permission=ADMIN, expect_json=False)
    assert options.status == 200 and options.data is None
    assert PointProvider(live).probe(ADMIN) == "GET /v1.0/options"


def test_a_token_failure_is_an_authentication_error_with_guidance(
    live: Connection, emulator: RunningEmulator
) -> None:
    wrong = EmulatorTokens(emulator.url, {**demo_app("contoso"), "secret": "Wrong8Q~nope"})
    with pytest.raises(AuthenticationFailed) as caught:
        PointProvider(replace(live, tokens=wrong)).list_templates()
    assert "Certificates & secrets" in caught.value.guidance
    assert "AADSTS7000215" in caught.value.message


def test_a_rejected_token_is_renewed_once(
    point: PointProvider, contoso_tokens: EmulatorTokens
) -> None:
    contoso_tokens.cached = "not.a.token"  # believed valid here, but Point no longer takes it
    assert len(point.list_templates()) == 10
    assert contoso_tokens.rejections == ["not.a.token"]
    assert contoso_tokens.asked == [False, True]


def test_a_token_for_another_point_is_an_authentication_failure(
    live: Connection, emulator: RunningEmulator
) -> None:
    fabrikam = EmulatorTokens(emulator.url, demo_app("fabrikam"))
    with pytest.raises(AuthenticationFailed) as caught:
        PointProvider(replace(live, tokens=fabrikam)).list_templates()
    assert caught.value.status == 401 and "Point API app ID" in caught.value.guidance
    assert fabrikam.asked == [False, True]


def test_no_token_or_secret_in_logs_or_errors(
    point: PointProvider,
    emulator: RunningEmulator,
    contoso_tokens: EmulatorTokens,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.control("faults", method="GET", path=f"{POINT_PATH}/provision/templates", kind="503")
    point.list_templates()
    emulator.control(
        "faults", method="GET", path=f"{POINT_PATH}/provision/templates", kind="500", count=10
    )
    with pytest.raises(Unavailable) as caught:
        point.list_templates()
    token = contoso_tokens.token()
    secret = demo_app("contoso")["secret"]
    for text in (caplog.text, str(caught.value), caught.value.text):
        assert token not in text and secret not in text


# --- Live: the directory -------------------------------------------------------------------------


def test_an_unknown_group_is_not_found(point: PointProvider) -> None:
    with pytest.raises(NotFound, match="not found"):
        point.get_group("No such group")


def test_paging_follows_every_next_link(point: PointProvider, live: Connection) -> None:
    groups = list(transport.iter_pages(live, "/v1.0/groups", permission="g", params={"$top": 50}))
    assert len(groups) == 301
    assert len({g["id"] for g in groups}) == 301
    first = point.groups_page(top=50)
    assert (len(first.items), first.total, first.has_more) == (50, 301, True)
    last = point.groups_page(top=50, skip=300)
    assert (len(last.items), last.has_more) == (1, False)
    assert point.get_group(first.items[0].name).id == first.items[0].id


def test_a_next_link_to_another_host_is_refused(live: Connection) -> None:
    with pytest.raises(UpstreamError, match="another host"):
        transport.call(live, "GET", "https://evil.example/v1.0/groups", permission=ADMIN)


def test_groups_can_be_filtered_by_type_and_text(point: PointProvider) -> None:
    teams = point.groups_page(top=20, group_type="UnifiedGroup")
    assert teams.items and {g.group_type for g in teams.items} == {"UnifiedGroup"}
    name = teams.items[0].name
    found = point.groups_page(top=5, search=name)
    assert name in [g.name for g in found.items]


def test_sites_are_paged_and_searched(point: PointProvider) -> None:
    page = point.sites_page(top=5)
    assert len(page.items) == 5 and page.total is not None and page.has_more
    site = page.items[0]
    assert site.url.startswith("https://") and site.title and site.site_type
    assert site.url in [s.url for s in point.find_sites(site.title, limit=3)]
    assert len(point.find_sites("", limit=2)) == 2


# --- Live: reports -------------------------------------------------------------------------------


def test_an_async_report_is_followed_to_its_rows(
    point: PointProvider, emulator: RunningEmulator
) -> None:
    emulator.control("timing", job=0)
    group = next(
        g for g in point.groups_page(top=100, group_type="UnifiedGroup").items if g.members_count
    )
    job = point.start_report(ReportKind.GROUP_MEMBERSHIPS, group.id)
    status = point.get_report(job.id)
    assert status.state == JobState.SUCCEEDED and status.id == job.id
    rows = list(point.report_rows(ReportKind.GROUP_MEMBERSHIPS, job.id))
    assert rows and {row.group_id for row in rows} == {group.id}
    assert {row.role for row in rows} <= {"owner", "member"}
    assert {row.kind for row in rows} <= {"user", "guest", "group"}


def test_a_site_permissions_report_names_principals_of_the_site(
    point: PointProvider, emulator: RunningEmulator
) -> None:
    emulator.control("timing", job=0)
    site = point.sites_page(top=1).items[0]
    job = point.start_report(ReportKind.SITE_PERMISSIONS, site.url)
    assert point.get_report(job.id).state == JobState.SUCCEEDED
    rows = list(point.report_rows(ReportKind.SITE_PERMISSIONS, job.id))
    assert rows and {r.site_url for r in rows} == {site.url}
    assert all(r.permission and r.kind in ("user", "guest", "group") for r in rows)


def test_a_user_access_report_lists_workspaces_and_onedrive(
    point: PointProvider, emulator: RunningEmulator
) -> None:
    emulator.control("timing", job=0)
    job = point.start_report(ReportKind.USER_ACCESS, ADELE)
    assert point.get_report(job.id).state == JobState.SUCCEEDED
    rows = list(point.report_rows(ReportKind.USER_ACCESS, job.id))
    assert "onedrive" in {r.kind for r in rows}
    assert all(r.name and r.permission for r in rows)


def test_a_running_report_shows_progress_and_its_result_is_not_ready(
    point: PointProvider, emulator: RunningEmulator
) -> None:
    emulator.control("timing", job=600)
    job = point.start_report(ReportKind.GROUP_MEMBERSHIPS)
    status = point.get_report(job.id)
    assert status.state == JobState.RUNNING and status.total is not None
    with pytest.raises(Conflict, match="not completed"):
        list(point.report_rows(ReportKind.GROUP_MEMBERSHIPS, job.id))


def test_a_failed_report_says_why(point: PointProvider, emulator: RunningEmulator) -> None:
    emulator.control("timing", job=0)
    emulator.control("jobs/fail-next", tenant="contoso", message="Report generation failed.")
    job = point.start_report(ReportKind.USER_ACCESS, ADELE)
    status = point.get_report(job.id)
    assert (status.state, status.error) == (JobState.FAILED, "Report generation failed.")


def test_a_report_on_an_unknown_subject_is_refused(point: PointProvider) -> None:
    with pytest.raises(Invalid) as caught:
        point.start_report(ReportKind.USER_ACCESS, "nobody@contoso.onmicrosoft.com")
    assert "" in caught.value.field_errors  # "user" is no field of a workspace request


# --- Live: webhooks through the transport (the provider leaves them out for now) -----------------


def test_the_transport_carries_webhook_registration_listing_and_removal(live: Connection) -> None:
    url = "https://portal.example/webhooks/point/contoso"
    hooks = "/v1.0/webhooks/endpoints"
    body = {"endpoint": url, "types": ["*"]}
    registered = transport.call(
        live, "POST", hooks, permission=ADMIN, body=body, safe_to_repeat=True, expect_json=False
    )
    assert registered.status == 200
    listed = transport.call(live, "GET", hooks, permission=ADMIN)
    assert [h["endpoint"] for h in listed.data] == [url]
    removed = transport.call(
        live, "DELETE", hooks, permission=ADMIN, body={"endpoint": url}, expect_json=False
    )
    assert removed.status == 204
    with pytest.raises(NotFound):
        transport.call(live, "DELETE", hooks, permission=ADMIN, body={"endpoint": url})
