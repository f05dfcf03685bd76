"""The access matrix: every URL x persona -> the status each persona gets (ASVS 8.1.1, 8.2.1,
8.2.2, 8.4.1).

ONE table (MATRIX). A later issue adding a URL adds its rows here; `test_every_url_is_in_the_matrix`
fails for any URL pattern the table does not cover (Django admin's own pages excepted: a few
representative ones are listed, and every registered model's list and add pages).

Personas, in the table's column order:
- anonymous; no_role (signed in to Contoso, no portal role in the token);
- requester_a, requester_b (Contoso requesters); co_owner (Carol, a Contoso requester named as an
  owner on requester_a's requests: the portal's co-owners are the people a request names, who
  follow it read-only, provisioning.models.RequestPerson);
- it_staff (Contoso), it_staff_other (Fabrikam only); admin (Contoso's), admin_other
  (Fabrikam's: Lee Gu of issue 11); operator (the whole portal);
- api_read, api_write, api_directory: Contoso's service desk calling with a real app-only token
  (from the emulator's Entra) holding one API role each (Requests.Read, Requests.ReadWrite,
  Directory.Read); api_other: Fabrikam's service desk with every API role. A token is no
  session: on pages they are anonymous.

Objects live in Contoso (tenant_a) unless a row says otherwise, so it_staff_other, admin_other
and api_other must get 404, never 403 (which would tell them the object exists). A refused POST
(401, 403, 404, 405) must also leave every stored row as it was.

Below the table, rows rather than statuses: no list, export or lookup shows a row of another
organisation (`test_lists_and_exports_show_no_row_of_another_organisation`), and a co-owner
cannot decide an approval. Extra fields posted to forms: tests/security/test_mass_assignment.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from pytest_django.fixtures import Settings

from api.models import API_ROLES, DIRECTORY_READ, REQUESTS_READ, REQUESTS_READWRITE, ApiClient
from core.roles import Role
from portal.models import User
from portal.tasks import heartbeat
from tenants.models import Tenant
from tests.api.conftest import demo_app, fetch_token, resign
from tests.conftest import client_for, make_user, wire_to_emulator

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

PERSONAS = (
    "anonymous",
    "no_role",
    "requester_a",
    "requester_b",
    "co_owner",
    "it_staff",
    "it_staff_other",
    "admin",
    "admin_other",
    "operator",
    "api_read",
    "api_write",
    "api_directory",
    "api_other",
)
# The API clients: (tenant slug, the API roles their token carries).
API_PERSONAS = {
    "api_read": ("contoso", [REQUESTS_READ]),
    "api_write": ("contoso", [REQUESTS_READWRITE]),
    "api_directory": ("contoso", [DIRECTORY_READ]),
    "api_other": ("fabrikam", list(API_ROLES)),
}
CO_OWNER = "carol@contoso.example"  # make_user's e-mail for Carol of Contoso


@dataclass
class World:
    """What rows may refer to: tenants, and personas made on first use (objects are made by
    ``kwargs``/``data``)."""

    tenant_a: Tenant
    tenant_b: Tenant
    user: Callable[[str], User]


@dataclass(frozen=True)
class Row:
    name: str  # URL name, "namespace:name" for app URLs
    method: str
    expect: tuple[int, ...]  # in PERSONAS order
    kwargs: Callable[[World], dict[str, Any]] | None = None
    data: Callable[[World], dict[str, Any]] | None = None
    htmx: bool = False
    note: str = field(default="", compare=False)

    def label(self) -> str:
        return f"{self.method} {self.name}{' (htmx)' if self.htmx else ''}"


def contoso(w: World) -> dict[str, Any]:
    return {"slug": w.tenant_a.slug}


def contoso_check(w: World) -> dict[str, Any]:
    from tenants.models import ConnectionCheck

    return {"slug": w.tenant_a.slug, "pk": ConnectionCheck.objects.create(tenant=w.tenant_a).pk}


def on_graph(w: World) -> dict[str, Any]:
    """Contoso provisioning through Microsoft Graph: its admins define its templates."""
    w.tenant_a.provider = "graph"
    w.tenant_a.save(update_fields=["provider"])
    return {}


def graph_template(w: World) -> dict[str, Any]:
    from provisioning import services

    on_graph(w)
    definition = services.TemplateDefinition(name="Project group", workload="group")
    template = services.template_define(user=None, tenant=w.tenant_a, definition=definition)
    return {"pk": template.pk}


def template_definition(w: World) -> dict[str, Any]:
    return {"name": "Project group", "workload": "group", "privacy": "requester", "owners_min": 1}


def same_upstream(w: World) -> dict[str, Any]:
    t = w.tenant_a
    return {"provider": t.provider, "api_url": t.api_url, "point_app_id": str(t.point_app_id)}


def job_credentials(w: World) -> dict[str, Any]:
    return {
        "service_principal_id": "sp-1",
        "app_name": "Slack",
        "key_1": "SecretToken",
        "value_1": "s3cret",
    }


def contoso_handover(w: World) -> dict[str, Any]:
    from tenants.models import JobCredentials

    handover = JobCredentials.objects.create(
        tenant=w.tenant_a, service_principal_id="sp-1", keys=["SecretToken"]
    )
    return {"slug": w.tenant_a.slug, "pk": handover.pk}


def contoso_group(w: World) -> dict[str, Any]:
    return {"slug": w.tenant_a.slug, "name": "All Company"}


def contoso_report(w: World) -> dict[str, Any]:
    from django.utils import timezone

    from directory.models import ReportKind, ReportRun

    run = ReportRun.objects.create(
        tenant=w.tenant_a,
        kind=ReportKind.USER_ACCESS,
        subject="megan.bowen@contoso.onmicrosoft.com",
        state=ReportRun.State.SUCCEEDED,
        finished_at=timezone.now(),
    )
    return {"slug": w.tenant_a.slug, "pk": run.pk}


def contoso_template(w: World) -> dict[str, Any]:
    from tests.provisioning.ui_fixtures import make_template

    return {"template_pk": make_template(w.tenant_a, 1).pk}


def admin_object(kind: str) -> Callable[[World], dict[str, Any]]:
    """A Contoso object of ``kind`` for a Django admin change URL (``object_id``)."""

    def make(w: World) -> dict[str, Any]:
        from django.utils import timezone

        from audit.models import AuditAction, AuditEvent
        from provisioning.models import RequestEvent
        from tests.provisioning.ui_fixtures import make_template

        if kind == "tenant":
            return {"object_id": str(w.tenant_a.pk)}
        if kind == "user":
            return {"object_id": str(w.user("requester_a").pk)}
        if kind == "client":
            client, _ = ApiClient.objects.get_or_create(
                tenant=w.tenant_a, app_id=demo_app("contoso")["client_id"]
            )
            return {"object_id": str(client.pk)}
        if kind == "audit":
            entry = AuditEvent.objects.create(
                action=AuditAction.SIGN_IN, created_at=timezone.now(), tenant=w.tenant_a
            )
            return {"object_id": str(entry.pk)}
        if kind == "template":
            return {"object_id": str(make_template(w.tenant_a, 1).pk)}
        request = alices(w)
        if kind == "request":
            return {"object_id": str(request.pk)}
        event = RequestEvent.objects.create(request=request, source="portal", to_state="submitted")
        return {"object_id": str(event.pk)}

    return make


def contoso_hooks(w: World) -> dict[str, Any]:
    """The receiver of Contoso's webhooks (on, with a key): a post without a signature."""
    from tenants.models import WebhookSubscription

    sub, _ = WebhookSubscription.objects.get_or_create(tenant=w.tenant_a)
    sub.enabled = True
    sub.set_signing_key("k")
    sub.save()
    return {"token": sub.token}


def contoso_template_pk(w: World) -> int:
    from tests.provisioning.ui_fixtures import make_template

    return make_template(w.tenant_a, 1).pk


def contoso_upload(w: World) -> dict[str, Any]:
    """A bulk upload of Contoso's IT staff (one accepted row), not submitted."""
    from provisioning.models import BulkUpload
    from tests.provisioning.ui_fixtures import make_template

    template = make_template(w.tenant_a, 3)
    row = {
        "row": 2,
        "data": {"display_name": "Bulk one", "owners": "a@contoso.example"},
        "errors": {},
    }
    upload = BulkUpload.objects.create(
        tenant=w.tenant_a, template=template, uploaded_by=w.user("it_staff"), rows=[row]
    )
    return {"pk": upload.pk}


def alices(w: World, state: str = "submitted") -> Any:
    """A request of requester_a in Contoso that names Carol (co_owner) as an owner too."""
    from tests.provisioning.ui_fixtures import make_request, make_template

    alice = w.user("requester_a")
    return make_request(
        make_template(w.tenant_a, 1), alice, state=state, owners=[alice.email, CO_OWNER]
    )


def alices_approval(w: World) -> dict[str, Any]:
    """The waiting IT-staff stage of a request of requester_a in Contoso."""
    from provisioning.models import PortalApproval

    item = alices(w, state="portal_approval")
    approval = PortalApproval.objects.create(
        request=item, stage=1, kind="it_staff", decision="waiting"
    )
    return {"pk": approval.pk}


def alices_request(w: World) -> dict[str, Any]:
    """A submitted request of requester_a in Contoso (requester_b and Fabrikam's IT get 404)."""
    return {"pk": alices(w).pk}


def api_new_request(w: World) -> dict[str, Any]:
    """A valid API body for Contoso's "Public team" template (one owner)."""
    from tests.provisioning.ui_fixtures import make_template

    template = make_template(w.tenant_a, 3)
    return {"template": template.pk, "display_name": "Falcon", "owners": [CO_OWNER]}


def contoso_snapshot(w: World) -> dict[str, Any]:
    """A finished membership snapshot of a Contoso group."""
    from django.utils import timezone

    from directory.models import ReportKind, ReportRun

    ReportRun.objects.create(
        tenant=w.tenant_a,
        kind=ReportKind.GROUP_MEMBERSHIPS,
        subject="g1",
        state=ReportRun.State.SUCCEEDED,
        finished_at=timezone.now(),
    )
    return {"group_id": "g1"}


# fmt: off
# Columns, in PERSONAS order (an "F" is the Fabrikam persona; the last four call with a token):
#   anon  none  reqA  reqB  coown IT   ITF  adm  admF oper | apiR apiRW apiDir apiF
MATRIX: list[Row] = [
    # portal
    Row("home", "GET", (302, 403, 200, 200, 200, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("healthz", "GET", (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200), note="public: monitoring"),
    # sign-in (portal/views_auth.py)
    Row("sign_in", "GET", (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200)),
    Row("sign_in_start", "POST", (400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400), note="no tenant chosen"),
    Row("auth_callback", "GET", (400, 302, 302, 302, 302, 302, 302, 302, 302, 302, 400, 400, 400, 400),
        note="no sign-in under way: refused; a signed-in person stays signed in"),
    Row("sign_out", "POST", (302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302)),
    Row("sign_out", "GET", (405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405)),
    Row("select_tenant", "POST", (302, 403, 403, 403, 403, 404, 302, 404, 302, 302, 302, 302, 302, 302),
        data=lambda w: {"tenant": w.tenant_b.pk}, note="Fabrikam: only its own people and operators"),
    Row("select_tenant", "POST", (401, 403, 403, 403, 403, 404, 200, 404, 200, 200, 401, 401, 401, 401),
        data=lambda w: {"tenant": w.tenant_b.pk}, htmx=True, note="chosen: HX-Redirect"),
    # audit log (portal/views_audit.py): each admin reads their organisation's entries
    Row("audit_log", "GET", (302, 403, 403, 403, 403, 403, 403, 200, 200, 200, 302, 302, 302, 302)),
    Row("audit_log", "GET", (401, 403, 403, 403, 403, 403, 403, 200, 200, 200, 401, 401, 401, 401), htmx=True),
    Row("audit_export", "GET", (302, 403, 403, 403, 403, 403, 403, 200, 200, 200, 302, 302, 302, 302)),
    # Django admin, through Entra sign-in
    Row("admin_login", "GET", (302, 403, 403, 403, 403, 403, 403, 302, 302, 302, 302, 302, 302, 302)),
    Row("admin_logout", "POST", (302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302)),
    Row("admin:index", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 200, 200, 302, 302, 302, 302)),
    Row("admin:app_list", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 200, 200, 302, 302, 302, 302),
        kwargs=lambda w: {"app_label": "provisioning"}),
    Row("admin:autocomplete", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 200, 200, 302, 302, 302, 302),
        data=lambda w: {"app_label": "provisioning", "model_name": "provisioningrequest", "field_name": "template"},
        note="answers with the admin's own organisation's rows only (test_lists_...)"),
    Row("admin:password_change", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 200, 200, 302, 302, 302, 302),
        note="asks for the current password: Entra's people have none"),
    # tenants (issue 5)
    Row("tenants:list", "GET", (302, 403, 403, 403, 403, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("tenants:detail", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso),
    Row("tenants:check", "POST", (302, 403, 403, 403, 403, 302, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=contoso),
    Row("tenants:check", "POST", (401, 403, 403, 403, 403, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso, htmx=True),
    Row("tenants:check_result", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso_check),
    Row("tenants:check_result", "GET", (401, 403, 403, 403, 403, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso_check,
        htmx=True),
    # Webhooks: IT staff see them; only the organisation's admin (and operators) change them.
    Row("tenants:webhooks_on", "POST", (302, 403, 403, 403, 403, 403, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=contoso,
        note="Point is unreachable here: the admin is told why, next to nothing half on"),
    Row("tenants:webhooks_off", "POST", (302, 403, 403, 403, 403, 403, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=contoso),
    Row("tenants:webhook_registrations", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso),
    Row("tenants:webhook_registrations", "GET", (401, 403, 403, 403, 403, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso,
        htmx=True),
    Row("tenants:webhook_remove", "POST", (302, 403, 403, 403, 403, 403, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=contoso),
    # The upstream is an operator's choice (as in Django admin); provisioning jobs are the admins'.
    Row("tenants:upstream", "POST", (302, 403, 403, 403, 403, 403, 404, 403, 404, 302, 302, 302, 302, 302), kwargs=contoso, data=same_upstream),
    Row("tenants:jobs", "GET", (302, 403, 403, 403, 403, 403, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso),
    Row("tenants:job_credentials", "POST", (302, 403, 403, 403, 403, 403, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=contoso,
        data=job_credentials),
    Row("tenants:job_credentials_result", "GET", (302, 403, 403, 403, 403, 403, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso_handover),
    Row("tenants:job_credentials_result", "GET", (401, 403, 403, 403, 403, 403, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso_handover,
        htmx=True),
    # Templates the portal defines: the admins of a tenant without a catalogue (on the header's tenant).
    Row("provisioning:template_new", "GET", (302, 403, 403, 403, 403, 403, 403, 200, 404, 200, 302, 302, 302, 302), kwargs=on_graph),
    Row("provisioning:template_new", "POST", (302, 403, 403, 403, 403, 403, 403, 302, 404, 302, 302, 302, 302, 302), kwargs=on_graph,
        data=template_definition),
    Row("provisioning:template_edit", "GET", (302, 403, 403, 403, 403, 403, 403, 200, 404, 200, 302, 302, 302, 302), kwargs=graph_template),
    Row("provisioning:template_new", "GET", (302, 403, 403, 403, 403, 403, 403, 404, 404, 404, 302, 302, 302, 302),
        note="Contoso on Point: its templates come from Point's catalogue"),
    Row("webhook_receive", "POST", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401), kwargs=contoso_hooks,
        note="public by design: no session; the signature (missing here) decides"),
    Row("webhook_receive", "GET", (405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405), kwargs=contoso_hooks),
    # directory browser (issue 8; Contoso's Point is unreachable here: pages show the error)
    Row("directory:index", "GET", (302, 403, 403, 403, 403, 302, 302, 302, 302, 302, 302, 302, 302, 302)),
    Row("directory:groups", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso),
    Row("directory:groups", "GET", (401, 403, 403, 403, 403, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso, htmx=True),
    Row("directory:group", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso_group),
    Row("directory:group", "GET", (401, 403, 403, 403, 403, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso_group, htmx=True),
    Row("directory:sites", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso),
    Row("directory:sites", "GET", (401, 403, 403, 403, 403, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso, htmx=True),
    Row("directory:site_permissions", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso),
    Row("directory:site_permissions", "GET", (401, 403, 403, 403, 403, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso,
        htmx=True),
    Row("directory:user_access", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso,
        data=lambda w: {"upn": "megan.bowen@contoso.onmicrosoft.com"}),
    Row("directory:user_access", "GET", (401, 403, 403, 403, 403, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso,
        data=lambda w: {"upn": "megan.bowen@contoso.onmicrosoft.com"}, htmx=True),
    Row("directory:report_refresh", "POST", (302, 403, 403, 403, 403, 302, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=contoso,
        data=lambda w: {"kind": "user_access", "subject": "megan.bowen@contoso.onmicrosoft.com"}),
    Row("directory:report_refresh", "POST", (401, 403, 403, 403, 403, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso,
        data=lambda w: {"kind": "user_access", "subject": "megan.bowen@contoso.onmicrosoft.com"}, htmx=True),
    Row("directory:report_refresh", "GET", (405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405), kwargs=contoso),
    Row("directory:report_progress", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso_report),
    Row("directory:report_progress", "GET", (401, 403, 403, 403, 403, 286, 404, 286, 404, 286, 401, 401, 401, 401), kwargs=contoso_report,
        htmx=True, note="done: 286 stops htmx polling"),
    Row("directory:report_export", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso_report),
    # provisioning requests (issue 7): catalogue, form, lists, request page, dashboard
    Row("provisioning:catalogue", "GET", (302, 403, 200, 200, 200, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("provisioning:catalogue_refresh", "POST", (302, 403, 403, 403, 403, 302, 302, 302, 302, 302, 302, 302, 302, 302),
        note="each refreshes its own current tenant; Point is unreachable here, the task logs it"),
    Row("provisioning:request_new", "GET", (302, 403, 200, 200, 200, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso_template),
    Row("provisioning:request_new", "POST", (302, 403, 200, 200, 200, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso_template,
        note="empty form: shown again with errors"),
    Row("provisioning:request_preview", "GET", (401, 403, 200, 200, 200, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso_template,
        htmx=True),
    Row("provisioning:request_availability", "GET", (401, 403, 200, 200, 200, 200, 404, 200, 404, 200, 401, 401, 401, 401),
        kwargs=contoso_template, htmx=True, note="no name typed: no upstream call"),
    Row("provisioning:request_people", "GET", (401, 403, 200, 200, 200, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=contoso_template,
        htmx=True),
    Row("provisioning:request_people_check", "GET", (401, 403, 200, 200, 200, 200, 404, 200, 404, 200, 401, 401, 401, 401),
        kwargs=contoso_template, htmx=True),
    Row("provisioning:request_list_mine", "GET", (302, 403, 200, 200, 200, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("provisioning:request_list_mine", "GET", (401, 403, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401, 401, 401), htmx=True),
    Row("provisioning:request_list_all", "GET", (302, 403, 403, 403, 403, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("provisioning:request_list_all", "GET", (401, 403, 403, 403, 403, 200, 200, 200, 200, 200, 401, 401, 401, 401), htmx=True),
    Row("provisioning:request_export", "GET", (302, 403, 403, 403, 403, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("provisioning:dashboard", "GET", (302, 403, 403, 403, 403, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("provisioning:bulk_new", "GET", (302, 403, 403, 403, 403, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("provisioning:bulk_new", "POST", (302, 403, 403, 403, 403, 200, 200, 200, 200, 200, 302, 302, 302, 302),
        note="no file: the form again, with the message next to the field"),
    Row("provisioning:bulk_blank", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302),
        data=lambda w: {"template": str(contoso_template_pk(w))}),
    Row("provisioning:bulk_detail", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso_upload),
    Row("provisioning:bulk_submit", "POST", (302, 403, 403, 403, 403, 302, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=contoso_upload),
    Row("provisioning:bulk_export", "GET", (302, 403, 403, 403, 403, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=contoso_upload),
    Row("provisioning:approvals", "GET", (302, 403, 200, 200, 200, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("provisioning:approval_decide", "POST", (302, 403, 302, 404, 302, 302, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=alices_approval,
        data=lambda w: {"decision": "approve"}, note="the requester is told she cannot approve her own"),
    Row("provisioning:deliveries", "GET", (302, 403, 403, 403, 403, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("provisioning:deliveries", "GET", (401, 403, 403, 403, 403, 200, 200, 200, 200, 200, 401, 401, 401, 401), htmx=True),
    Row("provisioning:deliveries_export", "GET", (302, 403, 403, 403, 403, 200, 200, 200, 200, 200, 302, 302, 302, 302)),
    Row("provisioning:request_detail", "GET", (302, 403, 200, 404, 200, 200, 404, 200, 404, 200, 302, 302, 302, 302), kwargs=alices_request),
    Row("provisioning:request_status", "GET", (401, 403, 200, 404, 200, 200, 404, 200, 404, 200, 401, 401, 401, 401), kwargs=alices_request,
        htmx=True),
    Row("provisioning:request_retry", "POST", (302, 403, 302, 404, 403, 302, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=alices_request,
        note="not failed: refused with a message"),
    Row("provisioning:request_cancel", "POST", (302, 403, 302, 404, 403, 302, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=alices_request),
    Row("provisioning:request_send_again", "POST", (302, 403, 403, 403, 403, 302, 404, 302, 404, 302, 302, 302, 302, 302),
        kwargs=alices_request, note="not confirming: refused with a message"),
    Row("provisioning:request_cancel", "GET", (405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405, 405), kwargs=alices_request),
    Row("provisioning:request_clone", "GET", (302, 403, 302, 404, 302, 302, 404, 302, 404, 302, 302, 302, 302, 302), kwargs=alices_request),
    # An organisation's admins register their own API clients (for their own tenant only).
    Row("admin:api_apiclient_add", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 200, 200, 302, 302, 302, 302)),
    Row("admin:api_apiclient_change", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 404, 200, 302, 302, 302, 302),
        kwargs=admin_object("client")),
    Row("admin:api_apiclient_delete", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 404, 200, 302, 302, 302, 302),
        kwargs=admin_object("client")),
    # The REST API: a session is no token (401 for every browser persona); a token needs the
    # endpoint's API role (403 without), and another organisation's request is a 404. Its
    # OpenAPI document and docs are public. Both tenants' upstreams are the emulator's here.
    Row("api:openapi-json", "GET", (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200)),
    Row("api:openapi-view", "GET", (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200)),
    Row("api:api-root", "GET", (404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404)),
    Row("api:template_list", "GET", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 200, 200, 403, 200)),
    Row("api:request_list", "GET", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 200, 200, 403, 200)),
    Row("api:request_changes", "GET", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 200, 200, 403, 200)),
    Row("api:request_create", "POST", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 201, 403, 422),
        data=api_new_request, note="Fabrikam's client: no such template offered in its organisation"),
    Row("api:request_get", "GET", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 200, 200, 403, 404),
        kwargs=alices_request),
    Row("api:request_cancel", "POST", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 200, 403, 404),
        kwargs=alices_request),
    Row("api:request_retry", "POST", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 409, 403, 404),
        kwargs=alices_request, note="not failed: 409"),
    Row("api:group_list", "GET", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 403, 200, 200)),
    Row("api:site_list", "GET", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 403, 200, 200)),
    Row("api:group_memberships", "GET", (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 403, 200, 404),
        kwargs=contoso_snapshot),
    # Django admin: each admin sees their organisation's rows; another's object id is a 404;
    # adding, deleting and Django's own models (schedules, tasks, groups) are operators' only.
    *[Row(f"admin:{model}_changelist", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 200, 200, 302, 302, 302, 302))
      for model in ("portal_user", "audit_auditevent", "tenants_tenant", "provisioning_provisioningrequest",
                    "provisioning_requestevent", "provisioning_template", "api_apiclient")],
    *[Row(f"admin:{model}_changelist", "GET", (302, 302, 302, 302, 302, 302, 302, 403, 403, 200, 302, 302, 302, 302))
      for model in ("auth_group", "django_q_schedule", "django_q_success", "django_q_failure", "django_q_ormq")],
    *[Row(f"admin:{model}_add", "GET", (302, 302, 302, 302, 302, 302, 302, 403, 403, expected, 302, 302, 302, 302))
      for model, expected in (("portal_user", 200), ("audit_auditevent", 403), ("tenants_tenant", 200),
                              ("provisioning_provisioningrequest", 403), ("provisioning_requestevent", 403),
                              ("provisioning_template", 403), ("auth_group", 200), ("django_q_schedule", 200),
                              ("django_q_success", 403), ("django_q_failure", 403), ("django_q_ormq", 403))],
    Row("admin:tenants_tenant_change", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 404, 200, 302, 302, 302, 302), kwargs=admin_object("tenant")),
    Row("admin:tenants_tenant_change", "POST", (302, 302, 302, 302, 302, 302, 302, 302, 404, 200, 302, 302, 302, 302), kwargs=admin_object("tenant"),
        data=lambda w: {"name": "Contoso", "secret_expires_on": ""},
        note="the admin may rename it; the operator's form needs every field and is shown again"),
    Row("admin:tenants_tenant_delete", "GET", (302, 302, 302, 302, 302, 302, 302, 403, 404, 200, 302, 302, 302, 302), kwargs=admin_object("tenant")),
    Row("admin:tenants_tenant_history", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 404, 200, 302, 302, 302, 302), kwargs=admin_object("tenant")),
    Row("admin:portal_user_change", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 404, 200, 302, 302, 302, 302), kwargs=admin_object("user")),
    Row("admin:auth_user_password_change", "GET", (302, 302, 302, 302, 302, 302, 302, 403, 403, 200, 302, 302, 302, 302),
        kwargs=lambda w: {"id": str(w.user("requester_a").pk)}, note="a local password is an operator's matter"),
    Row("admin:audit_auditevent_change", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 404, 200, 302, 302, 302, 302), kwargs=admin_object("audit")),
    Row("admin:provisioning_provisioningrequest_change", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 404, 200, 302, 302, 302, 302),
        kwargs=admin_object("request")),
    Row("admin:provisioning_requestevent_change", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 404, 200, 302, 302, 302, 302),
        kwargs=admin_object("event")),
    Row("admin:provisioning_template_change", "GET", (302, 302, 302, 302, 302, 302, 302, 200, 404, 200, 302, 302, 302, 302),
        kwargs=admin_object("template")),
]
# fmt: on


def url_names(patterns: list[URLPattern | URLResolver], namespace: str = "") -> Iterator[str]:
    """Every named URL pattern (or its route when unnamed), Django admin's include excepted."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_names(pattern.url_patterns, inner)
        else:
            yield f"{namespace}{pattern.name}" if pattern.name else str(pattern.pattern)


def test_every_url_is_in_the_matrix() -> None:
    covered = {row.name for row in MATRIX}
    missing = sorted(set(url_names(get_resolver().url_patterns)) - covered)
    assert not missing, f"Add rows to MATRIX in tests/test_access_matrix.py for: {missing}"


def test_every_model_in_django_admin_is_in_the_matrix() -> None:
    from django.contrib import admin

    covered = {row.name for row in MATRIX}
    wanted = {
        f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
        for model in admin.site._registry
        for view in ("changelist", "add")
    }
    assert not sorted(wanted - covered), (
        f"Add Django admin rows to MATRIX for: {sorted(wanted - covered)}"
    )


def test_every_row_names_an_existing_url_and_every_persona() -> None:
    names = set(url_names(get_resolver().url_patterns))
    for row in MATRIX:
        assert row.name in names or row.name.startswith("admin:"), row.name
        assert len(row.expect) == len(PERSONAS), row.label()


# The personas tests/conftest.py has no fixture for: (first name, role), in Contoso.
MORE_PEOPLE = {"no_role": ("Nina", ""), "co_owner": ("Carol", Role.REQUESTER)}


def make_world(request: pytest.FixtureRequest, tenant_a: Tenant, tenant_b: Tenant) -> World:
    """The tenants; each persona is made when a cell first needs it (a cell needs one or two
    of the fourteen: making them all took a third of the matrix's time)."""
    heartbeat()  # /healthz answers 200 with a live worker
    made: dict[str, User] = {}

    def user(name: str) -> User:
        if name not in made:
            if name in MORE_PEOPLE:
                made[name] = make_user(tenant_a, *MORE_PEOPLE[name])
            else:
                made[name] = request.getfixturevalue(name)
        return made[name]

    return World(tenant_a, tenant_b, user)


@pytest.fixture
def world(request: pytest.FixtureRequest, tenant_a: Tenant, tenant_b: Tenant) -> World:
    return make_world(request, tenant_a, tenant_b)


@contextmanager
def token_emulator() -> Iterator[tuple[RunningEmulator, dict[str, str]]]:
    """An emulator, and each API persona's token: the service desk's real client-credentials
    token, signed again by its Entra with only the persona's API roles."""
    from emulator.server import start_background

    running = start_background(log_requests=False)
    try:
        yield (
            running,
            {
                persona: resign(running, fetch_token(running, slug), roles=roles)
                for persona, (slug, roles) in API_PERSONAS.items()
            },
        )
    finally:
        running.stop()


@pytest.fixture(scope="module")
def api_tokens() -> Iterator[tuple[RunningEmulator, dict[str, str]]]:
    """Started once a module: one per API cell would double the matrix's time."""
    with token_emulator() as found:
        yield found


def api_caller(persona: str, world: World, request: pytest.FixtureRequest) -> Client:
    """A client sending the persona's token, both service desks registered with every role,
    and Entra and both upstreams at the module's emulator (as the ``emulator`` fixture sets)."""
    running, tokens = request.getfixturevalue("api_tokens")
    settings: Settings = request.getfixturevalue("settings")
    wire_to_emulator(settings, running.url)
    for tenant in (world.tenant_a, world.tenant_b):
        tenant.api_url = f"{running.url}/point/{tenant.slug}"
        tenant.save(update_fields=["api_url"])
        ApiClient.objects.get_or_create(
            tenant=tenant,
            app_id=demo_app(tenant.slug)["client_id"],
            defaults={"name": f"Service desk of {tenant.slug}", "roles": list(API_ROLES)},
        )
    return Client(headers={"Authorization": f"Bearer {tokens[persona]}"})


REFUSED = (401, 403, 404, 405)


def stored() -> list[list[dict[str, Any]]]:
    """Every row a POST of the matrix could change (people, API clients and the audit log
    aside: signing in, a token's first use and refusals write those)."""
    from django.apps import apps

    labels = (
        "tenants.Tenant",
        "tenants.WebhookSubscription",
        "tenants.JobCredentials",
        "tenants.ConnectionCheck",
        "provisioning.Template",
        "provisioning.ProvisioningRequest",
        "provisioning.RequestEvent",
        "provisioning.PortalApproval",
        "provisioning.BulkUpload",
        "directory.ReportRun",
        "django_q.Task",
    )
    return [list(apps.get_model(label).objects.order_by("pk").values()) for label in labels]


def answer(row: Row, persona: str, world: World, request: pytest.FixtureRequest) -> int | str:
    """The status the persona gets; a refused POST that changed a stored row says so."""
    if persona == "anonymous":
        client = Client()
    elif persona in API_PERSONAS:
        client = api_caller(persona, world, request)
    else:
        client = client_for(world.user(persona))
    url = reverse(row.name, kwargs=row.kwargs(world) if row.kwargs else None)
    headers = {"HX-Request": "true"} if row.htmx else {}
    data = row.data(world) if row.data else {}
    # A refused POST changes nothing; the webhook receiver notes a rejected post (by design:
    # docs/webhooks.md), so only its status counts.
    expected = row.expect[PERSONAS.index(persona)]
    checked = row.method != "GET" and expected in REFUSED and row.name != "webhook_receive"
    before = stored() if checked else None
    if row.method == "GET":
        response = client.get(url, data, headers=headers)
    elif not data:
        response = client.generic(row.method, url, headers=headers)
    elif row.name.startswith("api:"):
        response = client.post(url, json.dumps(data), "application/json", headers=headers)
    else:
        response = client.post(url, data, headers=headers)
    if before is not None and stored() != before:
        return f"{response.status_code}, yet it changed stored rows"
    return response.status_code


@pytest.mark.django_db
@pytest.mark.parametrize("row", MATRIX, ids=Row.label)
def test_access(row: Row, world: World, request: pytest.FixtureRequest) -> None:
    """Each persona in turn, each in a savepoint rolled back after it, so that what one
    persona's POST changed is not there for the next. (One test a row, not a cell: the
    fixtures and the test's transaction once a row halve the matrix's time.)"""
    for persona in PERSONAS:
        if persona != "anonymous" and persona not in API_PERSONAS:
            world.user(persona)  # before the savepoints, which would take them away
    got: dict[str, int | str] = {}
    # In PERSONAS order: the API clients come last, as api_caller points the settings at the
    # emulator for the rest of the test.
    for persona in PERSONAS:
        with transaction.atomic():
            got[persona] = answer(row, persona, world, request)
            transaction.set_rollback(True)
        cache.clear()  # what one persona cached (a list, a rate count) is not the next's
    wrong = [
        f"{persona}: {got[persona]}, expected {expected}"
        for persona, expected in zip(PERSONAS, row.expect, strict=True)
        if got[persona] != expected
    ]
    assert not wrong, f"{row.label()}: " + "; ".join(wrong)


# --- Lists and exports: rows, not only statuses -----------------------------------------------

MARK = "Zebracorn"  # in every Contoso row below, and nowhere else
# Lists filtered by tenant (the header's by default): each is asked for "any tenant" and, forged,
# for Contoso's id; the others as they open.
FILTERED = (
    "provisioning:request_list_all",
    "provisioning:request_export",
    "provisioning:deliveries",
    "provisioning:deliveries_export",
    "audit_log",
    "audit_export",
)
# A list or export, a Contoso persona who must see the marked rows (so the check can fail), and
# the Fabrikam persona who must not.
LISTS = [
    ("provisioning:request_list_all", "it_staff", "it_staff_other"),
    ("provisioning:request_export", "it_staff", "it_staff_other"),
    ("provisioning:deliveries", "it_staff", "it_staff_other"),
    ("provisioning:deliveries_export", "it_staff", "it_staff_other"),
    ("audit_log", "admin", "admin_other"),
    ("audit_export", "admin", "admin_other"),
    ("provisioning:approvals", "it_staff", "it_staff_other"),
    ("provisioning:request_list_mine", "requester_a", "it_staff_other"),
    ("provisioning:dashboard", "it_staff", "it_staff_other"),
    ("home", "it_staff", "it_staff_other"),
    ("tenants:list", "it_staff", "it_staff_other"),
    *[
        (f"admin:{model}_changelist", "admin", "admin_other")
        for model in (
            "portal_user",
            "audit_auditevent",
            "tenants_tenant",
            "provisioning_provisioningrequest",
            "provisioning_requestevent",
            "provisioning_template",
            "api_apiclient",
        )
    ],
    ("admin:autocomplete", "admin", "admin_other"),
    ("api:template_list", "api_read", "api_other"),
    ("api:request_list", "api_read", "api_other"),
    ("api:request_changes", "api_read", "api_other"),
]


def contoso_marked(w: World) -> None:
    """Contoso, and one row of it named MARK in each list."""
    from datetime import timedelta

    from django.utils import timezone

    from audit.models import AuditAction, AuditEvent
    from provisioning.models import PortalApproval, ProvisioningRequest, WebhookDelivery
    from tests.provisioning.ui_fixtures import make_request, make_template

    Tenant.objects.filter(pk=w.tenant_a.pk).update(name=f"{MARK} Ltd")
    template = make_template(w.tenant_a, 1, name=MARK)
    alice = w.user("requester_a")
    # Fabrikam's Oscar named as a member by his address: he may not follow it from Fabrikam.
    item = make_request(template, alice, name=MARK, members=["oscar@fabrikam.example"])
    # Settled, so the API's changes feed hands it out (CHANGES_SETTLE).
    ProvisioningRequest.objects.filter(pk=item.pk).update(
        state="portal_approval", updated_at=timezone.now() - timedelta(minutes=1)
    )
    # Named approvers: Contoso's Ivy, and Fabrikam's Oscar by his address (which Fabrikam's
    # Entra vouches for, not Contoso's): only Ivy may see it waiting.
    PortalApproval.objects.create(
        request=item,
        stage=1,
        kind="group",
        decision="waiting",
        approvers=["ivy@contoso.example", "oscar@fabrikam.example"],
    )
    item.events.create(source="portal", to_state="submitted", detail=MARK)
    WebhookDelivery.objects.create(
        tenant=w.tenant_a, received_at=timezone.now(), verdict="accepted", workspace_name=MARK
    )
    AuditEvent.objects.create(
        action=AuditAction.SIGN_IN, created_at=timezone.now(), tenant=w.tenant_a, detail=MARK
    )
    make_user(w.tenant_a, MARK, Role.REQUESTER)
    ApiClient.objects.create(
        name=MARK, tenant=w.tenant_a, app_id="00000000-0000-0000-0000-00000000e5c0"
    )


def page_text(response: Any) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "insider", "outsider"), LISTS, ids=[n for n, _, _ in LISTS])
def test_lists_and_exports_show_no_row_of_another_organisation(
    name: str, insider: str, outsider: str, world: World, request: pytest.FixtureRequest
) -> None:
    contoso_marked(world)
    queries: list[dict[str, Any]] = [{}]
    if name in FILTERED:
        queries = [{"tenant": ""}, {"tenant": world.tenant_a.pk}]
    if name == "admin:autocomplete":  # a request's "cloned from" field looks requests up
        queries = [
            {
                "app_label": "provisioning",
                "model_name": "provisioningrequest",
                "field_name": "cloned_from",
                "term": MARK,
            }
        ]
    for persona, sees in ((insider, True), (outsider, False)):
        if persona in API_PERSONAS:
            client = api_caller(persona, world, request)
        else:
            client = client_for(world.user(persona))
        for query in queries:
            response = client.get(reverse(name), query)
            assert response.status_code == 200, f"{name} as {persona}: {response.status_code}"
            assert (MARK in page_text(response)) is sees, (
                f"{name}?{query} as {persona}: {'misses' if sees else 'shows'} Contoso's rows"
            )


@pytest.mark.django_db
def test_a_co_owner_follows_a_request_but_cannot_decide_its_approval(world: World) -> None:
    """The matrix's 302 for the co-owner is "refused with a message": nothing was decided."""
    from provisioning.models import PortalApproval

    approval = PortalApproval.objects.get(pk=alices_approval(world)["pk"])
    client = client_for(world.user("co_owner"))
    page = reverse("provisioning:request_detail", kwargs={"pk": approval.request_id})
    assert client.get(page).status_code == 200
    decide = reverse("provisioning:approval_decide", kwargs={"pk": approval.pk})
    client.post(decide, {"decision": "approve"})
    approval.refresh_from_db()
    assert (approval.decision, approval.decided_by) == ("waiting", None)
    assert approval.request.state == "portal_approval"
