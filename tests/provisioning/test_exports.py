"""CSV export of "All requests": the filtered rows, streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest

from portal.models import User
from provisioning.models import Template
from provisioning.states import State
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_request

pytestmark = pytest.mark.django_db


def read(response: object) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(body)))


def test_it_streams_the_filtered_requests(
    project_template: Template,
    fabrikam_template: Template,
    requester_a: User,
    it_staff: User,
    it_staff_other: User,
) -> None:
    make_request(
        project_template, requester_a, name="Done", state=State.COMPLETED, upstream_id="77"
    )
    make_request(project_template, requester_a, name="Failed", state=State.FAILED)
    make_request(fabrikam_template, it_staff_other, name="Elsewhere", state=State.COMPLETED)
    response = client_for(it_staff).get("/requests/all/export.csv", {"state": "completed"})
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read(response)
    assert rows[0][:4] == ["id", "created", "tenant", "workload"]
    assert [r[5] for r in rows[1:]] == ["Done"]
    assert rows[1][7] == "Completed" and rows[1][10] == "77"


def test_cells_that_look_like_formulas_are_defused(
    project_template: Template, requester_a: User, it_staff: User
) -> None:
    make_request(project_template, requester_a, name='=HYPERLINK("http://x")')
    make_request(project_template, requester_a, name="+1", error_message="@SUM(A1)")
    rows = read(client_for(it_staff).get("/requests/all/export.csv"))
    names = {r[5] for r in rows[1:]}
    assert names == {'\'=HYPERLINK("http://x")', "'+1"}
    assert "'@SUM(A1)" in [r[13] for r in rows[1:]]


def test_requesters_cannot_export(requester_a: User) -> None:
    assert client_for(requester_a).get("/requests/all/export.csv").status_code == 403
