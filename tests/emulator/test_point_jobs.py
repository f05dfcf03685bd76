"""Point's async "generate" requests: 202, status with progress, 302 to the result, failures."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.emulator import test_point_support as support
from tests.emulator.test_point_support import CONTOSO, Point, user

# Fixtures shared by the Point tests.
fast, contoso = support.fast, support.contoso

REQUESTER = user(CONTOSO, "Portal.Requester")
GUEST = user(CONTOSO, guest=True)


def start(point: Point, path: str, body: Any) -> requests.Response:
    answer = point.post(path, body)
    assert answer.status_code == 202, answer.text
    return answer


def result_pages(point: Point, url: str, top: int = 1000) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = point.get(url, params={"$top": top}).json()
    while True:
        assert len(page["value"]) <= 1000
        rows += page["value"]
        if "@odata.nextLink" not in page:
            return rows
        page = point.get(page["@odata.nextLink"]).json()


@pytest.mark.parametrize(
    ("path", "body", "row_keys"),
    [
        (
            "/groups/memberships",
            {},
            {"groupId", "groupName", "email", "displayName", "memberType", "role"},
        ),
        (
            "/sites/permissions/generate",
            {},
            {"siteUrl", "principalName", "principalType", "permissionLevel"},
        ),
        (
            "/users/access/generate",
            {"user": REQUESTER},
            {"workspaceName", "url", "workspaceType", "permission"},
        ),
    ],
)
def test_a_job_answers_202_then_progress_then_302_to_its_result(
    contoso: Point, path: str, body: dict[str, Any], row_keys: set[str]
) -> None:
    contoso.emulator.control("timing", job=0.6)
    started = start(contoso, path, body)
    status = started.json()
    assert status["status"] == "InProgress"
    location = started.headers["Location"]
    assert location == f"/point/contoso/v1.0/requests/{status['id']}/status"
    polled = contoso.get(location, allow_redirects=False)
    assert polled.status_code == 200
    assert polled.json()["status"] == "InProgress"
    assert set(polled.json()["progress"]) == {"processedItems", "totalItems"}
    done = contoso.wait_job(location)
    assert done.status_code == 302
    assert done.headers["Location"] == f"/point/contoso/v1.0/requests/{status['id']}/result"
    assert done.json()["status"] == "Succeeded"
    assert "progress" not in done.json()
    report = contoso.get(done.headers["Location"]).json()
    assert report["value"]
    assert row_keys <= set(report["value"][0])


def test_the_result_is_not_ready_before_the_job_succeeds(contoso: Point) -> None:
    contoso.emulator.control("timing", job=5)
    started = start(contoso, "/sites/permissions/generate", {})
    result = contoso.get(f"/requests/{started.json()['id']}/result")
    assert result.status_code == 409
    assert "has not completed" in result.json()["exceptionMessage"]


def test_a_memberships_report_pages_through_all_10000_members_of_all_company(
    contoso: Point,
) -> None:
    group = contoso.get("/groups/All Company").json()
    started = start(contoso, "/groups/memberships", {"groupIds": [group["id"]]})
    done = contoso.wait_job(started.headers["Location"])
    rows = result_pages(contoso, done.headers["Location"])
    members = [r for r in rows if r["role"] == "Member"]
    assert len(members) == 10_000
    assert len({r["email"] for r in members}) == 10_000
    assert {r["groupName"] for r in rows} == {"All Company"}
    assert len(rows) == 10_000 + group["ownersCount"]


def test_a_full_memberships_report_has_guests_nested_groups_and_the_big_group(
    contoso: Point,
) -> None:
    done = contoso.wait_job(start(contoso, "/groups/memberships", None).headers["Location"])
    first = contoso.get(done.headers["Location"], params={"$top": 1}).json()
    assert first["@odata.count"] > 10_000
    rows = result_pages(contoso, done.headers["Location"])
    assert {r["memberType"] for r in rows} == {"User", "Guest", "Group"}
    assert {r["role"] for r in rows} == {"Owner", "Member"}
    assert (
        sum(1 for r in rows if r["groupName"] == "All Company" and r["role"] == "Member") == 10_000
    )


def test_a_user_access_report_lists_workspaces_and_onedrive(contoso: Point) -> None:
    done = contoso.wait_job(
        start(contoso, "/users/access/generate", {"userPrincipalName": REQUESTER}).headers[
            "Location"
        ]
    )
    rows = contoso.get(done.headers["Location"]).json()["value"]
    kinds = {r["workspaceType"] for r in rows}
    assert "OneDrive" in kinds
    assert any(
        r["workspaceName"] == "All Company" and r["permission"] in ("Owner", "Member") for r in rows
    )


def test_a_site_permissions_report_covers_the_requested_sites_only(contoso: Point) -> None:
    sites = contoso.get("/sites", params={"$top": 2}).json()["value"]
    urls = [s["url"] for s in sites]
    done = contoso.wait_job(
        start(contoso, "/sites/permissions/generate", {"siteUrls": urls}).headers["Location"]
    )
    rows = contoso.get(done.headers["Location"]).json()["value"]
    assert {r["siteUrl"] for r in rows} == set(urls)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/groups/memberships", {"groupIds": ["00000000-0000-0000-0000-000000000000"]}, "groupIds"),
        ("/groups/memberships", {"groupIds": "all"}, "groupIds"),
        (
            "/sites/permissions/generate",
            {"siteUrls": ["https://contoso.sharepoint.com/sites/nope"]},
            "siteUrls",
        ),
        ("/users/access/generate", {}, "user"),
        ("/users/access/generate", {"user": "nobody@contoso.onmicrosoft.com"}, "user"),
    ],
)
def test_a_job_with_bad_input_is_a_validation_error(
    contoso: Point, path: str, body: dict[str, Any], field: str
) -> None:
    answer = contoso.post(path, body)
    assert answer.status_code == 400
    assert field in answer.json()["errors"]


def test_a_failed_job_reports_failed_with_an_error(contoso: Point) -> None:
    contoso.emulator.control(
        "jobs/fail-next", tenant="contoso", message="Report generation failed."
    )
    started = start(contoso, "/users/access/generate", {"user": GUEST})
    done = contoso.wait_job(started.headers["Location"])
    assert done.status_code == 200
    assert done.json()["status"] == "Failed"
    assert done.json()["error"] == "Report generation failed."
    assert contoso.get(f"/requests/{started.json()['id']}/result").status_code == 409
    # The next job is fine again.
    again = contoso.wait_job(
        start(contoso, "/users/access/generate", {"user": GUEST}).headers["Location"]
    )
    assert again.status_code == 302


def test_an_unknown_job_is_404(contoso: Point) -> None:
    answer = contoso.get("/requests/0b7a3c52-9d7e-4a57-8d2b-1f0e5c7d9a11/status")
    assert answer.status_code == 404
    assert answer.json()["exceptionType"].endswith("ResourceMissingException")
