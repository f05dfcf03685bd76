"""Concurrency on real threads, each with its own database connection (issue 19, item 3).

Run on SQLite and, in CI, on PostgreSQL. Each case lines its racers up with a barrier and, where
the upstream is involved, works against the live emulator: Point's own event bodies and
signature, its status reads counted by the emulator, its created requests counted in its state.
The cases proven elsewhere (20 posts of one form, 50 copies of a hand-made event, 8 replays of
one Idempotency-Key, two pollers sharing a pass) are listed in docs/reliability.md.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import requests
from django.core import mail
from django.db import connections
from django.test import Client

from api.models import API_ROLES, ApiClient
from audit.models import AuditAction, AuditEvent
from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, RequestEvent, Template, WebhookDelivery
from provisioning.states import State
from tenants import upstream
from tenants.models import Tenant, WebhookSubscription
from tests.api.conftest import demo_app, fetch_token, resign
from tests.api.test_endpoints import body as api_body
from tests.api.test_endpoints import call
from tests.provisioning.lifecycle import (
    POINT_PATH,
    catalogue,
    fast_point,
    instant,
    ledger,
    make_due,
    request_data,
)
from tests.provisioning.test_webhooks import subscribe
from tests.provisioning.ui_fixtures import make_template
from upstreams.point.wire import push_signature

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["catalogue", "fast_point", "instant"]  # fixtures, shared with tests/provisioning

# Point pushes to this address, where nothing listens: its events land in the emulator's
# delivery log (bytes and all), and the test delivers them to the portal on cue.
NOWHERE = "http://127.0.0.1:9/hooks/nowhere"


def race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` on ``count`` threads released together; each closes its own connections.
    The results in thread order; a thread's exception is raised here."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(timeout=30)
            results[i] = work(i)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


# --- Webhooks and pollers ------------------------------------------------------------------------


@pytest.fixture
def hooked(catalogue: dict[str, Template], emulator: RunningEmulator) -> WebhookSubscription:
    """Contoso's webhooks on with Point's real signing key; Point pushes where nothing listens
    (once: no retries), so each event is delivered by the test, when it says."""
    tenant = catalogue["3"].tenant
    provider = upstream.provider_for(tenant)
    provider.register_webhook(NOWHERE)
    emulator.control("webhooks", retry_delays=[])
    return subscribe(tenant, provider.webhook_signing_key())


def sent(catalogue: dict[str, Template], user: User) -> ProvisioningRequest:
    """A request on Contoso's automatic team template, sent to Point (the send runs inline)."""
    template = catalogue["3"]
    item = services.request_submit(
        tenant=template.tenant, template=template, requested_by=user, data=request_data("3")
    )
    item.refresh_from_db()
    assert item.upstream_id, item.state
    return item


def pushed(emulator: RunningEmulator, item: ProvisioningRequest, kind: str) -> bytes:
    """The body of Point's ``kind`` event about ``item``, as the emulator pushed it."""
    typed = str(item.form_data["display_name"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = emulator.control_get("webhooks/deliveries?tenant=contoso")["deliveries"]
        for entry in log:
            if entry["type"] == kind and typed in entry["body"]:
                return str(entry["body"]).encode("utf-8")
        time.sleep(0.05)
    raise AssertionError(f"Point pushed no {kind} event about {typed}")


def deliver(sub: WebhookSubscription, key: str, body: bytes) -> int:
    """POST one copy of a Point event to the portal's receiver, signed as Point signs it."""
    return (
        Client()
        .post(
            f"/hooks/{sub.token}",
            data=body,
            content_type="application/json",
            headers={"Signature": push_signature(body, key), "Algorithm": "HMACSHA256"},
        )
        .status_code
    )


def status_reads(emulator: RunningEmulator, item: ProvisioningRequest) -> int:
    """Point's answered status reads of the request."""
    reads = requests.get(
        f"{emulator.url}/_control/requests/reads", params={"tenant": "contoso"}, timeout=10
    ).json()["reads"]
    return sum(1 for read in reads if read[1] == item.upstream_id)


def completions(item: ProvisioningRequest) -> list[RequestEvent]:
    return list(item.events.filter(to_state=State.COMPLETED))


def test_fifty_copies_of_points_completed_event_complete_the_request_once(
    hooked: WebhookSubscription,
    instant: RunningEmulator,
    requester_a: User,
    catalogue: dict[str, Template],
) -> None:
    emulator = instant
    item = sent(catalogue, requester_a)
    body = pushed(emulator, item, "ProvisioningCompleted")
    key = hooked.get_signing_key()
    reads = status_reads(emulator, item)
    codes = race(50, lambda _: deliver(hooked, key, body))
    assert Counter(codes) == {200: 50}
    item.refresh_from_db()
    assert item.state == State.COMPLETED
    (completed,) = completions(item)
    assert completed.source == RequestEvent.Source.WEBHOOK
    assert [m.to for m in mail.outbox] == [[requester_a.email]]  # one e-mail
    (delivery,) = WebhookDelivery.objects.filter(event_type="ProvisioningCompleted")
    assert (delivery.copies, delivery.outcome, delivery.request) == (
        50,
        WebhookDelivery.Outcome.APPLIED,
        item,
    )
    assert AuditEvent.objects.filter(action=AuditAction.REQUEST_SUBMITTED).count() == 1
    assert AuditEvent.objects.count() == 1  # no copy writes to the audit log
    assert status_reads(emulator, item) == reads  # the receiver never asks Point
    assert len(ledger(emulator, item)) == 1


@pytest.mark.parametrize("event", ["ProvisioningStarted", "ProvisioningCompleted"])
def test_two_pollers_and_a_webhook_racing_complete_the_request_once(
    hooked: WebhookSubscription,
    instant: RunningEmulator,
    requester_a: User,
    catalogue: dict[str, Template],
    event: str,
) -> None:
    """Both pollers start at once; Point's event arrives while a poller's status read is on
    the wire (slowed to 1.5 s), so the poller applies Completed to a request the event has
    just moved on. A Started event used to swallow that Completed: the request then waited for
    the next poll, 30 minutes later where webhooks are trusted."""
    emulator = instant
    item = sent(catalogue, requester_a)
    assert item.state in (State.WAITING_APPROVAL, State.APPROVED)
    body = pushed(emulator, item, event)
    pushed(emulator, item, "ProvisioningCompleted")  # Point is done: a status read says so
    key = hooked.get_signing_key()
    reads = status_reads(emulator, item)
    make_due(item)
    emulator.control("latency", method="GET", path=f"{POINT_PATH}/provision/requests/*", ms=1500)

    def racer(i: int) -> Any:
        if i < 2:
            return services.poll_due()
        # The event once a poller holds the request and has read it from the database.
        deadline = time.monotonic() + 10
        while not ProvisioningRequest.objects.filter(pk=item.pk, poll_claim__isnull=False):
            assert time.monotonic() < deadline, "no poller claimed the request"
            time.sleep(0.01)
        time.sleep(0.3)
        return deliver(hooked, key, body)

    first, second, code = race(3, racer)
    assert code == 200
    assert first.refreshed + second.refreshed == 1  # one status read between the two pollers
    assert status_reads(emulator, item) == reads + 1
    item.refresh_from_db()
    assert item.state == State.COMPLETED
    assert len(completions(item)) == 1
    assert [m.to for m in mail.outbox] == [[requester_a.email]]  # one e-mail
    assert AuditEvent.objects.count() == 1  # the submit's entry only
    assert len(ledger(emulator, item)) == 1


# --- API Idempotency-Key replays ------------------------------------------------------------------

KEY = {"Idempotency-Key": "INC-RACE-19"}
# Another app of Contoso registered as an API client (a token Entra could issue it: the service
# desk's, re-signed with this app and service principal).
OTHER_APP = "7b0f4c1e-3a52-4d8e-9c61-2f5d8a9e0b13"
OTHER_PRINCIPAL = "c3e1a7d2-5b84-4f09-8e2a-6d1f0b9c4a57"


@pytest.fixture
def desk(live_tenant_a: Tenant, fast_point: list[float]) -> ApiClient:
    return ApiClient.objects.create(
        name="Service desk",
        tenant=live_tenant_a,
        app_id=demo_app("contoso")["client_id"],
        roles=list(API_ROLES),
    )


def upstream_sends(emulator: RunningEmulator, name: str) -> int:
    """Requests Point recorded with the name typed (each POST it accepted)."""
    with emulator.state.lock:
        made = emulator.state.data["point"]["contoso"]["requests"].values()
        return sum(1 for r in made if r["display_name_input"] == name)


def test_replays_of_one_key_with_two_bodies_at_once_make_one_request_and_refuse_the_other(
    emulator: RunningEmulator, live_tenant_a: Tenant, desk: ApiClient
) -> None:
    template = make_template(live_tenant_a, 3)
    bearer = fetch_token(emulator, "contoso")
    bodies = [api_body(template, "Falcon one"), api_body(template, "Falcon two")]
    answers = race(10, lambda i: call("POST", "/requests", bearer, json=bodies[i % 2], headers=KEY))
    item = ProvisioningRequest.objects.get()
    first = next(b for b in bodies if b["display_name"] == item.display_name)
    other = bodies[1 - bodies.index(first)]
    for i, answer in enumerate(answers):
        if bodies[i % 2] is first:
            assert answer.status_code in (200, 201) and answer.json()["id"] == item.pk
        else:
            assert answer.status_code == 409, answer.content
            assert answer["Content-Type"] == "application/problem+json"
            assert f"used for request {item.pk} with another body" in answer.json()["detail"]
    assert Counter(a.status_code for a in answers) == {201: 1, 200: 4, 409: 5}
    assert upstream_sends(emulator, item.display_name) == 1
    assert upstream_sends(emulator, other["display_name"]) == 0
    # Later replays get the same answers.
    again = call("POST", "/requests", bearer, json=first, headers=KEY)
    assert (again.status_code, again.json()["id"]) == (200, item.pk)
    assert call("POST", "/requests", bearer, json=other, headers=KEY).status_code == 409
    assert ProvisioningRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.REQUEST_SUBMITTED).count() == 1


def test_one_key_sent_by_two_clients_at_once_makes_one_request_for_each(
    emulator: RunningEmulator, live_tenant_a: Tenant, desk: ApiClient
) -> None:
    """Neither client has called before: their portal identities are made in the race too."""
    other = ApiClient.objects.create(
        name="Asset tool", tenant=live_tenant_a, app_id=OTHER_APP, roles=list(API_ROLES)
    )
    template = make_template(live_tenant_a, 3)
    bearer = fetch_token(emulator, "contoso")
    bearers = [
        bearer,
        resign(emulator, bearer, azp=OTHER_APP, appid=OTHER_APP, oid=OTHER_PRINCIPAL),
    ]
    same = api_body(template, "Falcon shared")
    answers = race(10, lambda i: call("POST", "/requests", bearers[i % 2], json=same, headers=KEY))
    desk.refresh_from_db()
    other.refresh_from_db()
    for n, client in enumerate((desk, other)):
        theirs = answers[n::2]
        mine = ProvisioningRequest.objects.get(requested_by=client.user)
        assert {a.json()["id"] for a in theirs} == {mine.pk}
        assert Counter(a.status_code for a in theirs) == {201: 1, 200: 4}
    assert ProvisioningRequest.objects.count() == 2
    assert User.objects.filter(api_client__isnull=False).count() == 2
