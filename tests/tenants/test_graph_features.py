"""What every tenant gets from Microsoft Graph, whatever it provisions through: the people
picker and owner checks (Graph /users where User.Read.All is granted, the snapshots where not),
the provisioning-job credentials page (seed 003), and a connection check per upstream (seed 004).
Against the emulator over HTTP."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from audit.models import AuditAction, AuditEvent
from core.roles import Role
from portal.models import User
from tenants import checks, people, tokens
from tenants.models import ConnectionCheck, JobCredentials, KnownPerson, Tenant
from tests.conftest import client_for, make_user
from upstreams.contract import SyncJob

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = pytest.mark.django_db(transaction=True)

LITWARE = "litware.onmicrosoft.com"
NANCY = f"nancy.davolio@{LITWARE}"
ROBERT = f"robert.king@{LITWARE}"  # disabled
ANNE = f"anne.dodsworth@{LITWARE}"  # no licence
GUEST = f"margaret.peacock_fabrikam.example#ext#@{LITWARE}"


@pytest.fixture(autouse=True)
def _graph_people(settings: Settings) -> None:
    settings.PEOPLE_FROM_GRAPH = True
    tokens.forget()


@pytest.fixture
def litware(live_graph_tenant: Tenant) -> Tenant:
    return live_graph_tenant


@pytest.fixture
def janet(litware: Tenant) -> User:
    return make_user(litware, "Janet", Role.ADMIN)


# --- People -------------------------------------------------------------------------------------


def test_the_picker_offers_only_enabled_licensed_members_of_the_directory(litware: Tenant) -> None:
    assert [p.upn for p in people.search(litware, "nancy")] == [NANCY]
    for excluded in ("robert", "anne", "margaret"):
        assert people.search(litware, excluded) == [], excluded
    # Graph's answer is kept as the snapshot the portal falls back to, with what it said.
    robert = KnownPerson.objects.get(tenant=litware, upn=ROBERT)
    assert robert.enabled is False


def test_owners_the_directory_refuses_are_flagged_before_submit(litware: Tenant) -> None:
    findings = {
        f.upn: f
        for f in people.check(
            litware, [NANCY, ROBERT, ANNE, GUEST, f"nobody@{LITWARE}"], owners=True
        )
    }
    assert NANCY not in findings
    assert findings[ROBERT].blocking and "disabled" in findings[ROBERT].reason
    assert findings[GUEST].blocking and "guest" in findings[GUEST].reason
    assert findings[f"nobody@{LITWARE}"].blocking
    assert not findings[ANNE].blocking and "licence" in findings[ANNE].reason


def test_without_user_read_all_the_picker_falls_back_to_the_snapshots_and_stops_asking(
    litware: Tenant, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.control("graph/permissions", tenant="litware", revoke=["User.Read.All"])
    KnownPerson.objects.create(
        tenant=litware,
        upn="seen.before@litware.onmicrosoft.com",
        name="Seen Before",
        seen_at="2026-11-30T00:00Z",
    )
    found = people.search(litware, "seen")
    assert [p.upn for p in found] == ["seen.before@litware.onmicrosoft.com"]
    asked = len(emulator.control_get("token-requests"))
    with caplog.at_level(logging.INFO):
        people.search(litware, "seen")
    # Refused once: not asked again (no token, no call) until GRAPH_REFUSED_FOR has passed.
    assert len(emulator.control_get("token-requests")) == asked


def test_a_point_tenant_with_user_read_all_also_gets_its_people_from_graph(
    live_tenant_a: Tenant,
) -> None:
    found = {p.upn for p in people.search(live_tenant_a, "adele")}
    assert "adele.vance@contoso.onmicrosoft.com" in found


# --- Provisioning jobs --------------------------------------------------------------------------


def test_an_admin_sees_the_provisioning_jobs_and_hands_one_credentials_never_kept(
    litware: Tenant,
    janet: User,
    emulator: RunningEmulator,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    client = client_for(janet)
    page = client.get(reverse("tenants:jobs", args=[litware.slug]))
    assert page.status_code == 200
    rows = page.context["rows"]
    slack = next(job for job, _ in rows if job.app_name == "Slack")
    assert {job.status for job, _ in rows} >= {"Active", "Quarantine"}
    secret = "xoxb-very-secret-value"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tenants:job_credentials", args=[litware.slug]),
            {
                "service_principal_id": slack.service_principal_id,
                "app_name": "Slack",
                "key_1": "SecretToken",
                "value_1": secret,
            },
        )
    assert response.status_code == 302
    handover = JobCredentials.objects.get()
    assert handover.status == JobCredentials.Status.SENT
    assert handover.values_encrypted == "" and handover.keys == ["SecretToken"]
    result = client.get(response["Location"]).content.decode()
    assert "Handed over" in result and secret not in result
    (line,) = [
        e
        for e in emulator.control_get("graph/ledger?tenant=litware")["ledger"]
        if e["kind"] == "syncCredentials"
    ]
    assert line["keys"] == ["SecretToken"] and line["outcome"] == "accepted"
    event = AuditEvent.objects.get(action=AuditAction.JOB_CREDENTIALS_SENT)
    assert "SecretToken" in event.detail and secret not in event.detail


def test_credentials_the_application_refuses_are_said_plainly_and_not_kept(
    litware: Tenant,
    janet: User,
    emulator: RunningEmulator,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    emulator.control("graph/fail-next", tenant="litware", kind="sync", message="Bad token.")
    slack = next(j for j in people_jobs(litware) if j.app_name == "Slack")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(janet).post(
            reverse("tenants:job_credentials", args=[litware.slug]),
            {
                "service_principal_id": slack.service_principal_id,
                "key_1": "SecretToken",
                "value_1": "x1",
            },
        )
    handover = JobCredentials.objects.get()
    assert handover.status == JobCredentials.Status.FAILED
    assert "refused the credentials" in handover.error and handover.values_encrypted == ""


def test_a_credential_form_without_a_value_is_refused_next_to_the_field(
    litware: Tenant, janet: User
) -> None:
    slack = next(j for j in people_jobs(litware) if j.app_name == "Slack")
    response = client_for(janet).post(
        reverse("tenants:job_credentials", args=[litware.slug]),
        {"service_principal_id": slack.service_principal_id, "key_1": "SecretToken", "value_1": ""},
    )
    assert response.status_code == 400
    (_, form), *_ = [(j, f) for j, f in response.context["rows"] if f.is_bound]
    assert "value_1" in form.errors
    assert not JobCredentials.objects.exists()


def people_jobs(tenant: Tenant) -> list[SyncJob]:
    from tenants import jobs

    return jobs.jobs_list(tenant=tenant)


# --- The connection check, per upstream ---------------------------------------------------------


def _run(tenant: Tenant) -> ConnectionCheck:
    return checks.run(ConnectionCheck.objects.create(tenant=tenant))


def test_a_graph_tenant_check_lists_graph_permissions_granted_and_missing(
    litware: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control("graph/permissions", tenant="litware", revoke=["Community.ReadWrite.All"])
    check = _run(litware)
    rows = {p["permission"]: p for p in check.probes}
    assert rows["Group.ReadWrite.All"]["outcome"] == "granted"
    missing = rows["Community.ReadWrite.All"]
    assert missing["outcome"] == "missing" and missing["optional"]
    assert "Grant admin consent" in missing["guidance"] and "Microsoft Graph" in missing["guidance"]
    assert "communit" in missing["needed_for"].lower()
    assert check.ok  # only an optional permission is missing


def test_a_gt365_tenant_check_decides_from_the_tokens_roles(
    live_gt365_tenant: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control("graph/permissions", tenant="tailspin", revoke=["Group.ReadWrite.All"])
    check = _run(live_gt365_tenant)
    rows = {(p["upstream"], p["permission"]): p for p in check.probes}
    assert rows[("GT365", "Group.ReadWrite.All")]["outcome"] == "missing"
    assert not check.ok and "Group.ReadWrite.All" in check.summary


def test_a_point_tenant_check_adds_what_graph_gives_every_tenant(live_tenant_a: Tenant) -> None:
    check = _run(live_tenant_a)
    upstreams = {p["upstream"] for p in check.probes}
    assert upstreams == {"Point", "Microsoft Graph"}
    graph = [p for p in check.probes if p["upstream"] == "Microsoft Graph"]
    assert {p["permission"] for p in graph} >= {"User.Read.All", "Synchronization.ReadWrite.All"}
    assert all(p["optional"] for p in graph)
    assert check.ok


def test_while_graph_fails_the_picker_uses_the_snapshots_without_waiting_again(
    litware: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control("faults", path="/graph/v1.0/users*", kind="503", count=50)
    KnownPerson.objects.create(
        tenant=litware,
        upn="seen.before@litware.onmicrosoft.com",
        name="Seen Before",
        seen_at="2026-11-30T00:00Z",
    )
    assert [p.upn for p in people.search(litware, "seen")] == [
        "seen.before@litware.onmicrosoft.com"
    ]
    calls = [r for r in emulator.control_get("state")["faults"] if "/users" in r["path"]]
    left = calls[0]["remaining"]
    people.search(litware, "seen")  # Graph is not asked again for a while
    calls = [r for r in emulator.control_get("state")["faults"] if "/users" in r["path"]]
    assert calls[0]["remaining"] == left
