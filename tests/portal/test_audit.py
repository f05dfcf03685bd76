"""The audit log: what an entry records, the admin page (filters, paging, CSV) and Django admin."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory

from audit.models import AuditAction, AuditEvent
from audit.services import audit_record
from portal.models import User
from tenants.models import Tenant
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_an_entry_names_the_person_tenant_time_and_source_ip(
    rf: RequestFactory, it_staff: User, tenant_a: Tenant
) -> None:
    request = rf.get("/", REMOTE_ADDR="203.0.113.7")
    request.user = it_staff
    event = audit_record(action=AuditAction.ROLE_CHANGED, request=request, detail="x")
    assert event.user == it_staff
    assert event.person == "Ivy <ivy@contoso.example>"
    assert (event.tenant, event.tenant_name) == (tenant_a, "Contoso")
    assert event.source_ip == "203.0.113.7"
    assert abs(event.created_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_person_and_tenant_names_survive_deletion(
    rf: RequestFactory, requester_a: User, tenant_a: Tenant
) -> None:
    event = audit_record(action=AuditAction.SIGN_IN, user=requester_a, tenant=tenant_a)
    requester_a.delete()
    event.refresh_from_db()
    assert event.user is None
    assert event.person.startswith("Alice")


def test_the_forwarded_address_is_used_only_when_trusted(rf: RequestFactory, settings) -> None:
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.9")
    assert audit_record(action=AuditAction.SIGN_IN_FAILED, request=request).source_ip == "10.0.0.2"
    settings.TRUST_X_FORWARDED_FOR = True
    assert (
        audit_record(action=AuditAction.SIGN_IN_FAILED, request=request).source_ip == "198.51.100.9"
    )


def make_events(tenant_a: Tenant, tenant_b: Tenant) -> None:
    start = datetime(2026, 1, 10, 12, tzinfo=UTC)
    for i in range(60):
        AuditEvent.objects.create(
            action=AuditAction.SIGN_IN if i % 2 else AuditAction.SIGN_IN_FAILED,
            created_at=start + timedelta(hours=i),
            person=f"Person {i} <p{i}@example.com>",
            tenant=tenant_a if i < 50 else tenant_b,
            tenant_name="Contoso" if i < 50 else "Fabrikam",
            detail="=cmd|' /C calc'!A0" if i == 59 else f"detail {i}",
        )


def test_the_audit_page_pages_newest_first(
    operator: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_events(tenant_a, tenant_b)
    client = client_for(operator)
    first = client.get("/audit/")
    assert first.status_code == 200
    assert first.context["page"].paginator.count == 60
    assert first.context["page"][0].person.startswith("Person 59")
    second = client.get("/audit/?page=2")
    assert len(second.context["page"]) == 10
    assert "Newer" in second.content.decode()


def test_the_audit_page_filters_by_action_tenant_person_and_dates(
    operator: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_events(tenant_a, tenant_b)
    client = client_for(operator)
    count = lambda query: client.get(f"/audit/?{query}").context["page"].paginator.count  # noqa: E731
    assert count("action=sign_in") == 30
    assert count(f"tenant={tenant_b.pk}") == 10
    assert count("person=Person+1") == 11  # 1, 10-19
    assert count("since=2026-01-11&until=2026-01-11") == 24
    assert count(f"action=sign_in_failed&tenant={tenant_b.pk}") == 5


def test_a_bad_filter_shows_the_error_next_to_the_field_and_keeps_the_input(
    admin: User, tenant_a: Tenant
) -> None:
    html = (
        client_for(admin)
        .get("/audit/?person=Bob&since=2026-02-02&until=2026-02-01")
        .content.decode()
    )
    assert "The end date must not be before the start date." in html
    assert 'value="Bob"' in html and 'value="2026-02-02"' in html


def test_htmx_filtering_returns_only_the_results_fragment(
    operator: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_events(tenant_a, tenant_b)
    response = client_for(operator).get("/audit/?action=sign_in", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="audit-results">')
    assert "<html" not in html


def test_the_csv_export_follows_the_filters_and_defuses_formulas(
    operator: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_events(tenant_a, tenant_b)
    response = client_for(operator).get(f"/audit/export.csv?tenant={tenant_b.pk}")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="audit-log.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.getvalue().decode())))
    assert rows[0] == ["time (UTC)", "action", "person", "role", "tenant", "source IP", "detail"]
    assert len(rows) == 11
    assert {r[4] for r in rows[1:]} == {"Fabrikam"}
    assert rows[1][6] == "'=cmd|' /C calc'!A0"


def test_audit_entries_are_read_only_in_django_admin(admin: User, tenant_a: Tenant) -> None:
    event = audit_record(action=AuditAction.SIGN_IN, user=admin, tenant=tenant_a)
    client = client_for(admin)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert (
        client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_an_admin_reads_only_their_own_organisations_entries(
    admin: User, admin_other: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_events(tenant_a, tenant_b)
    contoso = client_for(admin).get("/audit/")
    assert contoso.context["page"].paginator.count == 50
    assert "Fabrikam" not in contoso.content.decode()
    fabrikam = client_for(admin_other)
    assert fabrikam.get("/audit/").context["page"].paginator.count == 10
    # Asking for the other organisation is a filter error, not a peek into it.
    assert fabrikam.get(f"/audit/?tenant={tenant_a.pk}").context["page"].paginator.count == 0
    rows = list(csv.reader(io.StringIO(fabrikam.get("/audit/export.csv").getvalue().decode())))
    assert {r[4] for r in rows[1:]} == {"Fabrikam"}


def test_entries_made_by_an_operator_say_so(operator: User, tenant_b: Tenant) -> None:
    audit_record(action=AuditAction.CONNECTION_TESTED, user=operator, tenant=tenant_b)
    html = client_for(operator).get("/audit/").content.decode()
    assert AuditEvent.objects.get().actor_role == "operator"
    assert 'badge-operator">Operator<' in html
