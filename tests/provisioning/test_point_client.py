from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pytest_django.fixtures import Settings

from provisioning import point
from tenants import tokens
from tenants.models import Tenant
from tests.provisioning.lifecycle import quick_point_client

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

PATH = "/point/contoso/v1.0"


@pytest.fixture(autouse=True)
def fast_client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Small timeouts and recorded (not slept) back-off waits."""
    tokens.forget()
    yield quick_point_client(settings, monkeypatch, max_retries=3, backoff_ms=100)
    tokens.forget()


def test_templates_come_back_typed(live_tenant_a: Tenant) -> None:
    templates = point.list_templates(live_tenant_a)
    assert len(templates) == 10
    first = templates[0]
    assert (first.id, first.name, first.workspace_type) == (
        "1",
        "Manage a project",
        "MicrosoftTeams",
    )
    assert first.is_automatic is True


def test_it_retries_after_429_honouring_retry_after(
    live_tenant_a: Tenant, emulator: RunningEmulator, fast_client: list[float]
) -> None:
    emulator.control(
        "throttle", method="GET", path=f"{PATH}/provision/templates", count=2, retry_after=7
    )
    assert len(point.list_templates(live_tenant_a)) == 10
    assert len(fast_client) == 2
    assert all(wait >= 7 for wait in fast_client)


def test_retry_after_as_an_http_date_is_understood() -> None:
    class Answer:
        headers = {"Retry-After": email.utils.formatdate(time.time() + 60, usegmt=True)}

    wait = point._retry_after(Answer())  # type: ignore[arg-type]
    assert wait is not None and 55 <= wait <= 60


def test_throttling_beyond_the_budget_raises_throttled(
    live_tenant_a: Tenant, emulator: RunningEmulator, settings: Settings
) -> None:
    settings.POINT_RETRY_BUDGET = 10
    emulator.control(
        "throttle", method="GET", path=f"{PATH}/provision/templates", count=1, retry_after=60
    )
    with pytest.raises(point.Throttled) as caught:
        point.list_templates(live_tenant_a)
    assert caught.value.retryable and caught.value.retry_after == 60


def test_a_5xx_is_retried_with_growing_back_off(
    live_tenant_a: Tenant, emulator: RunningEmulator, fast_client: list[float]
) -> None:
    emulator.control(
        "faults", method="GET", path=f"{PATH}/provision/templates", kind="503", count=2
    )
    assert len(point.list_templates(live_tenant_a)) == 10
    assert len(fast_client) == 2
    assert fast_client[1] > fast_client[0] * 0.9  # full delay doubles; jitter keeps the half


def test_a_persistent_5xx_gives_up_with_a_clear_error(
    live_tenant_a: Tenant, emulator: RunningEmulator, fast_client: list[float]
) -> None:
    emulator.control(
        "faults", method="GET", path=f"{PATH}/provision/templates", kind="500", count=10
    )
    with pytest.raises(point.Unavailable) as caught:
        point.list_templates(live_tenant_a)
    assert "answered 500" in str(caught.value) and "4 times" in str(caught.value)
    assert caught.value.retryable
    assert len(fast_client) == 3


def test_a_hang_is_cut_by_the_timeout(
    live_tenant_a: Tenant, emulator: RunningEmulator, settings: Settings
) -> None:
    settings.POINT_READ_TIMEOUT = 0.3
    settings.POINT_MAX_RETRIES = 0
    emulator.control(
        "faults", method="GET", path=f"{PATH}/provision/templates", kind="hang", seconds=2
    )
    with pytest.raises(point.Unavailable, match="timed out"):
        point.list_templates(live_tenant_a)


def test_a_reset_get_is_retried(live_tenant_a: Tenant, emulator: RunningEmulator) -> None:
    emulator.control("faults", method="GET", path=f"{PATH}/provision/templates", kind="reset")
    assert len(point.list_templates(live_tenant_a)) == 10


def test_malformed_json_is_retried_on_a_get(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control("faults", method="GET", path=f"{PATH}/provision/templates", kind="malformed")
    assert len(point.list_templates(live_tenant_a)) == 10


def _falcon() -> point.NewWorkspace:
    return point.NewWorkspace(
        template_id=3, display_name="Falcon", owners=["adele.vance@contoso.onmicrosoft.com"]
    )


def test_a_provisioning_post_is_never_repeated_when_its_outcome_is_unknown(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control("faults", method="POST", path=f"{PATH}/provision/teams", kind="reset_after")
    with pytest.raises(point.OutcomeUnknown) as caught:
        point.provision(live_tenant_a, "teams", _falcon())
    assert not caught.value.retryable
    found = point.find_provision_requests(live_tenant_a, display_name="Falcon")
    assert len(found) == 1  # created once; the caller finds it instead of posting again


def test_a_provisioning_post_answered_503_is_not_repeated(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control("faults", method="POST", path=f"{PATH}/provision/teams", kind="503")
    with pytest.raises(point.OutcomeUnknown):
        point.provision(live_tenant_a, "teams", _falcon())


def test_provisioning_returns_the_request_and_its_status(live_tenant_a: Tenant) -> None:
    created = point.provision(live_tenant_a, "teams", _falcon())
    assert created.id and created.display_name == "Falcon"
    again = point.get_provision_request(live_tenant_a, created.id)
    assert again.id == created.id and again.status in ("Approved", "InProgress", "Completed")


def test_validation_errors_name_the_field(live_tenant_a: Tenant) -> None:
    with pytest.raises(point.ValidationFailed) as caught:
        point.provision(
            live_tenant_a, "teams", point.NewWorkspace(template_id=3, display_name="", owners=[])
        )
    assert "displayName" in caught.value.errors or "owners" in caught.value.errors
    assert not caught.value.retryable


def test_a_missing_permission_is_named(live_tenant_a: Tenant, emulator: RunningEmulator) -> None:
    emulator.control(
        "permissions", client_id=str(live_tenant_a.client_id), revoke=["Point.Admin"], grant=[]
    )
    with pytest.raises(point.PermissionMissing) as caught:
        point.get_options(live_tenant_a)
    assert caught.value.permission == "Point.Admin"
    assert "grant admin consent" in caught.value.guidance


def test_an_unknown_group_is_not_found(live_tenant_a: Tenant) -> None:
    with pytest.raises(point.NotFound, match="not found"):
        point.get_group(live_tenant_a, "No such group")


def test_paging_follows_every_next_link(live_tenant_a: Tenant) -> None:
    groups = list(point.iter_groups(live_tenant_a, page_size=50))
    assert len(groups) == 301
    assert len({g.id for g in groups}) == 301
    assert point.get_group(live_tenant_a, groups[0].name).id == groups[0].id


def test_a_next_link_to_another_host_is_refused(live_tenant_a: Tenant) -> None:
    with pytest.raises(point.PointError, match="another host"):
        point._call(
            live_tenant_a, "GET", "https://evil.example/v1.0/groups", permission=point.ADMIN
        )


def test_an_async_report_is_followed_to_its_rows(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control("timing", job=0)
    group = next(
        g for g in point.iter_groups(live_tenant_a, group_type="UnifiedGroup") if g.members_count
    )
    job = point.start_group_memberships(live_tenant_a, [group.id])
    status = point.get_job(live_tenant_a, job.id)
    assert status.result_ready and status.status == "Succeeded"
    rows = list(point.iter_job_result(live_tenant_a, job.id))
    assert rows and {row["groupId"] for row in rows} == {group.id}


def test_webhooks_can_be_registered_listed_and_removed(live_tenant_a: Tenant) -> None:
    url = "https://portal.example/webhooks/point/contoso"
    point.register_webhook(live_tenant_a, url)
    assert [w.endpoint for w in point.list_webhooks(live_tenant_a)] == [url]
    point.delete_webhook(live_tenant_a, url)
    assert point.list_webhooks(live_tenant_a) == []
    with pytest.raises(point.NotFound):
        point.delete_webhook(live_tenant_a, url)


def test_options_keep_the_signing_key_out_of_repr(live_tenant_a: Tenant) -> None:
    options = point.get_options(live_tenant_a)
    assert len(options.webhook_signing_key) >= 32
    assert options.webhook_signing_key not in repr(options)


def test_a_token_failure_is_an_authentication_error_with_guidance(live_tenant_a: Tenant) -> None:
    live_tenant_a.set_client_secret("Wrong8Q~nope")
    live_tenant_a.save()
    with pytest.raises(point.AuthenticationError) as caught:
        point.list_templates(live_tenant_a)
    assert isinstance(caught.value.token_error, tokens.InvalidClientSecret)
    assert "Certificates & secrets" in caught.value.guidance


def test_a_rejected_token_is_renewed_once(live_tenant_a: Tenant, emulator: RunningEmulator) -> None:
    token = tokens.get_token(live_tenant_a)
    # A token the shared store believes in but Point no longer accepts (e.g. signed by old keys).
    tokens._memory[live_tenant_a.pk] = (
        tokens.credential_fingerprint(live_tenant_a),
        tokens.AccessToken("not.a.token", token.expires_at),
    )
    assert len(point.list_templates(live_tenant_a)) == 10


def test_no_token_or_secret_in_logs_or_errors(
    live_tenant_a: Tenant, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.control("faults", method="GET", path=f"{PATH}/provision/templates", kind="503")
    point.list_templates(live_tenant_a)
    emulator.control(
        "faults", method="GET", path=f"{PATH}/provision/templates", kind="500", count=10
    )
    with pytest.raises(point.Unavailable) as caught:
        point.list_templates(live_tenant_a)
    token = tokens.get_token(live_tenant_a).value
    secret = live_tenant_a.get_client_secret()
    for text in (caplog.text, str(caught.value)):
        assert token not in text and secret not in text
