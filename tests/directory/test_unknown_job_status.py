"""A report status word the upstream's adapter does not know is not guessed (issue 13): the run
is polled on, the word is shown raw on the report page, and IT staff see it on the tenant page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from directory import services as directory_services
from directory.models import ReportKind, ReportRun
from portal.models import User
from tenants.models import Tenant, UpstreamNotice
from tests.conftest import client_for
from upstreams import contract, registry
from upstreams.contract import JobState, ReportJob, ReportRow

pytestmark = pytest.mark.django_db


class Odd:
    """An upstream whose report says a word nobody knows, then Succeeded."""

    kind, label, capabilities = "odd", "Odd", contract.Capabilities()
    answers: list[ReportJob] = []

    def __init__(self, connection: contract.Connection) -> None:
        pass

    def start_report(self, kind: contract.ReportKind, subject: str = "") -> ReportJob:
        return ReportJob("j1")

    def get_report(self, job_id: str) -> ReportJob:
        return Odd.answers.pop(0)

    def report_rows(self, kind: contract.ReportKind, job_id: str) -> Iterator[ReportRow]:
        yield ReportRow(name="Finance", site_url="https://contoso.example/sites/finance")


@pytest.fixture
def odd(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Tenant:
    monkeypatch.setitem(registry.PROVIDERS, "odd", ("Odd", f"{__name__}:Odd"))
    monkeypatch.setattr(directory_services, "_sleep", lambda seconds: None)
    settings.DIRECTORY_POLL_INTERVAL_MS = 0
    tenant_a.provider = "odd"
    tenant_a.save()
    return tenant_a


def _running(tenant: Tenant) -> ReportRun:
    return ReportRun.objects.create(
        tenant=tenant,
        kind=ReportKind.USER_ACCESS,
        subject="a@contoso.example",
        upstream_job_id="j1",
    )


def test_an_unknown_report_status_is_shown_raw_and_flagged_to_it_staff(
    odd: Tenant, it_staff: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    later: list[object] = []
    monkeypatch.setattr(directory_services, "async_task", lambda *args, **kw: later.append(args))
    Odd.answers = [ReportJob("j1", JobState.UNKNOWN, status_text="Finalizing")]
    run = _running(odd)
    directory_services.report_poll(run_id=run.pk, budget=0)
    run.refresh_from_db()
    assert run.state == ReportRun.State.RUNNING and later  # not guessed: polled on
    assert run.upstream_status == "Finalizing"
    client = client_for(it_staff)
    page = client.get(f"/directory/contoso/reports/{run.pk}/progress", headers={"HX-Request": "1"})
    assert "Odd: Finalizing" in page.content.decode()
    notice = UpstreamNotice.objects.get()
    assert (notice.what, notice.value) == ("report status", "Finalizing")
    assert "Finalizing" in client.get("/tenants/contoso/").content.decode()


def test_a_report_that_said_an_unknown_word_then_succeeded_is_stored(odd: Tenant) -> None:
    Odd.answers = [
        ReportJob("j1", JobState.UNKNOWN, status_text="Finalizing"),
        ReportJob("j1", JobState.UNKNOWN, status_text="Finalizing"),
        ReportJob("j1", JobState.SUCCEEDED),
    ]
    run = _running(odd)
    directory_services.report_poll(run_id=run.pk, budget=60)
    run.refresh_from_db()
    assert (run.state, run.row_count) == (ReportRun.State.SUCCEEDED, 1)
    assert UpstreamNotice.objects.get().count == 2
