"""Bulk requests: every row checked like the form and shown before anything is sent; the
accepted rows submitted exactly once each; per-row results as CSV."""

from __future__ import annotations

import threading
from typing import Any
from unittest.mock import patch

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from portal.models import User
from provisioning import bulk
from provisioning.models import BulkUpload, ProvisioningRequest, Template
from tenants.models import Tenant
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_template

GOOD_AND_BAD = (
    "Name,Description,Owners,Members,Nonsense\n"
    "Alpha,First,a@contoso.example,,x\n"
    ",No name,a@contoso.example,,x\n"
    "Gamma,Third,not a upn,,x\n"
    "\n"
    "Delta,Fourth,a@contoso.example;b@contoso.example,c@contoso.example,x\n"
)


@pytest.fixture
def team(tenant_a: Tenant) -> Template:
    return make_template(tenant_a, 3)  # "Public team": owners, no metadata


@pytest.fixture
def staff(it_staff: User, tenant_a: Tenant) -> Client:
    client = client_for(it_staff)
    client.post("/auth/tenant", {"tenant": tenant_a.pk})
    return client


def upload(client: Client, template: Template, text: str, name: str = "rows.csv") -> Any:
    file = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post("/requests/bulk/", {"template": template.pk, "file": file}, follow=True)


def test_each_row_is_checked_like_the_form_and_nothing_is_sent(
    team: Template, staff: Client
) -> None:
    page = upload(staff, team, GOOD_AND_BAD).content.decode()
    assert "2 of 4 rows can be submitted" in page
    assert "<strong>Name</strong>: This field is required." in page
    assert "<strong>Owners</strong>: “not” is not a valid user name" in page
    assert "Ignored columns this template does not have: Nonsense." in page
    assert not ProvisioningRequest.objects.exists()


def test_the_accepted_rows_are_submitted_once_each_and_the_results_come_back_as_csv(
    team: Template, staff: Client, it_staff: User
) -> None:
    upload(staff, team, GOOD_AND_BAD)
    pk = BulkUpload.objects.get().pk
    with patch("provisioning.services.requests.enqueue_send") as send:
        first = staff.post(f"/requests/bulk/{pk}/submit", follow=True).content.decode()
        again = staff.post(f"/requests/bulk/{pk}/submit", follow=True).content.decode()
    assert "2 requests submitted" in first
    assert "Nothing more to submit" in again
    assert send.call_count == 2
    made = ProvisioningRequest.objects.order_by("pk")
    assert [r.display_name for r in made] == ["Alpha", "Delta"]
    assert all(r.requested_by == it_staff for r in made)
    delta = made.last()
    assert delta is not None
    assert sorted(delta.form_data["owners"]) == ["a@contoso.example", "b@contoso.example"]
    export = staff.get(f"/requests/bulk/{pk}/results.csv")
    csv = b"".join(export.streaming_content).decode()  # type: ignore[attr-defined]
    lines = csv.splitlines()
    assert lines[0] == "row,name,result,request,state,problems"
    assert lines[1].startswith(f"2,Alpha,submitted,{made.first().pk},")  # type: ignore[union-attr]
    assert lines[2].startswith("3,,refused,,,Name: This field is required.")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Title,Owners\nA,a@contoso.example\n", "No “Name” column"),
        ("Name\n", "a header but no rows"),
        ("Name\n" + "x\n" * (bulk.MAX_ROWS + 1), "More than 500 rows"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_next_to_the_file_field(
    team: Template, staff: Client, content: str, message: str
) -> None:
    page = upload(staff, team, content).content.decode()
    assert message in page and 'class="field-error"' in page
    assert not BulkUpload.objects.exists()


def test_a_file_that_is_not_utf8_is_refused(team: Template, staff: Client) -> None:
    file = SimpleUploadedFile("x.csv", "Name\nZürich\n".encode("latin-1"))
    page = staff.post("/requests/bulk/", {"template": team.pk, "file": file}).content.decode()
    assert "not UTF-8" in page


def test_the_blank_csv_has_the_templates_columns(team: Template, staff: Client) -> None:
    header = staff.get(f"/requests/bulk/template.csv?template={team.pk}").content.decode()
    assert header.splitlines()[0].startswith("Name,")
    assert "Owners" in header


@pytest.mark.django_db(transaction=True)
def test_two_submits_at_once_make_each_request_once(tenant_a: Tenant, it_staff: User) -> None:
    template = make_template(tenant_a, 3)
    client = client_for(it_staff)
    client.post("/auth/tenant", {"tenant": tenant_a.pk})
    upload(client, template, GOOD_AND_BAD)
    pk = BulkUpload.objects.get().pk
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            mine = client_for(it_staff)
            start.wait(timeout=30)
            mine.post(f"/requests/bulk/{pk}/submit")
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    with patch("provisioning.services.requests.enqueue_send"):
        threads = [threading.Thread(target=submit) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    assert sorted(ProvisioningRequest.objects.values_list("display_name", flat=True)) == [
        "Alpha",
        "Delta",
    ]
