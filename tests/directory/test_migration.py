"""The directory browser's tables, and the audit log's, moved app without losing a row (issue 12).

Migrates a database back to the schema before the move (directory reports in provisioning,
the audit log in portal), fills it through the historical models, migrates forward and reads
every row back through today's models.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("provisioning", "0002_submission_key_request_people"),
    ("portal", "0003_operator_role_upn_audit_role"),
    ("tenants", "0004_known_people"),  # before the Point URL became the upstream URL
]


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return list(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_reports_and_audit_entries_keep_every_row_through_the_move() -> None:
    old = migrate(BEFORE)
    Tenant = old.get_model("tenants", "Tenant")
    ReportRun = old.get_model("provisioning", "ReportRun")
    ReportRow = old.get_model("provisioning", "ReportRow")
    AuditEvent = old.get_model("portal", "AuditEvent")
    tenant = Tenant.objects.create(
        name="Contoso",
        slug="contoso",
        entra_tenant_id="133d5974-f66e-426c-b6f1-7d0710433bc7",
        client_id="11111111-1111-1111-1111-111111111111",
        point_base_url="https://point.example",
        point_app_id="22222222-2222-2222-2222-222222222222",
    )
    run = ReportRun.objects.create(
        tenant=tenant,
        kind="group_memberships",
        subject="g1",
        subject_label="Finance",
        state="succeeded",
        row_count=3,
        finished_at=timezone.now(),
    )
    running = ReportRun.objects.create(tenant=tenant, kind="user_access", subject="a@contoso.com")
    for position in range(3):
        ReportRow.objects.create(
            run=run,
            position=position,
            name=f"Person {position}",
            kind="user",
            role="member",
            data={"displayName": f"Person {position}"},
        )
    AuditEvent.objects.create(
        action="sign_in", created_at=timezone.now(), tenant=tenant, person="Ada"
    )

    migrate(latest())

    from audit.models import AuditEvent as NewAuditEvent
    from directory.models import ReportRow as NewReportRow
    from directory.models import ReportRun as NewReportRun

    moved = NewReportRun.objects.get(pk=run.pk)
    assert (moved.tenant.slug, moved.subject_label, moved.row_count) == ("contoso", "Finance", 3)
    assert [r.name for r in NewReportRow.objects.filter(run=moved).order_by("position")] == [
        "Person 0",
        "Person 1",
        "Person 2",
    ]
    assert NewReportRun.objects.get(pk=running.pk).state == "running"
    assert NewAuditEvent.objects.get().person == "Ada"
    # The one-running-run constraint still holds in the renamed table.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        NewReportRun.objects.create(
            tenant=moved.tenant, kind="user_access", subject="a@contoso.com"
        )
