"""What a requester reads when a request ends: plain words first, the upstream's own message
folded away for IT, Retry only where it can succeed, no stale banner, times with their zone."""

from __future__ import annotations

import pytest

from portal.models import User
from provisioning.models import FailureKind, ProvisioningRequest, Template
from provisioning.states import State
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_request

RAW = "System.Exception: Value cannot be null. (Parameter 'siteUrl')"


def failed(template: Template, user: User, kind: str) -> ProvisioningRequest:
    return make_request(
        template,
        user,
        state=State.FAILED,
        failure_kind=kind,
        error_message=RAW,
        correlation_id="c0ffee",
    )


def test_a_failure_reads_in_plain_words_with_the_exception_folded_away(
    project_template: Template, requester_a: User
) -> None:
    item = failed(project_template, requester_a, FailureKind.UPSTREAM)
    page = client_for(requester_a).get(f"/requests/{item.pk}/").content.decode()
    assert "could not create the workspace, so nothing was created" in page
    assert '<details class="technical">' in page  # folded for the requester
    assert "Technical details for IT" in page and "c0ffee" in page
    assert ">Retry</button>" in page


def test_it_staff_see_the_technical_details_open(
    project_template: Template, requester_a: User, it_staff: User
) -> None:
    item = failed(project_template, requester_a, FailureKind.UPSTREAM)
    page = client_for(it_staff).get(f"/requests/{item.pk}/").content.decode()
    assert '<details class="technical" open>' in page


@pytest.mark.parametrize(
    ("kind", "requester_retries", "staff_retries"),
    [
        (FailureKind.UPSTREAM, True, True),
        (FailureKind.NOT_RECEIVED, True, True),
        (FailureKind.REFUSED, False, True),  # IT fixes the permission first
        (FailureKind.INVALID, False, False),  # the same request fails again: fix it instead
    ],
)
def test_retry_is_offered_only_where_it_can_succeed(
    project_template: Template,
    requester_a: User,
    it_staff: User,
    kind: str,
    requester_retries: bool,
    staff_retries: bool,
) -> None:
    item = failed(project_template, requester_a, kind)
    for user, expected in ((requester_a, requester_retries), (it_staff, staff_retries)):
        page = client_for(user).get(f"/requests/{item.pk}/").content.decode()
        assert (">Retry</button>" in page) is expected, (kind, user)


def test_the_live_update_of_a_finished_request_clears_the_stale_banners(
    project_template: Template, requester_a: User
) -> None:
    client = client_for(requester_a)
    live = make_request(project_template, requester_a, state=State.IN_PROGRESS, upstream_id="x")
    headers = {"HX-Request": "true"}
    ProvisioningRequest.objects.filter(pk=live.pk).update(next_poll_at=None)
    item = failed(project_template, requester_a, FailureKind.UPSTREAM)
    done = client.get(f"/requests/{item.pk}/status", headers=headers).content.decode()
    assert 'id="messages"' in done and 'hx-swap-oob="true"' in done
    ProvisioningRequest.objects.filter(pk=live.pk).update(next_poll_at="2999-01-01T00:00:00Z")
    running = client.get(f"/requests/{live.pk}/status", headers=headers).content.decode()
    assert 'id="messages"' not in running


def test_times_on_a_request_page_carry_their_zone(
    project_template: Template, requester_a: User
) -> None:
    item = failed(project_template, requester_a, FailureKind.UPSTREAM)
    page = client_for(requester_a).get(f"/requests/{item.pk}/").content.decode()
    assert f"{item.created_at:%Y-%m-%d %H:%M} UTC" in page
