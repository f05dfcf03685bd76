"""A table of answers Point may give to the provisioning POST, each sent through the real Point
client into the request flow: a 2xx is never Failed and the POST is never sent twice.

The HTTP session is scripted (tests/upstreams/conftest.py), so the answers are exactly these
bytes; the request is a real one, submitted through the service and sent by its task.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest
from provisioning.payload import RequestData
from provisioning.states import State
from tenants import upstream
from tenants.models import Tenant
from tests.provisioning.lifecycle import make_due, poll
from tests.provisioning.ui_fixtures import make_template
from tests.upstreams.conftest import ScriptedSession, answer
from upstreams.point import transport

pytestmark = pytest.mark.django_db
Capture = DjangoCaptureOnCommitCallbacks

LOCATION = "/point/contoso/v1.0/provision/requests/r-loc"
NOT_THERE = answer(404, {"message": "An error has occurred.", "exceptionMessage": "Not found."})


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> ScriptedSession:
    session = ScriptedSession()
    monkeypatch.setattr(transport, "_session", session)
    monkeypatch.setattr(upstream.TenantTokens, "token", lambda self, fresh=False: "t0ken")
    return session


def _submit(capture: Capture, tenant: Tenant, user: User) -> ProvisioningRequest:
    template = make_template(tenant, 11)  # a Microsoft 365 group, approved automatically
    data = RequestData(display_name="Falcon", owners=[user.email])
    with capture(execute=True):
        item = services.request_submit(
            tenant=tenant, template=template, requested_by=user, data=data
        )
    item.refresh_from_db()
    return item


def _posts(http: ScriptedSession) -> int:
    return sum(1 for sent in http.sent if sent.method == "POST")


@pytest.mark.parametrize(
    ("reply", "state", "upstream_id"),
    [
        pytest.param(
            answer(201, headers={"Location": LOCATION}), State.APPROVED, "r-loc", id="201-location"
        ),
        pytest.param(answer(202, {"id": "r1"}), State.APPROVED, "r1", id="202-only-an-id"),
        pytest.param(answer(202, "3f2c-0001"), State.APPROVED, "3f2c-0001", id="bare-string"),
        pytest.param(answer(201, 42), State.APPROVED, "42", id="bare-number"),
        pytest.param(
            answer(200, {"id": "r1", "status": "InProgress", "displayName": "GRP - Falcon"}),
            State.IN_PROGRESS,
            "r1",
            id="200-full-object",
        ),
        pytest.param(
            answer(200, {"Id": "r1", "Status": 0}), State.WAITING_APPROVAL, "r1", id="pascal-enum"
        ),
        pytest.param(
            answer(201, raw=b'{"id": "r1", "sta', headers={"Location": LOCATION}),
            State.APPROVED,
            "r-loc",
            id="cut-body-location",
        ),
        pytest.param(answer(200, raw=b"<html>OK</html>"), State.CONFIRMING, "", id="html-body"),
        pytest.param(answer(204), State.CONFIRMING, "", id="204-nothing"),
    ],
)
def test_a_2xx_to_the_send_is_never_failed_and_never_posted_twice(
    http: ScriptedSession,
    tenant_a: Tenant,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    reply: requests.Response,
    state: State,
    upstream_id: str,
) -> None:
    http.script = [reply]
    item = _submit(django_capture_on_commit_callbacks, tenant_a, requester_a)
    assert (item.state, item.upstream_id) == (state, upstream_id), item.error_message
    # A round of the poller: an accepted request without an id is looked for, never re-sent.
    later: list[Any] = [NOT_THERE, NOT_THERE]  # the request lookup, the group by its name
    if upstream_id:
        later = [answer(200, {"id": upstream_id, "status": "InProgress"})]
    http.script = later
    make_due(item)
    poll(django_capture_on_commit_callbacks)
    item.refresh_from_db()
    assert item.state != State.FAILED
    assert _posts(http) == 1
