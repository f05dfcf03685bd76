"""The webhook receiver, matching and applying (docs/webhooks.md), offline: events signed here
with the tenant's stored key, as Point signs them (§6.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, RequestEvent, Template, WebhookDelivery
from provisioning.services import webhook_health
from provisioning.states import State
from tenants.models import Tenant, WebhookSubscription
from tests.provisioning.ui_fixtures import make_request, make_template

KEY_A = "158b08cc-6a06-49f2-a724-2bc514fdcf1e"
KEY_B = "0f7c2a4e-1d4b-4c8e-9a51-3f0b6c2d7e91"
TEAM = "MicrosoftTeams"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Rejection notes and key re-reads are rate-limited through the cache.
    cache.clear()
    webhook_health.forget()


@pytest.fixture(autouse=True)
def _no_key_reread(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """No upstream here: record the key re-reads the receiver asks for instead of running them."""
    asked: list[int] = []

    def refresh(tenant_id: int) -> bool:
        asked.append(tenant_id)
        return False

    monkeypatch.setattr("tenants.tasks.refresh_webhook_key", refresh)
    return asked


def subscribe(tenant: Tenant, key: str) -> WebhookSubscription:
    sub = WebhookSubscription(
        tenant=tenant,
        enabled=True,
        registered_url="https://portal.example/hooks/x",
        registered_at=timezone.now(),
        key_read_at=timezone.now(),
    )
    sub.set_signing_key(key)
    sub.save()
    return sub


@pytest.fixture
def sub_a(tenant_a: Tenant) -> WebhookSubscription:
    return subscribe(tenant_a, KEY_A)


def envelope(
    kind: str,
    name: str,
    *,
    workspace_type: str = TEAM,
    key: str | None = None,
    at: datetime | None = None,
    **content: Any,
) -> bytes:
    when = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    body = {
        "type": kind,
        "content": {"name": name, "type": workspace_type, **content},
        "meta": {"timeStamp": when, "idempotencyKey": key or str(uuid.uuid4())},
    }
    return json.dumps(body).encode()


def sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


_capture: list[Any] = []


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks: Any) -> Iterator[None]:
    """What the receiver queues on commit (the processing task, inline in tests) runs."""
    _capture.append(django_capture_on_commit_callbacks)
    yield
    _capture.clear()


def deliver(
    sub: WebhookSubscription, body: bytes, *, key: str | None = KEY_A, client: Client | None = None
) -> int:
    headers = {"Algorithm": "HMACSHA256"}
    if key is not None:
        headers["Signature"] = sign(body, key)
    path = f"/hooks/{sub.token}"
    if client is not None:  # a transactional test: on_commit runs at once
        return client.post(
            path, data=body, content_type="application/json", headers=headers
        ).status_code
    with _capture[0](execute=True):
        response = Client().post(path, data=body, content_type="application/json", headers=headers)
    return response.status_code


def in_flight(
    template: Template, user: User, name: str, *, state: str = State.IN_PROGRESS, **extra: Any
) -> ProvisioningRequest:
    item = make_request(
        template,
        user,
        state=state,
        name=name,
        upstream_id=extra.pop("upstream_id", uuid.uuid4().hex),
        **extra,
    )
    RequestEvent.objects.create(
        request=item, source=RequestEvent.Source.PORTAL, to_state=State.SUBMITTED
    )
    RequestEvent.objects.create(
        request=item, source=RequestEvent.Source.PORTAL, from_state=State.SENDING, to_state=state
    )
    return item


COMPLETED: dict[str, Any] = {
    "url": "https://contoso.sharepoint.com/sites/prj-apollo",
    "microsoftId": "g-1",
}


# --- The receiver ------------------------------------------------------------------------------


def test_a_forged_signature_is_refused_with_401_and_changes_nothing(
    sub_a: WebhookSubscription,
    project_template: Template,
    requester_a: User,
    _no_key_reread: list[int],
) -> None:
    item = in_flight(project_template, requester_a, "Apollo")
    body = envelope("ProvisioningCompleted", "PRJ - Apollo", **COMPLETED)
    assert deliver(sub_a, body, key="not-the-key") == 401
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    assert not WebhookDelivery.objects.filter(verdict=WebhookDelivery.Verdict.ACCEPTED).exists()
    rejected = WebhookDelivery.objects.get()
    assert rejected.verdict == WebhookDelivery.Verdict.BAD_SIGNATURE
    assert rejected.body == ""  # nothing unverified is kept
    assert _no_key_reread == [sub_a.tenant_id]  # the key may have been rotated upstream


def test_a_missing_signature_is_refused_with_401(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(project_template, requester_a, "Apollo")
    body = envelope("ProvisioningCompleted", "PRJ - Apollo", **COMPLETED)
    assert deliver(sub_a, body, key=None) == 401
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    assert WebhookDelivery.objects.get().verdict == WebhookDelivery.Verdict.NO_SIGNATURE


def test_rejections_are_noted_at_most_once_in_a_while(sub_a: WebhookSubscription) -> None:
    body = envelope("ProvisioningStarted", "PRJ - Apollo")
    for _ in range(20):
        assert deliver(sub_a, body, key="forged") == 401
    assert WebhookDelivery.objects.count() == 1


def test_a_body_over_the_limit_gets_413_unread(
    sub_a: WebhookSubscription, settings: Settings, project_template: Template, requester_a: User
) -> None:
    settings.WEBHOOK_MAX_BODY = 2048
    item = in_flight(project_template, requester_a, "Apollo")
    body = envelope("ProvisioningCompleted", "PRJ - Apollo", padding="x" * 4000, **COMPLETED)
    assert deliver(sub_a, body) == 413  # even correctly signed
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    assert WebhookDelivery.objects.get().verdict == WebhookDelivery.Verdict.TOO_LARGE


def test_an_event_signed_with_another_tenants_key_is_refused(
    sub_a: WebhookSubscription, tenant_b: Tenant, project_template: Template, requester_a: User
) -> None:
    sub_b = subscribe(tenant_b, KEY_B)
    item = in_flight(project_template, requester_a, "Apollo")
    body = envelope("ProvisioningCompleted", "PRJ - Apollo", **COMPLETED)
    assert deliver(sub_a, body, key=KEY_B) == 401
    # Tenant B's own receiver takes it, and finds no such request in tenant B.
    assert deliver(sub_b, body, key=KEY_B) == 200
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    assert WebhookDelivery.objects.get(tenant=tenant_b).outcome == "unmatched"


def test_an_unknown_receiver_or_webhooks_off_is_404(sub_a: WebhookSubscription) -> None:
    body = envelope("ProvisioningStarted", "PRJ - Apollo")
    response = Client().post(f"/hooks/{uuid.uuid4()}", data=body, content_type="application/json")
    assert response.status_code == 404
    WebhookSubscription.objects.filter(pk=sub_a.pk).update(enabled=False)
    assert deliver(sub_a, body) == 404
    assert not WebhookDelivery.objects.exists()


def test_the_receiver_only_takes_post(sub_a: WebhookSubscription) -> None:
    assert Client().get(f"/hooks/{sub_a.token}").status_code == 405


# --- Applying ----------------------------------------------------------------------------------


def test_a_completed_event_completes_the_request_through_the_pollers_function(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(project_template, requester_a, "Apollo")
    body = envelope("ProvisioningCompleted", "PRJ - Apollo", **COMPLETED)
    assert deliver(sub_a, body) == 200
    item.refresh_from_db()
    assert item.state == State.COMPLETED
    assert item.workspace_url == COMPLETED["url"]
    assert item.workspace_id == "g-1"
    last = item.events.last()
    assert last is not None and last.source == RequestEvent.Source.WEBHOOK
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "applied" and delivery.request == item
    sub_a.refresh_from_db()
    assert sub_a.last_event_at is not None


def test_a_replayed_idempotency_key_changes_nothing(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(project_template, requester_a, "Apollo", state=State.WAITING_APPROVAL)
    key = str(uuid.uuid4())
    started = envelope("ProvisioningStarted", "PRJ - Apollo", key=key)
    assert deliver(sub_a, started) == 200
    events = item.events.count()
    assert deliver(sub_a, started) == 200
    assert deliver(sub_a, started) == 200
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    assert item.events.count() == events
    delivery = WebhookDelivery.objects.get()
    assert delivery.copies == 3


def test_an_event_for_an_unknown_workspace_is_stored_and_says_why(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(project_template, requester_a, "Apollo")
    assert deliver(sub_a, envelope("ProvisioningCompleted", "PRJ - Zeus", **COMPLETED)) == 200
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.UNMATCHED
    assert delivery.request is None
    assert "PRJ - Zeus" in delivery.detail and "outside the portal" in delivery.detail


def test_an_event_matches_only_the_same_kind_of_workspace(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(project_template, requester_a, "Apollo")
    body = envelope("ProvisioningCompleted", "PRJ - Apollo", workspace_type="M365Group")
    assert deliver(sub_a, body) == 200
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.UNMATCHED


def test_two_in_flight_requests_with_the_same_name_are_never_applied_blindly(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User, requester_b: User
) -> None:
    first = in_flight(project_template, requester_a, "Apollo")
    second = in_flight(project_template, requester_b, "Apollo")
    assert deliver(sub_a, envelope("ProvisioningCompleted", "PRJ - Apollo", **COMPLETED)) == 200
    for item in (first, second):
        item.refresh_from_db()
        assert item.state == State.IN_PROGRESS
        assert item.next_poll_at is not None and item.next_poll_at <= timezone.now()
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.AMBIGUOUS
    assert f"#{first.pk}" in delivery.detail and f"#{second.pk}" in delivery.detail


def test_a_request_id_in_the_event_picks_one_of_two_of_the_same_name(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User, requester_b: User
) -> None:
    first = in_flight(project_template, requester_a, "Apollo", upstream_id="r-1")
    second = in_flight(project_template, requester_b, "Apollo", upstream_id="r-2")
    body = envelope("ProvisioningCompleted", "PRJ - Apollo", requestId="r-2", **COMPLETED)
    assert deliver(sub_a, body) == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (State.IN_PROGRESS, State.COMPLETED)


def test_an_event_from_before_the_current_attempt_is_not_applied(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(project_template, requester_a, "Apollo")
    old = timezone.now() - timedelta(hours=2)
    body = envelope("ProvisioningCompleted", "PRJ - Apollo", at=old, **COMPLETED)
    assert deliver(sub_a, body) == 200
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.STALE


def test_an_event_for_a_finished_request_says_it_is_already_finished(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(project_template, requester_a, "Apollo", state=State.COMPLETED)
    assert deliver(sub_a, envelope("ProvisioningCompleted", "PRJ - Apollo", **COMPLETED)) == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.NO_CHANGE
    assert delivery.request == item and "already Completed" in delivery.detail


def test_an_event_while_the_send_is_being_recorded_waits_for_it(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(project_template, requester_a, "Apollo", state=State.SENDING, upstream_id="")
    assert deliver(sub_a, envelope("ProvisioningStarted", "PRJ - Apollo")) == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.WAITING
    # The send's answer is recorded; the waiting event is applied after it.
    ProvisioningRequest.objects.filter(pk=item.pk).update(
        state=State.WAITING_APPROVAL, upstream_id="r-9"
    )
    services.resume_waiting(request_id=item.pk)
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    delivery.refresh_from_db()
    assert delivery.outcome == WebhookDelivery.Outcome.APPLIED


def test_an_unknown_event_type_is_kept_and_ignored(sub_a: WebhookSubscription) -> None:
    assert deliver(sub_a, envelope("ProvisioningArchived", "PRJ - Apollo")) == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.IGNORED
    assert "ProvisioningArchived" in delivery.detail


def test_a_signed_body_that_is_no_event_is_kept_and_answered_200(
    sub_a: WebhookSubscription,
) -> None:
    assert deliver(sub_a, b'{"hello": "world"}') == 200
    assert deliver(sub_a, b"not json at all") == 200
    verdicts = set(WebhookDelivery.objects.values_list("verdict", flat=True))
    assert verdicts == {WebhookDelivery.Verdict.MALFORMED}


# --- Unknown outcomes --------------------------------------------------------------------------


def test_a_completed_event_settles_a_request_whose_post_answer_was_lost(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(
        project_template,
        requester_a,
        "Apollo",
        state=State.CONFIRMING,
        upstream_id="",
        maybe_sent=True,
    )
    assert deliver(sub_a, envelope("ProvisioningCompleted", "PRJ - Apollo", **COMPLETED)) == 200
    item.refresh_from_db()
    assert item.state == State.COMPLETED
    assert item.workspace_url == COMPLETED["url"]
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.APPLIED
    # The send task finds nothing left to do: never a second POST.
    assert services.request_send(request_id=item.pk).outcome == "skipped"


def test_a_started_event_proves_a_lost_post_arrived_so_it_is_never_sent_again(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    item = in_flight(
        project_template,
        requester_a,
        "Apollo",
        state=State.CONFIRMING,
        upstream_id="",
        maybe_sent=True,
    )
    assert deliver(sub_a, envelope("ProvisioningStarted", "PRJ - Apollo")) == 200
    item.refresh_from_db()
    assert item.state == State.CONFIRMING
    assert item.accepted_at is not None  # arrived: a resend is off the table
    assert "did arrive" in item.events.last().detail  # type: ignore[union-attr]


# --- Concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_copies_of_one_event_make_one_change_and_one_event(
    tenant_a: Tenant, requester_a: User
) -> None:
    sub = subscribe(tenant_a, KEY_A)
    template = make_template(tenant_a, 1)
    item = in_flight(template, requester_a, "Apollo")
    events = item.events.count()
    body = envelope("ProvisioningCompleted", "PRJ - Apollo", **COMPLETED)
    start = threading.Barrier(50)
    codes: list[int] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            client = Client()
            start.wait(timeout=30)
            codes.append(deliver(sub, body, client=client))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert codes == [200] * 50
    item.refresh_from_db()
    assert item.state == State.COMPLETED
    assert item.events.count() == events + 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.copies == 50


# --- Polling as the fallback -------------------------------------------------------------------


def test_with_webhooks_trusted_in_flight_requests_are_polled_far_less_often(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User, settings: Settings
) -> None:
    item = in_flight(project_template, requester_a, "Apollo", state=State.WAITING_APPROVAL)
    assert deliver(sub_a, envelope("ProvisioningStarted", "PRJ - Apollo")) == 200
    item.refresh_from_db()
    assert item.state == State.IN_PROGRESS
    assert item.next_poll_at is not None
    wait = (item.next_poll_at - timezone.now()).total_seconds()
    assert wait > settings.PROVISIONING_POLL_MAX_INTERVAL
    assert wait == pytest.approx(settings.WEBHOOK_POLL_INTERVAL, abs=5)


def test_quiet_webhooks_bring_polling_back_to_normal_and_healthz_says_so(
    sub_a: WebhookSubscription,
    project_template: Template,
    requester_a: User,
    settings: Settings,
    fast_point: list[float],
) -> None:
    item = in_flight(project_template, requester_a, "Apollo")
    long_ago = timezone.now() - timedelta(seconds=settings.WEBHOOK_QUIET_AFTER + 60)
    far = timezone.now() + timedelta(seconds=settings.WEBHOOK_POLL_INTERVAL)
    RequestEvent.objects.filter(request=item).update(at=long_ago)
    ProvisioningRequest.objects.filter(pk=item.pk).update(next_poll_at=far)
    WebhookSubscription.objects.filter(pk=sub_a.pk).update(
        registered_at=long_ago, last_event_at=long_ago
    )
    health = webhook_health.health()
    assert [(h.tenant_id, h.quiet) for h in health] == [(sub_a.tenant_id, True)]
    assert "no event" in health[0].reason
    body = Client().get("/healthz").json()
    assert any("quiet" in w for w in body.get("warnings", []))
    report = services.poll_due()  # the request is checked now, not in half an hour
    assert report.refreshed == 1
    item.refresh_from_db()
    assert item.last_polled_at is not None


def test_a_change_found_by_polling_that_no_event_brought_makes_webhooks_quiet(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    from upstreams.contract import RequestStatus, Status

    lost = in_flight(project_template, requester_a, "Apollo")
    told = in_flight(project_template, requester_a, "Hermes")
    for item in (lost, told):
        services.apply_status(
            item=item,
            found=RequestStatus(id=item.upstream_id, status=Status.COMPLETED),
            source=RequestEvent.Source.POLL,
        )
    # The event about Hermes came just after the poll (a race, not a loss).
    assert deliver(sub_a, envelope("ProvisioningCompleted", "PRJ - Hermes", **COMPLETED)) == 200
    assert sub_a.tenant_id in webhook_health.trusted_tenant_ids()  # within the grace still
    two_minutes_ago = timezone.now() - timedelta(minutes=2)
    RequestEvent.objects.filter(to_state=State.COMPLETED).update(at=two_minutes_ago)
    WebhookDelivery.objects.update(received_at=two_minutes_ago + timedelta(seconds=1))
    WebhookSubscription.objects.update(registered_at=timezone.now() - timedelta(hours=1))
    webhook_health.forget()
    health = webhook_health.health()
    assert health[0].quiet and f"request #{lost.pk}" in health[0].reason
    assert sub_a.tenant_id not in webhook_health.trusted_tenant_ids()


def test_a_change_polling_saw_just_before_its_event_is_not_a_loss(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    from upstreams.contract import RequestStatus, Status

    item = in_flight(project_template, requester_a, "Hermes")
    services.apply_status(
        item=item,
        found=RequestStatus(id=item.upstream_id, status=Status.COMPLETED),
        source=RequestEvent.Source.POLL,
    )
    assert deliver(sub_a, envelope("ProvisioningCompleted", "PRJ - Hermes", **COMPLETED)) == 200
    RequestEvent.objects.filter(to_state=State.COMPLETED).update(
        at=timezone.now() - timedelta(minutes=2)
    )
    WebhookSubscription.objects.update(registered_at=timezone.now() - timedelta(hours=1))
    assert [h.quiet for h in webhook_health.health()] == [False]


# --- The deliveries page -----------------------------------------------------------------------


def test_it_staff_see_their_tenants_deliveries_with_why_unmatched_and_export_them(
    sub_a: WebhookSubscription, it_staff: User, it_staff_other: User
) -> None:
    from tests.conftest import client_for

    assert deliver(sub_a, envelope("ProvisioningCompleted", "=HYPERLINK(1)", **COMPLETED)) == 200
    assert deliver(sub_a, envelope("ProvisioningStarted", "x"), key="forged") == 401
    page = client_for(it_staff).get("/requests/webhooks/").content.decode()
    assert "=HYPERLINK(1)" in page and "No matching request" in page
    assert "Rejected: signature does not match" in page
    assert "receiving" in page  # Contoso's webhooks are trusted
    assert (
        "=HYPERLINK(1)"
        not in client_for(it_staff_other).get("/requests/webhooks/").content.decode()
    )
    problems = client_for(it_staff).get("/requests/webhooks/?show=problems").content.decode()
    assert "=HYPERLINK(1)" in problems
    export = client_for(it_staff).get("/requests/webhooks/export.csv")
    text = b"".join(export.streaming_content).decode()  # type: ignore[attr-defined]
    assert "'=HYPERLINK(1)" in text  # a spreadsheet never runs it
    assert text.splitlines()[0].startswith("received,tenant,verification,event")


def test_an_open_request_page_asks_every_second_where_webhooks_bring_news(
    sub_a: WebhookSubscription, project_template: Template, requester_a: User
) -> None:
    from tests.conftest import client_for

    item = in_flight(project_template, requester_a, "Apollo")
    page = client_for(requester_a).get(f"/requests/{item.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in page
    WebhookSubscription.objects.filter(pk=sub_a.pk).update(enabled=False)
    page = client_for(requester_a).get(f"/requests/{item.pk}/").content.decode()
    assert 'hx-trigger="every 3s"' in page
