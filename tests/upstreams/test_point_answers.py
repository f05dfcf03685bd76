"""PointProvider on scripted answers (offline): what a 2xx to a send means, duplicates,
the request lookup that Point may not have, finding a workspace through documented reads,
searching and paging whether or not Point honours ``search`` and ``$skip``, and least
privilege (docs/point-contract.md §2-§7)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from tests.upstreams.conftest import BASE, ScriptedSession, answer
from upstreams.contract import (
    AlreadyExists,
    Conflict,
    Connection,
    Invalid,
    NotSupported,
    PermissionMissing,
    ReportKind,
    RequestStatus,
    Status,
    UpstreamError,
    Workload,
    WorkspaceSpec,
    metadata_field,
)
from upstreams.point import provider as provider_module
from upstreams.point import transport
from upstreams.point.provider import (
    ASYNC_REQUESTS,
    SHAREPOINT_READ_ALL,
    PointProvider,
)

SPEC = WorkspaceSpec(
    template_id="3",
    workload=Workload.TEAM,
    display_name="Falcon",
    owners=("adele@contoso.com",),
    metadata={"Cost Center": "CC-1"},
)
LOCATION = "/v1.0/provision/requests/r-loc"


# --- A 2xx to the send is never an error ----------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # 201 with Location and an empty body
        (
            answer(201, headers={"Location": LOCATION}),
            RequestStatus(id="r-loc", display_name="Falcon"),
        ),
        # 202 with only an id
        (answer(202, {"id": "r1"}), RequestStatus(id="r1")),
        # a bare string id (JSON), with or without Location
        (answer(202, "3f2c-0001"), RequestStatus(id="3f2c-0001")),
        (
            answer(202, "3f2c-0001", headers={"Location": LOCATION}),
            RequestStatus(id="3f2c-0001"),
        ),
        # a bare number
        (answer(201, 42), RequestStatus(id="42")),
        # 200 with a full object
        (
            answer(
                200,
                {
                    "id": "r1",
                    "status": "Pending",
                    "displayName": "PRJ - Falcon",
                    "desiredUrl": "falcon",
                    "requestedOn": "2026-08-20T09:15:02Z",
                },
            ),
            RequestStatus(
                id="r1",
                status=Status.PENDING_APPROVAL,
                status_text="Pending",
                display_name="PRJ - Falcon",
                desired_url="falcon",
            ),
        ),
        # a 2xx with an unreadable body: the id from Location, else none
        (
            answer(201, raw=b'{"id": "r1", "sta', headers={"Location": LOCATION}),
            RequestStatus(id="r-loc", display_name="Falcon"),
        ),
        (answer(200, raw=b"<html>OK</html>"), RequestStatus(id="", display_name="Falcon")),
        (answer(201, raw=b"3f2c-0002"), RequestStatus(id="3f2c-0002")),
        # no id anywhere, no status
        (answer(204), RequestStatus(id="", display_name="Falcon")),
        (answer(200, ["unexpected"]), RequestStatus(id="", display_name="Falcon")),
        # a 303 to the request is an acceptance too
        (
            answer(303, headers={"Location": LOCATION}),
            RequestStatus(id="r-loc", display_name="Falcon"),
        ),
    ],
)
def test_every_2xx_to_a_send_is_a_request_status_never_an_error(
    offline: Connection, http: ScriptedSession, reply: Any, expected: RequestStatus
) -> None:
    http.script = [reply]
    found = PointProvider(offline).submit(SPEC)
    assert replace(found, requested_at=None) == expected
    assert len(http.sent) == 1


def test_a_send_that_may_have_arrived_is_still_outcome_unknown(
    offline: Connection, http: ScriptedSession
) -> None:
    from upstreams.contract import OutcomeUnknown

    http.script = [answer(502)]
    with pytest.raises(OutcomeUnknown):
        PointProvider(offline).submit(SPEC)
    assert len(http.sent) == 1


@pytest.mark.parametrize(
    ("body", "existing_id"),
    [
        (
            {
                "message": "An error has occurred.",
                "exceptionMessage": "A workspace named 'Falcon' is already requested (request r9).",
            },
            "r9",
        ),
        ({"detail": "A workspace named 'Falcon' already exists."}, ""),
        ({"title": "Conflict", "detail": "Duplicate name.", "existingRequestId": "r7"}, "r7"),
        ({"message": "The URL falcon is already taken.", "requestId": 55}, "55"),
    ],
)
def test_a_duplicate_409_is_already_exists_with_the_holding_request(
    offline: Connection, http: ScriptedSession, body: dict[str, Any], existing_id: str
) -> None:
    http.script = [answer(409, body)]
    with pytest.raises(AlreadyExists) as caught:
        PointProvider(offline).submit(SPEC)
    assert caught.value.existing_id == existing_id
    assert isinstance(caught.value, Conflict) and caught.value.status == 409


def test_another_409_stays_a_conflict(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(409, {"exceptionMessage": "Provisioning is paused."})]
    with pytest.raises(Conflict) as caught:
        PointProvider(offline).submit(SPEC)
    assert not isinstance(caught.value, AlreadyExists)


def test_metadata_errors_come_back_under_the_requests_field_names(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(
            400, {"errors": {"metadata.cost_center": ["Required."], "DisplayName": ["Too long."]}}
        )
    ]
    with pytest.raises(Invalid) as caught:
        PointProvider(offline).submit(SPEC)
    assert caught.value.field_errors == {
        metadata_field("Cost Center"): ["Required."],
        "display_name": ["Too long."],
    }
    assert caught.value.status == 400


def test_a_status_answer_without_an_id_keeps_the_asked_id(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, {"status": "Completed"})]
    found = PointProvider(offline).get_request("r1")
    assert (found.id, found.status) == ("r1", Status.COMPLETED)


# --- The request lookup (not documented) ----------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        answer(404, {"message": "An error has occurred.", "exceptionMessage": "No route."}),
        answer(404),
        answer(405, {"title": "Method Not Allowed"}),
    ],
)
def test_a_missing_request_lookup_is_not_supported(
    offline: Connection, http: ScriptedSession, reply: Any
) -> None:
    http.script = [reply]
    with pytest.raises(NotSupported, match="not support") as caught:
        PointProvider(offline).find_requests(display_name="Falcon")
    assert "proves nothing" in caught.value.message
    assert len(http.sent) == 1


def test_other_lookup_failures_are_not_hidden(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(400, {"errors": {"displayName": ["Bad."]}})]
    with pytest.raises(Invalid):
        PointProvider(offline).find_requests(display_name="Falcon")


# --- Finding a workspace through documented reads -------------------------------------------------


@pytest.mark.parametrize("workload", [Workload.TEAM, Workload.GROUP, Workload.COMMUNITY])
def test_a_named_workspace_is_looked_up_by_name(
    offline: Connection, http: ScriptedSession, workload: Workload
) -> None:
    http.script = [
        answer(200, {"Id": "g1", "DisplayName": "PRJ - Falcon", "Mail": "prj-falcon@c.com"})
    ]
    found = PointProvider(offline).find_workspace(workload=workload, name="prj - falcon")
    assert found is not None
    assert (found.id, found.name, found.email) == ("g1", "PRJ - Falcon", "prj-falcon@c.com")
    assert http.sent[0].url == f"{BASE}/v1.0/groups/prj%20-%20falcon"


def test_a_named_workspace_that_does_not_exist_is_none(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(404, {"exceptionMessage": "Group with id Falcon not found."})]
    assert PointProvider(offline).find_workspace(workload=Workload.TEAM, name="Falcon") is None


def test_a_looser_match_by_point_is_not_our_workspace(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, {"id": "g2", "name": "Falcon Two"})]
    assert PointProvider(offline).find_workspace(workload=Workload.GROUP, name="Falcon") is None


def test_an_id_only_group_answer_is_the_named_workspace(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, {"id": "g1"})]
    found = PointProvider(offline).find_workspace(workload=Workload.GROUP, name="Falcon")
    assert found is not None and (found.id, found.name) == ("g1", "Falcon")


def test_a_group_answered_as_a_list_is_the_one_with_the_name(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(200, [{"id": "g2", "name": "Falcon Two"}, {"id": "g1", "name": "Falcon"}])
    ]
    found = PointProvider(offline).find_workspace(workload=Workload.GROUP, name="Falcon")
    assert found is not None and found.id == "g1"


def test_an_empty_name_finds_nothing_and_asks_nothing(
    offline: Connection, http: ScriptedSession
) -> None:
    provider = PointProvider(offline)
    assert provider.find_workspace(workload=Workload.TEAM, name=" ") is None
    assert provider.find_workspace(workload=Workload.SITE, name="", url_slug=" ") is None
    assert http.sent == []


def _sites(*slugs: str) -> list[dict[str, Any]]:
    return [
        {"id": s, "url": f"https://c.sharepoint.com/sites/{s}", "title": s.title()} for s in slugs
    ]


def test_a_site_is_found_by_its_exact_slug_through_search_and_pages(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(
            200,
            {
                "value": _sites("falcon-1", "falcon-team"),
                "@odata.nextLink": f"{BASE}/v1.0/sites?$skip=2",
            },
        ),
        answer(200, {"value": _sites("my-falcon", "Falcon")}),
    ]
    found = PointProvider(offline).find_workspace(
        workload=Workload.SITE, name="Falcon", url_slug="falcon"
    )
    assert found is not None and found.id == "Falcon"
    assert http.sent[0].kwargs["params"] == {"$top": 1000, "search": "falcon"}


def test_a_site_search_that_point_ignores_is_learnt_and_the_list_read_whole(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, _sites("hr", "finance", "legal"))]
    provider = PointProvider(offline)
    assert provider.find_workspace(workload=Workload.SITE, name="X", url_slug="falcon") is None
    http.script = [answer(200, _sites("hr", "falcon"))]
    found = provider.find_workspace(workload=Workload.SITE, name="X", url_slug="FALCON")
    assert found is not None and found.id == "falcon"
    assert http.sent[-1].kwargs["params"] == {"$top": 1000}  # no search sent any more


def test_a_site_without_a_slug_is_found_by_its_title(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, _sites("falcon-7"))]
    found = PointProvider(offline).find_workspace(workload=Workload.SITE, name="Falcon-7")
    assert found is not None and found.id == "falcon-7"


def test_finding_a_site_reads_no_more_than_the_bound(
    offline: Connection,
    http: ScriptedSession,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(provider_module, "MAX_SCAN_ITEMS", 3)
    http.script = [
        answer(200, {"value": _sites("a1", "a2"), "@odata.nextLink": f"{BASE}/v1.0/sites?p=2"}),
        answer(200, {"value": _sites("a3", "a4"), "@odata.nextLink": f"{BASE}/v1.0/sites?p=3"}),
    ]
    found = PointProvider(offline).find_workspace(workload=Workload.SITE, name="", url_slug="a4")
    assert found is None and len(http.sent) == 2
    assert "bound of 3 items" in caplog.text


# --- Search: honoured or done here ----------------------------------------------------------------


def _groups(*names: str) -> list[dict[str, Any]]:
    return [{"id": n.lower(), "name": n, "email": f"{n.lower()}@c.com"} for n in names]


def test_a_search_point_honours_is_one_page_from_point(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, {"value": _groups("Finance", "Fin Ops"), "@odata.count": 12})]
    page = PointProvider(offline).groups_page(top=2, search=" fin ")
    assert ([g.name for g in page.items], page.total, page.has_more) == (
        ["Finance", "Fin Ops"],
        12,
        True,
    )
    assert http.sent[0].kwargs["params"] == {"search": "fin", "$top": 2, "$skip": 0}


def test_a_search_point_ignores_is_done_here_over_every_page_and_remembered(
    offline: Connection, http: ScriptedSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    http.script = [
        # search ignored: page one of everything
        answer(
            200, {"value": _groups("Finance", "HR"), "@odata.nextLink": f"{BASE}/v1.0/groups?p=2"}
        ),
        # the whole list, read here (without search)
        answer(
            200, {"value": _groups("Finance", "HR"), "@odata.nextLink": f"{BASE}/v1.0/groups?p=2"}
        ),
        answer(200, {"value": _groups("Legal", "Fin Ops", "Refinery")}),
    ]
    provider = PointProvider(offline)
    page = provider.groups_page(top=2, search="FIN", group_type="UnifiedGroup")
    assert ([g.name for g in page.items], page.total, page.has_more) == (
        ["Finance", "Fin Ops"],
        3,
        True,
    )
    assert http.sent[1].kwargs["params"] == {"groupType": "UnifiedGroup", "$top": 1000}
    assert "ignores search on /groups" in caplog.text
    # Remembered for this Point: the next search (and its next page) reads locally at once.
    http.script = [answer(200, {"value": _groups("Finance", "HR", "Fin Ops", "Refinery")})]
    second = provider.groups_page(top=2, skip=2, search="fin")
    assert ([g.name for g in second.items], second.total, second.has_more) == (
        ["Refinery"],
        3,
        False,
    )
    assert "search" not in http.sent[-1].kwargs["params"]


def test_what_was_learnt_is_per_point(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(200, _groups("Finance", "HR"))]
    PointProvider(offline).groups_page(top=5, search="fin")
    other = replace(offline, base_url="https://other.example/tenant")
    http.script = [answer(200, _groups("Finance"))]
    PointProvider(other).groups_page(top=5, search="fin")
    assert http.sent[-1].kwargs["params"]["search"] == "fin"
    http.script = [answer(200, _groups("Finance"))]
    PointProvider(offline).sites_page(top=5, search="fin")  # another list of the same Point
    assert http.sent[-1].kwargs["params"]["search"] == "fin"


def test_a_search_done_here_stops_at_the_bound(
    offline: Connection, http: ScriptedSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provider_module, "MAX_SCAN_ITEMS", 4)
    everything = _groups("Fa", "Fb", "Fc", "Fd", "Fe", "Ff")
    http.script = [
        answer(200, {"value": _groups("Fa", "X"), "@odata.nextLink": f"{BASE}/v1.0/groups?p=2"}),
        answer(200, {"value": everything, "@odata.nextLink": f"{BASE}/v1.0/groups?p=2"}),
    ]
    page = PointProvider(offline).groups_page(top=2, search="f")
    # Four items read, all matching: a page, but no total, and more may follow.
    assert ([g.name for g in page.items], page.total, page.has_more) == (["Fa", "Fb"], None, True)
    assert len(http.sent) == 2


def test_site_search_point_ignores_is_filtered_here(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, _sites("hr", "legal")), answer(200, _sites("hr", "legal", "falcon"))]
    provider = PointProvider(offline)
    assert [s.id for s in provider.find_sites("fal", limit=5)] == ["falcon"]
    http.script = [answer(200, _sites("hr", "legal", "falcon"))]
    page = provider.sites_page(top=5, search="LEG")
    assert ([s.id for s in page.items], page.total) == (["legal"], 1)


def test_an_empty_search_is_no_search(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(200, {"value": _groups("A", "B")})]
    assert len(PointProvider(offline).groups_page(top=5, search="  ").items) == 2
    assert "search" not in http.sent[0].kwargs["params"]


# --- Paging whatever Point does with $top and $skip -----------------------------------------------


def test_a_page_from_a_point_that_ignores_top_is_sliced_here(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, {"items": _groups("A", "B", "C", "D"), "total": 4})]
    page = PointProvider(offline).groups_page(top=2, skip=2)
    assert ([g.name for g in page.items], page.total, page.has_more) == (["C", "D"], 4, False)


def test_skip_carried_in_the_next_link_needs_no_probe(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(
            200,
            {
                "value": _groups("C", "D"),
                "@odata.nextLink": f"{BASE}/v1.0/groups?%24top=2&%24skip=4",
            },
        )
    ]
    page = PointProvider(offline).groups_page(top=2, skip=2)
    assert [g.name for g in page.items] == ["C", "D"] and len(http.sent) == 1


def test_a_next_link_that_only_repeats_our_skip_proves_nothing(
    offline: Connection, http: ScriptedSession
) -> None:
    # Graph-like: the link copies our query ($skip=2 included) and adds its own token.
    link = f"{BASE}/v1.0/groups?%24top=2&%24skip=2&%24skiptoken=abc"
    http.script = [
        answer(200, {"value": _groups("A", "B"), "@odata.nextLink": link}),  # $skip ignored
        answer(200, {"value": _groups("A")}),  # the first item, to compare
        answer(200, {"value": _groups("A", "B"), "@odata.nextLink": link}),
        answer(200, {"value": _groups("C", "D")}),
    ]
    page = PointProvider(offline).groups_page(top=2, skip=2)
    assert ([g.name for g in page.items], page.total, page.has_more) == (["C", "D"], 4, False)


def test_skip_honoured_is_probed_once_and_remembered(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(200, {"Items": _groups("C"), "TotalCount": 3}),  # the last page: no link
        answer(200, {"Items": _groups("A"), "TotalCount": 3}),  # the list's first item
    ]
    provider = PointProvider(offline)
    page = provider.groups_page(top=2, skip=2)
    assert ([g.name for g in page.items], page.total, page.has_more) == (["C"], 3, False)
    http.script = [answer(200, {"Items": _groups("B", "C"), "TotalCount": 3})]
    assert [g.name for g in provider.groups_page(top=2, skip=1).items] == ["B", "C"]
    assert len(http.sent) == 3


# --- Reports and least privilege ------------------------------------------------------------------


def test_the_user_access_report_asks_point_async_requests_as_seed_000_says(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(403)]
    with pytest.raises(PermissionMissing) as caught:
        PointProvider(offline).start_report(ReportKind.USER_ACCESS, "adele@contoso.com")
    assert caught.value.permission == ASYNC_REQUESTS
    assert "Grant admin consent" in caught.value.guidance
    assert SHAREPOINT_READ_ALL in caught.value.guidance


def test_other_reports_keep_their_permission_and_guidance(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(403)]
    with pytest.raises(PermissionMissing) as caught:
        PointProvider(offline).start_report(ReportKind.SITE_PERMISSIONS, "https://c/sites/a")
    assert caught.value.permission == SHAREPOINT_READ_ALL
    assert "Seed 000" not in caught.value.guidance


def test_needed_for_says_what_each_missing_permission_switches_off(offline: Connection) -> None:
    needed = {p.name: p.needed_for for p in PointProvider(offline).permissions()}
    assert "user access report" in needed[ASYNC_REQUESTS]
    assert "SharePoint.Read.All" in needed[ASYNC_REQUESTS]  # newer docs, said
    assert "sites list" in needed[SHAREPOINT_READ_ALL]
    assert "site permissions report" in needed[SHAREPOINT_READ_ALL]
    assert "availability" in needed[SHAREPOINT_READ_ALL]
    assert "availability" in needed[ASYNC_REQUESTS]
    assert "webhooks only" in needed["Point.Admin"]


def test_a_report_start_named_only_by_its_location(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(202, headers={"Location": "/v1.0/requests/j7/status"})]
    assert PointProvider(offline).start_report(ReportKind.GROUP_MEMBERSHIPS).id == "j7"


def test_a_report_start_that_names_no_job_is_an_error(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(202, {"status": "InProgress"})]
    with pytest.raises(UpstreamError, match="did not say which"):
        PointProvider(offline).start_report(ReportKind.GROUP_MEMBERSHIPS)


def test_a_result_that_is_one_grouped_object_gives_its_rows(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(
            200,
            {
                "groupId": "g1",
                "groupName": "Finance",
                "members": [
                    {
                        "displayName": "Alice",
                        "email": "a@c.com",
                        "role": "Owner",
                        "userType": "Member",
                    },
                    {
                        "displayName": "Bob",
                        "email": "b@x.com",
                        "role": "Member",
                        "userType": "Guest",
                    },
                ],
            },
        )
    ]
    rows = list(PointProvider(offline).report_rows(ReportKind.GROUP_MEMBERSHIPS, "j1"))
    assert [(r.group_id, r.name, r.kind, r.role) for r in rows] == [
        ("g1", "Alice", "user", "owner"),
        ("g1", "Bob", "guest", "member"),
    ]


# --- Transport: lists without links, empty answers ------------------------------------------------


def test_a_page_with_a_total_but_no_link_is_followed_by_skip(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(200, {"items": [{"id": 1}, {"id": 2}], "total": 3}),
        answer(200, {"items": [{"id": 3}], "total": 3}),
    ]
    items = list(transport.iter_pages(offline, "/v1.0/groups", permission="g", params={"$top": 2}))
    assert [i["id"] for i in items] == [1, 2, 3]
    assert http.sent[1].kwargs["params"] == {"$top": 2, "$skip": 2}


def test_following_by_skip_stops_when_point_ignores_it(
    offline: Connection, http: ScriptedSession, caplog: pytest.LogCaptureFixture
) -> None:
    http.script = [
        answer(200, {"items": [{"id": 1}, {"id": 2}], "total": 3}),
        answer(200, {"items": [{"id": 1}, {"id": 2}], "total": 3}),
    ]
    items = list(transport.iter_pages(offline, "/v1.0/groups", permission="g"))
    assert [i["id"] for i in items] == [1, 2]
    assert "$skip ignored" in caplog.text


def test_no_content_is_an_empty_list(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(204)]
    assert list(transport.iter_pages(offline, "/v1.0/groups", permission="g")) == []


def test_an_unreadable_2xx_to_a_write_is_handed_back_not_raised(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(201, raw=b"r-77 created", headers={"Location": "/x/r-77"})]
    found = transport.call(
        offline, "POST", "/v1.0/provision/teams", permission="p", body={}, safe_to_repeat=False
    )
    assert (found.status, found.data, found.unreadable, found.text) == (
        201,
        None,
        True,
        "r-77 created",
    )
    assert found.headers["location"] == "/x/r-77"
