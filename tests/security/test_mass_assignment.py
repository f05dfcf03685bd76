"""Posting extra fields changes nothing (ASVS 8.2.3 field-level access, 15.3.3 mass assignment).

Every form and API body that creates or changes something is posted twice from the same
database state (the first post is rolled back): once with its normal data, once with extra
fields named after protected attributes (state, tenant, requester, upstream id, role, Django
admin flags, the API client...) holding another organisation's or a higher value. The rows it
created or changed, everyone's access, the row counts and the answer (status, redirect,
messages, API body) must be the same both times. An extra field that is one of the form's own
fields is left out: forged values of real fields (a tenant, a template) are the access
matrix's and the last tests' business.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from api.models import REQUESTS_READ, ApiClient
from portal.models import User
from provisioning.models import BulkUpload, PortalApproval, ProvisioningRequest
from tenants.models import Tenant, WebhookSubscription
from tests.conftest import client_for
from tests.provisioning.test_views_form import VALID
from tests.provisioning.ui_fixtures import make_template
from tests.test_access_matrix import (
    World,
    alices,
    api_caller,
    api_new_request,
    job_credentials,
    make_world,
    on_graph,
    stored,
    template_definition,
    token_emulator,
)

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = pytest.mark.django_db
DIGITS = re.compile(r"\d+")
RANDOM = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")

# Extra fields, in groups named after what they would take over, with the value an attacker
# would post: another organisation, another person, a finished state, a higher role.
EXTRAS: dict[str, Callable[[World], dict[str, Any]]] = {
    "lifecycle": lambda w: {
        "state": "completed",
        "status": "completed",
        "upstream_id": "forged-1",
        "upstream_status": "Completed",
        "final_name": "Forged name",
        "workspace_url": "https://evil.example/sites/forged",
        "failure_kind": "invalid",
        "resend_approved": True,
        "accepted_at": "2020-01-01T00:00:00Z",
        "enabled": True,
        "ok": True,
        "hidden": True,
        "approval": "automatic",
        "portal_stages": "[]",
    },
    "ownership": lambda w: {
        "tenant": w.tenant_b.pk,
        "tenant_id": w.tenant_b.pk,
        "requester": w.user("requester_b").pk,
        "requester_id": w.user("requester_b").pk,
        "requested_by": w.user("requester_b").pk,
        "requested_by_id": w.user("requester_b").pk,
        "created_by": w.user("requester_b").pk,
        "approved_by": w.user("requester_b").pk,
        "decided_by": w.user("requester_b").pk,
        "uploaded_by": w.user("requester_b").pk,
        "started_by": w.user("requester_b").pk,
        "template_id": make_template(w.tenant_b, 2).pk,
        "id": 999,
        "pk": 999,
    },
    "privilege": lambda w: {
        "role": "operator",
        "is_staff": True,
        "is_superuser": True,
        "home_tenant": w.tenant_b.pk,
        "served_tenants": w.tenant_b.pk,
        "user": w.user("requester_b").pk,
        "user_id": w.user("requester_b").pk,
        "groups": 1,
        "user_permissions": 1,
    },
    "tenant_settings": lambda w: {
        "slug": "forged-slug",
        "provider": "graph",
        "is_active": False,
        "entra_tenant_id": str(w.tenant_b.entra_tenant_id),
        "client_id": str(w.tenant_b.client_id),
        "client_secret": "forged-secret-value",
        "api_url": "https://evil.example/point",
        "point_app_id": str(uuid.uuid4()),
        "token": str(uuid.uuid4()),
        "signing_key": "forged-signing-key",
        "app_id": str(uuid.uuid4()),
    },
    "api_client": lambda w: {
        "client": 1,
        "api_client": 1,
        "api_client_id": 1,
        "via": "Forged client",
        "idempotency_key": str(uuid.uuid4()),
        "roles": ["Requests.ReadWrite", "Directory.Read"],
    },
}


@dataclass(frozen=True)
class Target:
    """What one post goes to: its URL, its normal data (made fresh for each post: a file is
    read once) and the rows it creates or changes (a model label, and a pk or None for the
    newest row)."""

    url: str
    data: Callable[[], dict[str, Any]]
    rows: list[tuple[str, int | None]]


@dataclass(frozen=True)
class Form:
    name: str
    persona: str
    target: Callable[[World], Target]
    api: bool = False


def request_form(w: World) -> Target:
    template = make_template(w.tenant_a, 1)
    key = uuid.uuid4().hex
    return Target(
        reverse("provisioning:request_new", kwargs={"template_pk": template.pk}),
        lambda: {**VALID, "submission_key": key},
        [("provisioning.ProvisioningRequest", None)],
    )


def approval(w: World) -> Target:
    item = alices(w, state="portal_approval")
    stage = PortalApproval.objects.create(
        request=item, stage=1, kind="it_staff", decision="waiting"
    )
    return Target(
        reverse("provisioning:approval_decide", kwargs={"pk": stage.pk}),
        lambda: {"decision": "approve", "comment": "Fine"},
        [("provisioning.PortalApproval", stage.pk), ("provisioning.ProvisioningRequest", item.pk)],
    )


def request_action(action: str, state: str, **fields: Any) -> Callable[[World], Target]:
    def target(w: World) -> Target:
        item = alices(w, state=state)
        ProvisioningRequest.objects.filter(pk=item.pk).update(**fields)
        return Target(
            reverse(f"provisioning:{action}", kwargs={"pk": item.pk}),
            dict,
            [("provisioning.ProvisioningRequest", item.pk)],
        )

    return target


def send_again(w: World) -> Target:
    """A request confirming for longer than PROVISIONING_CONFIRM_ESCALATE_AFTER."""
    item = alices(w, state="confirming")
    event = item.events.create(source="portal", from_state="sending", to_state="confirming")
    long_ago = timezone.now() - timedelta(seconds=settings.PROVISIONING_CONFIRM_ESCALATE_AFTER + 60)
    type(event).objects.filter(pk=event.pk).update(at=long_ago)
    ProvisioningRequest.objects.filter(pk=item.pk).update(created_at=long_ago)
    return Target(
        reverse("provisioning:request_send_again", kwargs={"pk": item.pk}),
        dict,
        [("provisioning.ProvisioningRequest", item.pk)],
    )


def bulk_upload(w: World) -> Target:
    template = make_template(w.tenant_a, 3)
    csv = "Name,Owners\nAlpha,a@contoso.example\n"
    return Target(
        reverse("provisioning:bulk_new"),
        lambda: {"template": template.pk, "file": SimpleUploadedFile("rows.csv", csv.encode())},
        [("provisioning.BulkUpload", None)],
    )


def bulk_submit(w: World) -> Target:
    from tests.test_access_matrix import contoso_upload

    pk = contoso_upload(w)["pk"]
    return Target(
        reverse("provisioning:bulk_submit", kwargs={"pk": pk}),
        dict,
        [("provisioning.BulkUpload", pk), ("provisioning.ProvisioningRequest", None)],
    )


def portal_template(w: World) -> Target:
    on_graph(w)
    return Target(
        reverse("provisioning:template_new"),
        # "hidden" is the form's own box (unticked here), not an extra field.
        lambda: {**template_definition(w), "hidden": ""},
        [("provisioning.Template", None)],
    )


def tenant_page(
    name: str, data: Callable[[World], dict[str, Any]], row: str
) -> Callable[[World], Target]:
    def target(w: World) -> Target:
        if name == "tenants:webhooks_off":
            sub = WebhookSubscription.objects.create(tenant=w.tenant_a, enabled=True)
            rows: list[tuple[str, int | None]] = [(row, sub.pk)]
        else:
            rows = [(row, None)]
        return Target(reverse(name, kwargs={"slug": w.tenant_a.slug}), lambda: data(w), rows)

    return target


def admin_tenant(w: World) -> Target:
    return Target(
        reverse("admin:tenants_tenant_change", kwargs={"object_id": w.tenant_a.pk}),
        lambda: {"name": "Contoso Pharmaceuticals", "secret_expires_on": ""},
        [("tenants.Tenant", w.tenant_a.pk)],
    )


def admin_person(w: World) -> Target:
    alice = w.user("requester_a")
    return Target(
        reverse("admin:portal_user_change", kwargs={"object_id": alice.pk}),
        dict,  # unticked: switched off, the one thing an organisation's admin may change
        [("portal.User", alice.pk)],
    )


def admin_template(w: World) -> Target:
    template = make_template(w.tenant_a, 1)
    return Target(
        reverse("admin:provisioning_template_change", kwargs={"object_id": template.pk}),
        lambda: {"hidden": "", "help_text": "Ask IT first.", "stage_1_kind": "it_staff"},
        [("provisioning.Template", template.pk)],
    )


def admin_api_client(w: World) -> Target:
    return Target(
        reverse("admin:api_apiclient_add"),
        lambda: {
            "name": "Reporting script",
            "tenant": w.tenant_a.pk,
            "app_id": "0f0f0f0f-0000-4000-8000-000000000001",
            "roles": [REQUESTS_READ],
            "allowed_networks": "",
            "rate_limit": "",
            "enabled": "on",
        },
        [("api.ApiClient", None)],
    )


def api_create(w: World) -> Target:
    body = api_new_request(w)
    return Target(
        reverse("api:request_create"), lambda: body, [("provisioning.ProvisioningRequest", None)]
    )


def api_action(action: str, state: str, **fields: Any) -> Callable[[World], Target]:
    def target(w: World) -> Target:
        item = alices(w, state=state)
        ProvisioningRequest.objects.filter(pk=item.pk).update(**fields)
        return Target(
            reverse(f"api:{action}", kwargs={"pk": item.pk}),
            dict,
            [("provisioning.ProvisioningRequest", item.pk)],
        )

    return target


FORMS = [
    Form("request form", "requester_a", request_form),
    Form("approval decision", "it_staff", approval),
    Form(
        "retry", "requester_a", request_action("request_retry", "failed", failure_kind="upstream")
    ),
    Form("cancel", "requester_a", request_action("request_cancel", "submitted")),
    Form("send again", "it_staff", send_again),
    Form("bulk upload", "it_staff", bulk_upload),
    Form("bulk submit", "it_staff", bulk_submit),
    Form("portal template", "admin", portal_template),
    Form(
        "connection check",
        "it_staff",
        tenant_page("tenants:check", lambda w: {}, "tenants.ConnectionCheck"),
    ),
    Form(
        "webhooks off",
        "admin",
        tenant_page("tenants:webhooks_off", lambda w: {}, "tenants.WebhookSubscription"),
    ),
    Form(
        "job credentials",
        "admin",
        tenant_page("tenants:job_credentials", job_credentials, "tenants.JobCredentials"),
    ),
    Form(
        "report refresh",
        "it_staff",
        lambda w: Target(
            reverse("directory:report_refresh", kwargs={"slug": w.tenant_a.slug}),
            lambda: {"kind": "user_access", "subject": "megan.bowen@contoso.onmicrosoft.com"},
            [("directory.ReportRun", None)],
        ),
    ),
    Form("tenant in Django admin", "admin", admin_tenant),
    Form("person in Django admin", "admin", admin_person),
    Form("template in Django admin", "admin", admin_template),
    Form("API client in Django admin", "admin", admin_api_client),
    Form("API submit", "api_write", api_create, api=True),
    Form("API cancel", "api_write", api_action("request_cancel", "submitted"), api=True),
    Form(
        "API retry",
        "api_write",
        api_action("request_retry", "failed", failure_kind="upstream"),
        api=True,
    ),
]


@pytest.fixture
def world(request: pytest.FixtureRequest, tenant_a: Tenant, tenant_b: Tenant) -> World:
    return make_world(request, tenant_a, tenant_b)


@pytest.fixture(scope="module")
def api_tokens() -> Iterator[tuple[RunningEmulator, dict[str, str]]]:
    with token_emulator() as found:
        yield found


def plain(value: Any) -> Any:
    """A row as compared: no id or moment; random keys (UUIDs, 32 hex digits: idempotency and
    submission keys, a portal template's id) and ciphertexts (Fernet is randomised) only as
    present."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k not in ("id", "last_login")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return "<moment>"
    if isinstance(value, uuid.UUID | str):
        text = RANDOM.sub("<key>", str(value))
        return "<encrypted>" if text.startswith("gAAAA") else text
    return value


def everyones_access() -> list[tuple[Any, ...]]:
    """Who has which role where (an API client's user is made on its first call, so its pk is
    left out)."""
    people = User.objects.order_by("username").values_list(
        "username", "role", "is_staff", "is_superuser", "is_active", "home_tenant_id"
    )
    served = User.served_tenants.through.objects.values_list("user__username", "tenant_id")
    return [*people, *sorted(served)]


def outcome(
    form: Form, w: World, request: pytest.FixtureRequest, target: Target, extra: dict[str, Any]
) -> tuple[Any, str]:
    """What one post did and answered (and the rows it left, as stored), rolled back."""
    with transaction.atomic():
        if form.api:
            client = api_caller(form.persona, w, request)
            response = client.post(
                target.url, json.dumps({**target.data(), **extra}), "application/json"
            )
            answer: Any = DIGITS.sub("#", response.content.decode())
        else:
            client = client_for(w.user(form.persona))
            response = client.post(target.url, {**target.data(), **extra})
            answer = [DIGITS.sub("#", str(m)) for m in get_messages(response.wsgi_request)]
        rows = []
        for label, pk in target.rows:
            model = apps.get_model(label)
            found = model.objects.filter(pk=pk) if pk else model.objects.order_by("-pk")[:1]
            rows.append(list(found.values()))
        counts = [len(table) for table in stored()]
        done = (
            response.status_code,
            DIGITS.sub("#", response.get("Location", "")),
            answer,
            plain(rows),
            counts,
            everyones_access(),
        )
        transaction.set_rollback(True)
    return done, repr(rows)


@pytest.mark.parametrize("group", EXTRAS)
@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.name)
def test_extra_fields_change_nothing(
    form: Form, group: str, world: World, request: pytest.FixtureRequest
) -> None:
    # Made before the posts, which are rolled back.
    if form.api:  # its portal user is made on its first call
        api_caller(form.persona, world, request).get(reverse("api:request_list"))
    else:
        world.user(form.persona)
    target = form.target(world)
    extra = {k: v for k, v in EXTRAS[group](world).items() if k not in target.data()}
    normal, normal_rows = outcome(form, world, request, target, {})
    forged, stored_rows = outcome(form, world, request, target, extra)
    assert normal[0] < 400, f"{form.name}: the normal post was refused ({normal[:3]})"
    assert forged == normal, f"{form.name} with extra {sorted(extra)} differs"
    # Random keys were compared as present only: no forged text may be among them either.
    texts = [v for v in extra.values() if isinstance(v, str) and v not in normal_rows]
    assert not [text for text in texts if text in stored_rows], f"{form.name} kept a forged value"


# --- Real fields with another organisation's value ----------------------------------------------


def test_an_admin_cannot_register_an_api_client_for_another_organisation(world: World) -> None:
    data = {**admin_api_client(world).data(), "tenant": world.tenant_b.pk}
    response = client_for(world.user("admin")).post(reverse("admin:api_apiclient_add"), data)
    assert response.status_code == 200  # the form again, the choice refused
    assert not ApiClient.objects.exists()


def test_a_bulk_upload_cannot_use_another_organisations_template(world: World) -> None:
    data = {**bulk_upload(world).data(), "template": make_template(world.tenant_b, 3).pk}
    response = client_for(world.user("it_staff")).post(reverse("provisioning:bulk_new"), data)
    assert response.status_code == 200  # the form again, the choice refused
    assert not BulkUpload.objects.exists()


@pytest.mark.parametrize("owner", ["requester_b", "it_staff_other"])
def test_a_request_cannot_be_cloned_from_one_its_requester_may_not_see(
    owner: str, world: World
) -> None:
    from tests.provisioning.ui_fixtures import make_request

    home = world.tenant_b if owner == "it_staff_other" else world.tenant_a
    source = make_request(make_template(home, 2), world.user(owner))
    target = request_form(world)
    data = {**target.data(), "cloned_from": source.pk}
    response = client_for(world.user("requester_a")).post(target.url, data)
    assert response.status_code == 404
    assert ProvisioningRequest.objects.count() == 1


def test_an_api_client_cannot_submit_on_another_organisations_template(
    world: World, request: pytest.FixtureRequest
) -> None:
    client = api_caller("api_write", world, request)
    body = {**api_new_request(world), "template": make_template(world.tenant_b, 3).pk}
    response = client.post(reverse("api:request_create"), body, "application/json")
    assert response.status_code == 422
    assert not ProvisioningRequest.objects.exists()


def test_django_admin_bulk_edits_and_deletes_reach_only_the_admins_own_rows(world: World) -> None:
    theirs = make_template(world.tenant_b, 1)
    client_b = ApiClient.objects.create(
        name="Fabrikam's desk", tenant=world.tenant_b, app_id=uuid.uuid4()
    )
    client = client_for(world.user("admin"))
    edit = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": theirs.pk,
        "form-0-hidden": "on",
        "_save": "Save",
    }
    client.post(reverse("admin:provisioning_template_changelist"), edit)
    delete = {"action": "delete_selected", "_selected_action": [client_b.pk], "post": "yes"}
    client.post(reverse("admin:api_apiclient_changelist"), delete)
    theirs.refresh_from_db()
    assert not theirs.hidden
    assert ApiClient.objects.filter(pk=client_b.pk).exists()
