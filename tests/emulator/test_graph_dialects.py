"""The Graph emulator's two dialects, its switches, and the server's faults and throttles
dressed as Graph errors on /graph/ paths; plus the global reset."""

from __future__ import annotations

import pytest
import requests

from emulator.server import RunningEmulator
from tests.emulator.test_graph_support import (
    CONTOSO,
    FABRIKAM,
    LITWARE,
    Graph,
    all_pages,
    bind,
    community_body,
    error_code,
    team_body,
    user_id,
)


@pytest.fixture
def variant(emulator: RunningEmulator) -> Graph:
    graph = Graph(emulator)
    graph.control("dialect", dialect="variant")
    graph.control("timing", seconds=0)
    return graph


# -- dialect switch --------------------------------------------------------------------------------


def test_the_dialect_is_documented_by_default_and_per_tenant(emulator: RunningEmulator) -> None:
    assert emulator.control_get("graph/dialect?tenant=litware")["dialect"] == "documented"
    emulator.control("graph/dialect", tenant="litware", dialect="variant")
    assert emulator.control_get("graph/config?tenant=litware")["dialect"] == "variant"
    assert emulator.control_get("graph/config?tenant=contoso")["dialect"] == "documented"


def test_an_unknown_dialect_or_tenant_is_refused_by_the_control_api(
    emulator: RunningEmulator,
) -> None:
    bad = requests.post(
        f"{emulator.url}/_control/graph/dialect",
        json={"tenant": "litware", "dialect": "klingon"},
        timeout=10,
    )
    assert bad.status_code == 400
    nowhere = requests.post(
        f"{emulator.url}/_control/graph/timing",
        json={"tenant": "nowhere", "seconds": 1},
        timeout=10,
    )
    assert nowhere.status_code == 400


# -- the variant's differences -------------------------------------------------------------------


def test_variant_pages_by_two_with_absolute_next_links(variant: Graph) -> None:
    first = variant.get("/groups").json()
    assert len(first["value"]) == 2
    assert first["@odata.nextLink"].startswith(variant.emulator.url)
    everything = all_pages(variant, "/groups")
    assert len(everything) == 5


def test_variant_leaves_out_licences_and_group_creation_dates(variant: Graph) -> None:
    users = all_pages(variant, "/users")
    assert all("assignedLicenses" not in u for u in users)
    groups = all_pages(variant, "/groups")
    assert all("createdDateTime" not in g for g in groups)
    created = variant.new_group("variantgroup").json()
    assert "createdDateTime" not in created


def test_variant_adds_unknown_keys(variant: Graph) -> None:
    body = variant.get("/groups").json()
    assert "@microsoft.graph.tips" in body
    assert body["value"][0]["@odata.type"] == "#microsoft.graph.group"
    assert "deletedDateTime" in body["value"][0]


def test_variant_team_location_is_absolute_and_statuses_are_pascal_case(variant: Graph) -> None:
    gid = variant.new_group("variantteam").json()["id"]
    answer = variant.post("/teams", team_body(gid))
    location = answer.headers["Location"]
    assert location.startswith(f"{variant.emulator.url}/graph/v1.0/teams('{gid}')/operations('")
    assert variant.get(location).json()["status"] == "Succeeded"


def test_variant_sends_location_besides_operation_location_for_communities(
    variant: Graph,
) -> None:
    answer = variant.post("/employeeExperience/communities", community_body())
    assert answer.headers["Location"] == answer.headers["Operation-Location"]
    assert variant.get(answer.headers["Location"]).json()["status"] == "Succeeded"


def test_variant_site_operation_status_is_pascal_case(variant: Graph) -> None:
    body = {
        "name": "Variant",
        "webUrl": "https://litware.sharepoint.com/sites/variant",
        "template": "sts",
        "ownerIdentityToResolve": {"email": "nancy.davolio@litware.onmicrosoft.com"},
    }
    location = variant.post("/sites", body, version="beta").headers["Location"]
    assert variant.get(location).json()["status"] == "Succeeded"


def test_variant_errors_have_lower_camel_codes_and_no_details(variant: Graph) -> None:
    answer = variant.new_group("marketing")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "request_BadRequest"
    assert "details" not in error
    assert error["message"] == (
        "Another object with the same value for property mailNickname already exists."
    )


def test_variant_refuses_a_roleless_token_with_access_denied(emulator: RunningEmulator) -> None:
    emulator.control("graph/dialect", tenant="fabrikam", dialect="variant")
    answer = Graph(emulator, FABRIKAM, app_index=1).get("/users")
    assert answer.status_code == 403
    assert error_code(answer) == "accessDenied"


def test_documented_answers_keep_everything(emulator: RunningEmulator) -> None:
    graph = Graph(emulator)
    users = graph.get("/users").json()["value"]
    assert all("assignedLicenses" in u for u in users)
    assert "@microsoft.graph.tips" not in graph.get("/groups").json()


# -- faults and throttles from the control API ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code"), [("500", "generalException"), ("503", "serviceNotAvailable")]
)
def test_an_injected_fault_on_a_graph_path_is_a_graph_error(
    emulator: RunningEmulator, kind: str, code: str
) -> None:
    emulator.control("faults", path="/graph/v1.0/groups*", kind=kind)
    answer = Graph(emulator).get("/groups")
    assert answer.status_code == int(kind)
    assert error_code(answer) == code
    assert set(answer.json()["error"]["innerError"]) == {"date", "request-id", "client-request-id"}


def test_a_throttle_on_a_graph_path_is_429_too_many_requests(emulator: RunningEmulator) -> None:
    emulator.control("throttle", path="/graph/v1.0/users", retry_after=7)
    graph = Graph(emulator)
    answer = graph.get("/users")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert error_code(answer) == "TooManyRequests"
    assert graph.get("/users").status_code == 200


def test_faults_follow_the_tenants_dialect(variant: Graph) -> None:
    variant.emulator.control("throttle", path="/graph/*", retry_after=2)
    assert error_code(variant.get("/groups")) == "tooManyRequests"


def test_faults_elsewhere_keep_their_shape(emulator: RunningEmulator) -> None:
    emulator.control("faults", path="/point/*", kind="500")
    answer = requests.get(f"{emulator.url}/point/contoso/v1.0/groups", timeout=10)
    assert answer.status_code == 500
    assert "innerError" not in answer.text


# -- switches and reset ---------------------------------------------------------------------------


def test_timing_sets_each_kind(emulator: RunningEmulator) -> None:
    config = emulator.control("graph/timing", tenant="litware", seconds=5, team=1)
    assert config["timing"] == {"team": 1.0, "site": 5.0, "community": 5.0}


def test_fail_next_wants_a_known_kind(emulator: RunningEmulator) -> None:
    answer = requests.post(
        f"{emulator.url}/_control/graph/fail-next",
        json={"tenant": "litware", "kind": "dragon"},
        timeout=10,
    )
    assert answer.status_code == 400


def test_the_global_reset_reseeds_graph_state(emulator: RunningEmulator) -> None:
    graph = Graph(emulator)
    graph.control("dialect", dialect="variant")
    created = graph.new_group("beforereset").json()
    emulator.control("reset")
    assert "graph" not in emulator.state.data
    after = Graph(emulator)
    assert after.get(f"/groups/{created['id']}").status_code == 404
    assert emulator.control_get("graph/config?tenant=litware")["dialect"] == "documented"
    assert after.ledger() == []
    assert len(after.get("/groups").json()["value"]) == 5


def test_seeded_ids_are_the_same_after_a_reset(emulator: RunningEmulator) -> None:
    before = [g["id"] for g in Graph(emulator).get("/groups").json()["value"]]
    emulator.control("reset")
    assert [g["id"] for g in Graph(emulator).get("/groups").json()["value"]] == before


def test_tenants_are_kept_apart(emulator: RunningEmulator) -> None:
    Graph(emulator).new_group("litwareonly")
    emulator.control("graph/permissions", tenant="contoso", grant=["Group.ReadWrite.All"])
    contoso = Graph(emulator, CONTOSO)
    nick = {"$filter": "mailNickname eq 'litwareonly'"}
    assert contoso.get("/groups", params=nick).json()["value"] == []
    body = {"members@odata.bind": [bind(user_id(LITWARE, 0))]}
    assert contoso.new_group("crossbind", owners=0, **body).status_code == 404
