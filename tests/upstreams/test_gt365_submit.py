"""Gt365Provider on a scripted session (no network, waits recorded): what a submit becomes for
each answer GT365 may give, and the contract's operations GT365 cannot do."""

from __future__ import annotations

import pytest
import requests

from tests.upstreams.conftest import RecordingTokens, ScriptedSession, answer, scripted_transport
from tests.upstreams.test_gt365_wire import (
    ALIAS_TAKEN,
    CLASSIFICATION_REFUSED,
    GROUP_ID,
    OWNER_MISSING,
    VISIBILITY,
    WRAPPED,
)
from upstreams.contract import (
    FIELD_DESIRED_URL,
    FIELD_OWNERS,
    FIELD_PRIVACY,
    AlreadyExists,
    AuthenticationFailed,
    Connection,
    Invalid,
    NotSupported,
    OutcomeUnknown,
    PermissionMissing,
    ReportKind,
    Status,
    UpstreamError,
    Workload,
    WorkspaceSpec,
    metadata_field,
)
from upstreams.gt365 import transport
from upstreams.gt365.provider import Gt365Provider

BASE = "https://gt365api.atwork-it.com/api"

SPEC = WorkspaceSpec(
    template_id="",
    workload=Workload.TEAM,
    display_name="Falcon",
    desired_url="falcon",
    owners=("kim@tailspin.example",),
    metadata={"classification": "Confidential"},
)


@pytest.fixture
def gt365_http(monkeypatch: pytest.MonkeyPatch) -> ScriptedSession:
    return scripted_transport(monkeypatch, transport)


@pytest.fixture
def gt365(tokens: RecordingTokens, waits: list[float]) -> Gt365Provider:
    return Gt365Provider(
        Connection(
            base_url=BASE, tokens=tokens, read_timeout=130.0, backoff=0.1, sleep=waits.append
        )
    )


# --- Success -------------------------------------------------------------------------------------


def test_a_created_group_is_completed_with_its_id(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(201, WRAPPED)]
    done = gt365.submit(SPEC)
    assert (done.id, done.status, done.workspace_id) == (GROUP_ID, Status.COMPLETED, GROUP_ID)
    assert done.display_name == "Falcon"
    [sent] = gt365_http.sent
    assert (sent.method, sent.url) == ("POST", f"{BASE}/ProvisionGroup")
    assert sent.kwargs["json"]["createTeam"] is True
    assert sent.kwargs["json"]["classification"] == "Confidential"
    assert sent.kwargs["timeout"] == (3.0, 130.0)


def test_a_bare_group_answer_gives_its_id_and_mail(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(201, {"Id": GROUP_ID, "Mail": "falcon@tailspin.example"})]
    done = gt365.submit(SPEC)
    assert (done.id, done.email, done.status) == (
        GROUP_ID,
        "falcon@tailspin.example",
        Status.COMPLETED,
    )


@pytest.mark.parametrize(
    "script", [answer(201), answer(200, {"ok": True}), answer(201, raw=b"Created")]
)
def test_a_2xx_without_an_id_is_still_completed(
    gt365: Gt365Provider, gt365_http: ScriptedSession, script: requests.Response
) -> None:
    gt365_http.script = [script]
    done = gt365.submit(SPEC)
    assert (done.id, done.status, done.display_name) == ("", Status.COMPLETED, "Falcon")


def test_a_wrapped_failure_is_never_read_as_success(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    failed = {
        **WRAPPED,
        "statusCode": 400,
        "reasonPhrase": "Bad Request",
        "isSuccessStatusCode": False,
    }
    gt365_http.script = [answer(200, failed)]
    with pytest.raises(Invalid) as caught:
        gt365.submit(SPEC)
    assert caught.value.field_errors == {"": ["Bad Request"]}


def test_a_wrapped_server_failure_leaves_the_outcome_unknown(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(200, {**WRAPPED, "statusCode": 504, "isSuccessStatusCode": False})]
    with pytest.raises(OutcomeUnknown):
        gt365.submit(SPEC)


# --- Refusals, each on its field ---------------------------------------------------------------


def test_an_unknown_classification_is_refused_on_its_metadata_field(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(400, CLASSIFICATION_REFUSED)]
    with pytest.raises(Invalid) as caught:
        gt365.submit(SPEC)
    [message] = caught.value.field_errors[metadata_field("classification")]
    assert "set the value in the classification policy first" in message


def test_a_taken_alias_is_already_existing_and_complete(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(400, ALIAS_TAKEN)]
    with pytest.raises(AlreadyExists) as caught:
        gt365.submit(SPEC)
    assert caught.value.field == FIELD_DESIRED_URL
    existing = caught.value.existing
    assert existing is not None
    assert (existing.id, existing.status, existing.display_name) == ("", Status.COMPLETED, "Falcon")


def test_a_taken_alias_inside_a_2xx_is_already_existing_too(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(200, ALIAS_TAKEN)]
    with pytest.raises(AlreadyExists) as caught:
        gt365.submit(SPEC)
    assert caught.value.existing is not None


def test_an_unknown_owner_is_refused_on_the_owners(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(400, OWNER_MISSING)]
    with pytest.raises(Invalid) as caught:
        gt365.submit(SPEC)
    assert list(caught.value.field_errors) == [FIELD_OWNERS]
    assert "5a6b746c" in caught.value.field_errors[FIELD_OWNERS][0]


def test_the_plain_text_visibility_error_lands_on_privacy(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(400, raw=VISIBILITY.encode())]
    with pytest.raises(Invalid) as caught:
        gt365.submit(SPEC)
    assert VISIBILITY in caught.value.field_errors[FIELD_PRIVACY][0]


def test_another_400_is_an_error_of_the_whole_request(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(400, {"error": {"code": "Oops", "message": "Quota reached."}})]
    with pytest.raises(Invalid) as caught:
        gt365.submit(SPEC)
    assert caught.value.field_errors == {"": ["Quota reached."]}


def test_a_missing_graph_permission_says_how_to_grant_it(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    denied = {
        "error": {
            "code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation.",
        }
    }
    gt365_http.script = [answer(403, denied)]
    with pytest.raises(PermissionMissing) as caught:
        gt365.submit(SPEC)
    assert caught.value.permission == "Group.ReadWrite.All"
    assert "Grant admin consent" in caught.value.guidance
    assert "Microsoft Graph > Application permissions" in caught.value.guidance


def test_a_wrong_url_is_not_blamed_on_the_request(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    gt365_http.script = [answer(404)]
    with pytest.raises(UpstreamError, match="GT365 API URL"):
        gt365.submit(SPEC)


# --- Tokens, outages, throttling -----------------------------------------------------------------


def test_a_rejected_token_is_renewed_once(
    gt365: Gt365Provider, gt365_http: ScriptedSession, tokens: RecordingTokens
) -> None:
    gt365_http.script = [
        answer(401, {"error": {"code": "InvalidAuthenticationToken"}}),
        answer(201, WRAPPED),
    ]
    assert gt365.submit(SPEC).id == GROUP_ID
    assert tokens.rejections == ["token-one"]
    assert [s.token for s in gt365_http.sent] == ["token-one", "token-two"]


def test_a_token_rejected_twice_fails_with_guidance(
    gt365: Gt365Provider, gt365_http: ScriptedSession
) -> None:
    invalid = {
        "error": {
            "code": "InvalidAuthenticationToken",
            "message": "CompactToken parsing failed with error code: 80049217",
        }
    }
    gt365_http.script = [answer(401, invalid), answer(401, invalid)]
    with pytest.raises(AuthenticationFailed) as caught:
        gt365.submit(SPEC)
    assert "graph.microsoft.com/.default" in caught.value.guidance


@pytest.mark.parametrize(
    "failure",
    [answer(500), answer(503), requests.ReadTimeout("slow"), requests.ConnectionError("reset")],
)
def test_an_outage_after_sending_leaves_the_outcome_unknown(
    gt365: Gt365Provider, gt365_http: ScriptedSession, failure: object
) -> None:
    gt365_http.script = [failure]  # type: ignore[list-item]
    with pytest.raises(OutcomeUnknown):
        gt365.submit(SPEC)
    assert len(gt365_http.sent) == 1  # never sent twice


def test_a_throttled_submit_waits_as_told_then_succeeds(
    gt365: Gt365Provider, gt365_http: ScriptedSession, waits: list[float]
) -> None:
    gt365_http.script = [answer(429, headers={"Retry-After": "4"}), answer(201, WRAPPED)]
    assert gt365.submit(SPEC).id == GROUP_ID
    assert waits == [4.0]


# --- What GT365 cannot do ------------------------------------------------------------------------


def test_a_request_answered_is_complete() -> None:
    provider = Gt365Provider(Connection(base_url=BASE, tokens=RecordingTokens()))
    assert provider.get_request(GROUP_ID).status == Status.COMPLETED


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.list_templates(),
        lambda p: p.find_requests(display_name="Falcon"),
        lambda p: p.find_workspace(workload=Workload.GROUP, name="Falcon"),
        lambda p: p.find_workspaces(workload=Workload.GROUP, containing="Fal"),
        lambda p: p.groups_page(top=10),
        lambda p: p.get_group("Falcon"),
        lambda p: p.sites_page(top=10),
        lambda p: p.find_sites("x"),
        lambda p: p.start_report(ReportKind.USER_ACCESS),
        lambda p: p.get_report("j"),
        lambda p: p.report_rows(ReportKind.USER_ACCESS, "j"),
        lambda p: p.check_name(SPEC),
        lambda p: p.webhook_signing_key(),
        lambda p: p.list_webhooks(),
        lambda p: p.register_webhook("https://x"),
        lambda p: p.remove_webhook("https://x"),
        lambda p: p.probe("Group.ReadWrite.All"),
        lambda p: p.submit(WorkspaceSpec(template_id="", workload=Workload.SITE, display_name="S")),
    ],
)
def test_what_gt365_cannot_do_says_so_without_calling(call: object) -> None:
    session = ScriptedSession()  # any call would fail the test
    provider = Gt365Provider(Connection(base_url=BASE, tokens=RecordingTokens()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transport, "_session", session)
        with pytest.raises(NotSupported, match="GT365"):
            call(provider)  # type: ignore[operator]
    assert session.sent == []


def test_the_connection_check_is_told_which_permissions_matter() -> None:
    provider = Gt365Provider(Connection(base_url=BASE, tokens=RecordingTokens()))
    required = [(p.name, p.optional) for p in provider.permissions()]
    assert required == [("Group.ReadWrite.All", False), ("User.Read.All", True)]
    assert provider.capabilities.duplicates_refused and not provider.capabilities.request_lookup
    assert provider.capabilities.workloads == {Workload.GROUP, Workload.TEAM}
