"""Gt365Provider against the emulated GT365, in both dialects: what a requester and IT staff
rely on (a group made once, refusals on the right field, a lost answer that does not make a
second group)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests

from emulator.server import RunningEmulator
from tests.upstreams.conftest import demo_app
from upstreams.contract import (
    FIELD_DESIRED_URL,
    FIELD_MEMBERS,
    FIELD_OWNERS,
    AlreadyExists,
    AuthenticationFailed,
    Connection,
    Invalid,
    OutcomeUnknown,
    PermissionMissing,
    Status,
    Workload,
    WorkspaceSpec,
    metadata_field,
)
from upstreams.gt365.provider import Gt365Provider

KIM = "kim.abercrombie@tailspin.onmicrosoft.com"
OMAR = "omar.bennett@tailspin.onmicrosoft.com"
GT365_PATH = "/gt365/api/*"

SPEC = WorkspaceSpec(
    template_id="",
    workload=Workload.TEAM,
    display_name="Falcon",
    desired_url="falcon",
    owners=(KIM,),
    members=(OMAR,),
    is_private=True,
    metadata={"Classification": "Confidential"},
)


class GraphTokens:
    """A TokenSource on the emulator's Entra: client credentials with
    ``scope=https://graph.microsoft.com/.default`` (GT365 calls Graph with the token)."""

    def __init__(self, emulator_url: str, app: dict[str, str]) -> None:
        self.url = f"{emulator_url}/{app['tenant_id']}/oauth2/v2.0/token"
        self.form = {
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["secret"],
            "scope": "https://graph.microsoft.com/.default",
        }
        self.cached: str | None = None
        self.rejections: list[str] = []

    def token(self, *, fresh: bool = False) -> str:
        if self.cached and not fresh:
            return self.cached
        answer = requests.post(self.url, data=self.form, timeout=10)
        if answer.status_code != 200:
            raise AuthenticationFailed("Entra refused the portal's token request.")
        self.cached = str(answer.json()["access_token"])
        return self.cached

    def rejected(self, token: str) -> None:
        self.rejections.append(token)
        if token == self.cached:
            self.cached = None


def _provider(
    emulator: RunningEmulator, waits: list[float], slug: str = "tailspin", read_timeout: float = 5.0
) -> Gt365Provider:
    return Gt365Provider(
        Connection(
            base_url=f"{emulator.url}/gt365/api",
            tokens=GraphTokens(emulator.url, demo_app(slug)),
            connect_timeout=2.0,
            read_timeout=read_timeout,
            backoff=0.1,
            sleep=waits.append,
        )
    )


@pytest.fixture(params=["documented", "plain"])
def dialect(request: pytest.FixtureRequest, emulator: RunningEmulator) -> Iterator[str]:
    emulator.control("gt365/dialect", dialect=request.param)
    yield request.param


@pytest.fixture
def gt365(emulator: RunningEmulator, dialect: str, waits: list[float]) -> Gt365Provider:
    return _provider(emulator, waits)


def _ledger(
    emulator: RunningEmulator, slug: str = "tailspin"
) -> dict[str, list[dict[str, object]]]:
    found: dict[str, list[dict[str, object]]] = emulator.control_get(f"gt365/ledger?tenant={slug}")
    return found


# --- A group made once -----------------------------------------------------------------------------


def test_a_team_request_is_completed_with_the_new_groups_id(
    gt365: Gt365Provider, emulator: RunningEmulator, dialect: str
) -> None:
    done = gt365.submit(SPEC)
    [group] = _ledger(emulator)["groups"]
    assert (done.id, done.workspace_id, done.status) == (group["id"], group["id"], Status.COMPLETED)
    assert done.display_name == "Falcon"
    assert (group["createTeam"], group["classification"]) == (True, "Confidential")
    if dialect == "plain":  # only the bare group names its mail
        assert done.email == "falcon@tailspin.onmicrosoft.com"


def test_a_request_without_an_alias_gets_one_from_its_name(
    gt365: Gt365Provider, emulator: RunningEmulator
) -> None:
    gt365.submit(
        WorkspaceSpec(
            template_id="", workload=Workload.GROUP, display_name="Café Plan", owners=(KIM,)
        )
    )
    [group] = _ledger(emulator)["groups"]
    assert (group["mailNickname"], group["createTeam"], group["visibility"]) == (
        "cafe-plan",
        False,
        "Private",
    )


def test_a_lost_answer_then_a_second_send_finds_the_group_already_made(
    gt365: Gt365Provider, emulator: RunningEmulator
) -> None:
    emulator.control("gt365/lose-answer", mode="reset")
    with pytest.raises(OutcomeUnknown):
        gt365.submit(SPEC)
    with pytest.raises(AlreadyExists) as caught:
        gt365.submit(SPEC)
    assert caught.value.field == FIELD_DESIRED_URL
    existing = caught.value.existing
    assert existing is not None
    assert (existing.status, existing.display_name) == (Status.COMPLETED, "Falcon")
    seen = _ledger(emulator)
    assert len(seen["groups"]) == 1 and len(seen["attempts"]) == 2


def test_a_call_slower_than_the_read_timeout_is_unknown_but_made_once(
    emulator: RunningEmulator, dialect: str, waits: list[float]
) -> None:
    emulator.control("gt365/duration", tenant="tailspin", seconds=1.5)
    impatient = _provider(emulator, waits, read_timeout=0.5)
    with pytest.raises(OutcomeUnknown):
        impatient.submit(SPEC)
    with pytest.raises(AlreadyExists):
        impatient.submit(SPEC)  # the refusal comes before the wait
    assert len(_ledger(emulator)["groups"]) == 1


def test_a_slow_call_within_the_read_timeout_succeeds(
    emulator: RunningEmulator, dialect: str, waits: list[float]
) -> None:
    emulator.control("gt365/duration", tenant="tailspin", seconds=0.5)
    assert _provider(emulator, waits, read_timeout=3.0).submit(SPEC).status == Status.COMPLETED


# --- Refusals on their fields ----------------------------------------------------------------------


def test_a_classification_outside_the_policy_is_refused_on_its_field(
    gt365: Gt365Provider, emulator: RunningEmulator
) -> None:
    emulator.control("gt365/classifications", tenant="tailspin", values=["General"])
    with pytest.raises(Invalid) as caught:
        gt365.submit(SPEC)
    [message] = caught.value.field_errors[metadata_field("classification")]
    assert "set the value in the classification policy first" in message
    assert _ledger(emulator)["groups"] == []


def test_an_owner_who_is_not_in_the_tenant_is_refused_on_the_owners(gt365: Gt365Provider) -> None:
    with pytest.raises(Invalid) as caught:
        gt365.submit(replace(SPEC, owners=("ghost@tailspin.onmicrosoft.com",)))
    assert list(caught.value.field_errors) == [FIELD_OWNERS]
    assert "ghost@tailspin.onmicrosoft.com" in caught.value.field_errors[FIELD_OWNERS][0]


def test_a_member_who_is_not_in_the_tenant_is_refused_on_the_members(gt365: Gt365Provider) -> None:
    with pytest.raises(Invalid) as caught:
        gt365.submit(replace(SPEC, members=("ghost@tailspin.onmicrosoft.com",)))
    assert list(caught.value.field_errors) == [FIELD_MEMBERS]


def test_an_alias_that_is_not_ascii_is_refused_on_the_alias(gt365: Gt365Provider) -> None:
    with pytest.raises(Invalid) as caught:
        gt365.submit(replace(SPEC, desired_url="café team"))
    assert list(caught.value.field_errors) == [FIELD_DESIRED_URL]


def test_an_app_without_group_readwrite_all_is_told_to_grant_it(
    emulator: RunningEmulator, dialect: str, waits: list[float]
) -> None:
    contoso = _provider(emulator, waits, slug="contoso")
    with pytest.raises(PermissionMissing) as caught:
        contoso.submit(replace(SPEC, owners=("adele.vance@contoso.onmicrosoft.com",)))
    assert caught.value.permission == "Group.ReadWrite.All"
    assert "Grant admin consent" in caught.value.guidance


# --- Tokens, outages, throttling -------------------------------------------------------------------


def test_a_stale_token_is_renewed_once_and_the_group_made(
    gt365: Gt365Provider, emulator: RunningEmulator
) -> None:
    tokens = gt365.connection.tokens
    assert isinstance(tokens, GraphTokens)
    tokens.cached = "stale-token"
    assert gt365.submit(SPEC).status == Status.COMPLETED
    assert tokens.rejections == ["stale-token"]


def test_a_server_error_on_the_send_is_unknown_and_never_sent_twice(
    gt365: Gt365Provider, emulator: RunningEmulator
) -> None:
    emulator.control("faults", method="POST", path=GT365_PATH, kind="503")
    with pytest.raises(OutcomeUnknown):
        gt365.submit(SPEC)
    assert _ledger(emulator)["attempts"] == []  # the fault answered before GT365 ran


def test_a_throttled_send_waits_as_told_then_makes_the_group(
    gt365: Gt365Provider, emulator: RunningEmulator, waits: list[float]
) -> None:
    emulator.control("throttle", method="POST", path=GT365_PATH, retry_after=2)
    assert gt365.submit(SPEC).status == Status.COMPLETED
    assert waits == [2.0] and len(_ledger(emulator)["groups"]) == 1
