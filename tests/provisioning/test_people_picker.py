"""The people picker and the owner/member preflight: type-ahead over the people the portal
knows in the tenant, and what is flagged next to the field before anything is sent."""

from __future__ import annotations

from django.utils import timezone

from directory.models import ReportKind, ReportRow, ReportRun
from directory.services import _remember_people
from portal.models import User
from provisioning.models import ProvisioningRequest, Template
from tenants import people
from tenants.models import KnownPerson, Tenant
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_template

GUEST = "lee_partner.example#ext#@contoso.example"


def know(tenant: Tenant) -> None:
    people.remember(
        Tenant.objects.exclude(pk=tenant.pk).first() or tenant,
        [("diego@fabrikam.example", "Diego", "user")],
    )
    people.remember(
        tenant,
        [
            ("adele.vance@contoso.example", "Adele Vance", "user"),
            ("alex.wilber@contoso.example", "Alex Wilber", "user"),
            (GUEST, "Lee (partner)", "guest"),
        ],
    )


def test_search_finds_known_people_and_people_who_signed_in(
    tenant_a: Tenant, requester_a: User
) -> None:
    know(tenant_a)
    assert [p.upn for p in people.search(tenant_a, "adele")] == ["adele.vance@contoso.example"]
    found = people.search(tenant_a, "lee")
    assert [(p.upn, p.guest) for p in found] == [(GUEST, True)]
    signed_in = people.search(tenant_a, requester_a.last_name or requester_a.email[:4])
    assert str(requester_a.upn or requester_a.email).lower() in [p.upn for p in signed_in]
    assert people.search(tenant_a, "a") == []  # two characters at least


def test_the_preflight_flags_guests_other_organisations_disabled_and_unknown_people(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    know(tenant_a)
    KnownPerson.objects.filter(upn="alex.wilber@contoso.example").update(enabled=False)
    findings = {
        f.upn: (f.reason, f.blocking)
        for f in people.check(
            tenant_a,
            [
                "adele.vance@contoso.example",
                GUEST,
                "diego@fabrikam.example",
                "alex.wilber@contoso.example",
                "new.colleague@contoso.example",
                "someone@elsewhere.example",
            ],
            owners=True,
        )
    }
    assert "adele.vance@contoso.example" not in findings
    assert findings[GUEST] == ("a guest cannot be an owner", True)
    assert findings["diego@fabrikam.example"][0].startswith("belongs to another organisation")
    assert findings["alex.wilber@contoso.example"] == ("this account is disabled", True)
    assert findings["new.colleague@contoso.example"][1] is False  # a warning only
    assert findings["someone@elsewhere.example"] == (
        "elsewhere.example is not a domain seen in this organisation: check the address, or "
        "invite them as a guest",
        False,
    )
    as_members = people.check(tenant_a, [GUEST], owners=False)
    assert as_members == []  # a guest may be a member


def test_nothing_is_flagged_while_the_portal_knows_nobody_in_the_tenant(
    tenant_b: Tenant,
) -> None:
    assert people.check(tenant_b, ["anyone@anywhere.example"], owners=True) == []


def test_the_form_refuses_another_organisations_owner_next_to_the_field_and_warns_of_unknowns(
    tenant_a: Tenant, tenant_b: Tenant, requester_a: User
) -> None:
    know(tenant_a)
    template = make_template(tenant_a, 3)
    client = client_for(requester_a)
    base = {"display_name": "Picker", "submission_key": "a" * 32}
    page = client.post(
        f"/requests/new/{template.pk}/", {**base, "owners": "diego@fabrikam.example"}
    ).content.decode()
    assert "diego@fabrikam.example: belongs to another organisation" in page
    assert not ProvisioningRequest.objects.exists()
    response = client.post(
        f"/requests/new/{template.pk}/",
        {**base, "owners": "new.colleague@contoso.example"},
    )
    assert response.status_code == 302  # an unknown colleague is only a warning
    assert ProvisioningRequest.objects.count() == 1


def test_the_picker_and_the_live_check_answer_as_fragments(
    tenant_a: Tenant, requester_a: User
) -> None:
    know(tenant_a)
    template: Template = make_template(tenant_a, 3)
    client = client_for(requester_a)
    htmx = {"HX-Request": "true"}
    found = client.get(
        f"/requests/new/{template.pk}/people?field=owners&owners_search=lee", headers=htmx
    ).content.decode()
    assert "Lee (partner)" in found and "disabled" in found  # no Add for a guest owner
    members = client.get(
        f"/requests/new/{template.pk}/people?field=members&members_search=lee", headers=htmx
    ).content.decode()
    assert "disabled" not in members
    checked = client.get(
        f"/requests/new/{template.pk}/people/check",
        {"field": "owners", "owners": f"adele.vance@contoso.example\n{GUEST}"},
        headers=htmx,
    ).content.decode()
    assert "a guest cannot be an owner" in checked


def test_a_finished_report_teaches_the_portal_its_people(tenant_a: Tenant) -> None:
    run = ReportRun.objects.create(
        tenant=tenant_a,
        kind=ReportKind.GROUP_MEMBERSHIPS,
        state=ReportRun.State.SUCCEEDED,
        finished_at=timezone.now(),
    )
    ReportRow.objects.create(
        run=run, position=0, name="Megan", upn="Megan@contoso.example", kind="user"
    )
    ReportRow.objects.create(run=run, position=1, name="Sales", upn="", kind="group")
    _remember_people(run)
    assert list(KnownPerson.objects.values_list("upn", "kind")) == [
        ("megan@contoso.example", "user")
    ]
