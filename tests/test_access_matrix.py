"""The access matrix: every URL x persona -> the status each persona gets (ASVS 8.1.1, 8.2.1).

ONE table (MATRIX). A later issue adding a URL adds its rows here; `test_every_url_is_in_the_matrix`
fails for any URL pattern the table does not cover (Django admin's own pages excepted: a few
representative ones are listed).

Personas (tests/conftest.py): anonymous; requester_a and requester_b (Contoso requesters);
it_staff (Contoso); it_staff_other (Fabrikam only); admin (Contoso's admin); admin_other
(Fabrikam's admin: Lee Gu of issue 11); operator (the whole portal). Objects live in Contoso
(tenant_a) unless a row says otherwise, so it_staff_other and admin_other must get 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from portal.models import User
from portal.tasks import heartbeat
from tenants.models import Tenant
from tests.conftest import client_for

PERSONAS = (
    "anonymous",
    "requester_a",
    "requester_b",
    "it_staff",
    "it_staff_other",
    "admin",
    "admin_other",
    "operator",
)


@dataclass
class World:
    """What rows may refer to: tenants and personas (objects are made by ``kwargs``/``data``)."""

    tenant_a: Tenant
    tenant_b: Tenant
    users: dict[str, User]


@dataclass(frozen=True)
class Row:
    name: str  # URL name, "namespace:name" for app URLs
    method: str
    expect: tuple[int, int, int, int, int, int, int, int]  # in PERSONAS order
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
        from tests.provisioning.ui_fixtures import make_request, make_template

        if kind == "tenant":
            return {"object_id": str(w.tenant_a.pk)}
        if kind == "user":
            return {"object_id": str(w.users["requester_a"].pk)}
        if kind == "audit":
            entry = AuditEvent.objects.create(
                action=AuditAction.SIGN_IN, created_at=timezone.now(), tenant=w.tenant_a
            )
            return {"object_id": str(entry.pk)}
        template = make_template(w.tenant_a, 1)
        if kind == "template":
            return {"object_id": str(template.pk)}
        request = make_request(template, w.users["requester_a"])
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
        tenant=w.tenant_a, template=template, uploaded_by=w.users["it_staff"], rows=[row]
    )
    return {"pk": upload.pk}


def alices_approval(w: World) -> dict[str, Any]:
    """The waiting IT-staff stage of a request of requester_a in Contoso."""
    from provisioning.models import PortalApproval
    from tests.provisioning.ui_fixtures import make_request, make_template

    item = make_request(
        make_template(w.tenant_a, 1), w.users["requester_a"], state="portal_approval"
    )
    approval = PortalApproval.objects.create(
        request=item, stage=1, kind="it_staff", decision="waiting"
    )
    return {"pk": approval.pk}


def alices_request(w: World) -> dict[str, Any]:
    """A submitted request of requester_a in Contoso (requester_b and Fabrikam's IT get 404)."""
    from tests.provisioning.ui_fixtures import make_request, make_template

    return {"pk": make_request(make_template(w.tenant_a, 1), w.users["requester_a"]).pk}


# fmt: off
# Columns, in PERSONAS order:
#   anon  req_a  req_b  it     it_oth admin  adm_oth oper
MATRIX: list[Row] = [
    # portal
    Row("home", "GET", (302, 200, 200, 200, 200, 200, 200, 200)),
    Row("healthz", "GET", (200, 200, 200, 200, 200, 200, 200, 200), note="public: monitoring"),
    # sign-in (portal/views_auth.py)
    Row("sign_in", "GET", (200, 200, 200, 200, 200, 200, 200, 200)),
    Row("sign_in_start", "POST", (400, 400, 400, 400, 400, 400, 400, 400), note="no tenant chosen"),
    Row("auth_callback", "GET", (400, 302, 302, 302, 302, 302, 302, 302),
        note="no sign-in under way: refused; a signed-in person stays signed in"),
    Row("sign_out", "POST", (302, 302, 302, 302, 302, 302, 302, 302)),
    Row("sign_out", "GET", (405, 405, 405, 405, 405, 405, 405, 405)),
    Row("select_tenant", "POST", (302, 403, 403, 404, 302, 404, 302, 302),
        data=lambda w: {"tenant": w.tenant_b.pk}, note="Fabrikam: only its own people and operators"),
    # audit log (portal/views_audit.py): each admin reads their organisation's entries
    Row("audit_log", "GET", (302, 403, 403, 403, 403, 200, 200, 200)),
    Row("audit_log", "GET", (401, 403, 403, 403, 403, 200, 200, 200), htmx=True),
    Row("audit_export", "GET", (302, 403, 403, 403, 403, 200, 200, 200)),
    # Django admin, through Entra sign-in
    Row("admin_login", "GET", (302, 403, 403, 403, 403, 302, 302, 302)),
    Row("admin_logout", "POST", (302, 302, 302, 302, 302, 302, 302, 302)),
    Row("admin:index", "GET", (302, 302, 302, 302, 302, 200, 200, 200)),
    # tenants (issue 5)
    Row("tenants:list", "GET", (302, 403, 403, 200, 200, 200, 200, 200)),
    Row("tenants:detail", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso),
    Row("tenants:check", "POST", (302, 403, 403, 302, 404, 302, 404, 302), kwargs=contoso),
    Row("tenants:check_result", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso_check),
    # Webhooks: IT staff see them; only the organisation's admin (and operators) change them.
    Row("tenants:webhooks_on", "POST", (302, 403, 403, 403, 404, 302, 404, 302), kwargs=contoso,
        note="Point is unreachable here: the admin is told why, next to nothing half on"),
    Row("tenants:webhooks_off", "POST", (302, 403, 403, 403, 404, 302, 404, 302), kwargs=contoso),
    Row("tenants:webhook_registrations", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso),
    Row("tenants:webhook_remove", "POST", (302, 403, 403, 403, 404, 302, 404, 302), kwargs=contoso),
    # The upstream is an operator's choice (as in Django admin); provisioning jobs are the admins'.
    Row("tenants:upstream", "POST", (302, 403, 403, 403, 404, 403, 404, 302), kwargs=contoso, data=same_upstream),
    Row("tenants:jobs", "GET", (302, 403, 403, 403, 404, 200, 404, 200), kwargs=contoso),
    Row("tenants:job_credentials", "POST", (302, 403, 403, 403, 404, 302, 404, 302), kwargs=contoso,
        data=job_credentials),
    Row("tenants:job_credentials_result", "GET", (302, 403, 403, 403, 404, 200, 404, 200), kwargs=contoso_handover),
    Row("tenants:job_credentials_result", "GET", (401, 403, 403, 403, 404, 200, 404, 200), kwargs=contoso_handover,
        htmx=True),
    # Templates the portal defines: the admins of a tenant without a catalogue (on the header's tenant).
    Row("provisioning:template_new", "GET", (302, 403, 403, 403, 403, 200, 404, 200), kwargs=on_graph),
    Row("provisioning:template_new", "POST", (302, 403, 403, 403, 403, 302, 404, 302), kwargs=on_graph,
        data=template_definition),
    Row("provisioning:template_edit", "GET", (302, 403, 403, 403, 403, 200, 404, 200), kwargs=graph_template),
    Row("provisioning:template_new", "GET", (302, 403, 403, 403, 403, 404, 404, 404),
        note="Contoso on Point: its templates come from Point's catalogue"),
    Row("webhook_receive", "POST", (401, 401, 401, 401, 401, 401, 401, 401), kwargs=contoso_hooks,
        note="public by design: no session; the signature (missing here) decides"),
    Row("webhook_receive", "GET", (405, 405, 405, 405, 405, 405, 405, 405), kwargs=contoso_hooks),
    # directory browser (issue 8; Contoso's Point is unreachable here: pages show the error)
    Row("directory:index", "GET", (302, 403, 403, 302, 302, 302, 302, 302)),
    Row("directory:groups", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso),
    Row("directory:groups", "GET", (401, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso, htmx=True),
    Row("directory:group", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso_group),
    Row("directory:sites", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso),
    Row("directory:site_permissions", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso),
    Row("directory:user_access", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso,
        data=lambda w: {"upn": "megan.bowen@contoso.onmicrosoft.com"}),
    Row("directory:report_refresh", "POST", (302, 403, 403, 302, 404, 302, 404, 302), kwargs=contoso,
        data=lambda w: {"kind": "user_access", "subject": "megan.bowen@contoso.onmicrosoft.com"}),
    Row("directory:report_refresh", "GET", (405, 405, 405, 405, 405, 405, 405, 405), kwargs=contoso),
    Row("directory:report_progress", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso_report),
    Row("directory:report_progress", "GET", (401, 403, 403, 286, 404, 286, 404, 286), kwargs=contoso_report,
        htmx=True, note="done: 286 stops htmx polling"),
    Row("directory:report_export", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso_report),
    # provisioning requests (issue 7): catalogue, form, lists, request page, dashboard
    Row("provisioning:catalogue", "GET", (302, 200, 200, 200, 200, 200, 200, 200)),
    Row("provisioning:catalogue_refresh", "POST", (302, 403, 403, 302, 302, 302, 302, 302),
        note="each refreshes its own current tenant; Point is unreachable here, the task logs it"),
    Row("provisioning:request_new", "GET", (302, 200, 200, 200, 404, 200, 404, 200), kwargs=contoso_template),
    Row("provisioning:request_new", "POST", (302, 200, 200, 200, 404, 200, 404, 200), kwargs=contoso_template,
        note="empty form: shown again with errors"),
    Row("provisioning:request_preview", "GET", (401, 200, 200, 200, 404, 200, 404, 200), kwargs=contoso_template,
        htmx=True),
    Row("provisioning:request_availability", "GET", (401, 200, 200, 200, 404, 200, 404, 200),
        kwargs=contoso_template, htmx=True, note="no name typed: no upstream call"),
    Row("provisioning:request_people", "GET", (401, 200, 200, 200, 404, 200, 404, 200), kwargs=contoso_template,
        htmx=True),
    Row("provisioning:request_people_check", "GET", (401, 200, 200, 200, 404, 200, 404, 200),
        kwargs=contoso_template, htmx=True),
    Row("provisioning:request_list_mine", "GET", (302, 200, 200, 200, 200, 200, 200, 200)),
    Row("provisioning:request_list_all", "GET", (302, 403, 403, 200, 200, 200, 200, 200)),
    Row("provisioning:request_list_all", "GET", (401, 403, 403, 200, 200, 200, 200, 200), htmx=True),
    Row("provisioning:request_export", "GET", (302, 403, 403, 200, 200, 200, 200, 200)),
    Row("provisioning:dashboard", "GET", (302, 403, 403, 200, 200, 200, 200, 200)),
    Row("provisioning:bulk_new", "GET", (302, 403, 403, 200, 200, 200, 200, 200)),
    Row("provisioning:bulk_new", "POST", (302, 403, 403, 200, 200, 200, 200, 200),
        note="no file: the form again, with the message next to the field"),
    Row("provisioning:bulk_blank", "GET", (302, 403, 403, 200, 404, 200, 404, 200),
        data=lambda w: {"template": str(contoso_template_pk(w))}),
    Row("provisioning:bulk_detail", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso_upload),
    Row("provisioning:bulk_submit", "POST", (302, 403, 403, 302, 404, 302, 404, 302), kwargs=contoso_upload),
    Row("provisioning:bulk_export", "GET", (302, 403, 403, 200, 404, 200, 404, 200), kwargs=contoso_upload),
    Row("provisioning:approvals", "GET", (302, 200, 200, 200, 200, 200, 200, 200)),
    Row("provisioning:approval_decide", "POST", (302, 302, 404, 302, 404, 302, 404, 302), kwargs=alices_approval,
        data=lambda w: {"decision": "approve"}, note="the requester is told she cannot approve her own"),
    Row("provisioning:deliveries", "GET", (302, 403, 403, 200, 200, 200, 200, 200)),
    Row("provisioning:deliveries", "GET", (401, 403, 403, 200, 200, 200, 200, 200), htmx=True),
    Row("provisioning:deliveries_export", "GET", (302, 403, 403, 200, 200, 200, 200, 200)),
    Row("provisioning:request_detail", "GET", (302, 200, 404, 200, 404, 200, 404, 200), kwargs=alices_request),
    Row("provisioning:request_status", "GET", (401, 200, 404, 200, 404, 200, 404, 200), kwargs=alices_request,
        htmx=True),
    Row("provisioning:request_retry", "POST", (302, 302, 404, 302, 404, 302, 404, 302), kwargs=alices_request,
        note="not failed: refused with a message"),
    Row("provisioning:request_cancel", "POST", (302, 302, 404, 302, 404, 302, 404, 302), kwargs=alices_request),
    Row("provisioning:request_send_again", "POST", (302, 403, 403, 302, 404, 302, 404, 302),
        kwargs=alices_request, note="not confirming: refused with a message"),
    Row("provisioning:request_cancel", "GET", (405, 405, 405, 405, 405, 405, 405, 405), kwargs=alices_request),
    Row("provisioning:request_clone", "GET", (302, 302, 404, 302, 404, 302, 404, 302), kwargs=alices_request),
    # An organisation's admins register their own API clients (for their own tenant only).
    Row("admin:api_apiclient_add", "GET", (302, 302, 302, 302, 302, 200, 200, 200)),
    # The REST API: a session is no token (401 for everyone; tests/api checks tokens); its
    # OpenAPI document and docs are public.
    Row("api:openapi-json", "GET", (200, 200, 200, 200, 200, 200, 200, 200)),
    Row("api:openapi-view", "GET", (200, 200, 200, 200, 200, 200, 200, 200)),
    Row("api:api-root", "GET", (404, 404, 404, 404, 404, 404, 404, 404)),
    *[Row(f"api:{name}", method, (401,) * 8, kwargs=kwargs)
      for name, method, kwargs in (
          ("template_list", "GET", None), ("request_list", "GET", None),
          ("request_create", "POST", None), ("request_changes", "GET", None),
          ("request_get", "GET", lambda w: {"pk": 1}), ("request_cancel", "POST", lambda w: {"pk": 1}),
          ("request_retry", "POST", lambda w: {"pk": 1}), ("group_list", "GET", None),
          ("site_list", "GET", None), ("group_memberships", "GET", lambda w: {"group_id": "g1"}))],
    # Django admin: each admin sees their organisation's rows; another's object id is a 404;
    # adding, deleting and Django's own models (schedules, tasks, groups) are operators' only.
    *[Row(f"admin:{model}_changelist", "GET", (302, 302, 302, 302, 302, 200, 200, 200))
      for model in ("portal_user", "audit_auditevent", "tenants_tenant", "provisioning_provisioningrequest",
                    "provisioning_requestevent", "provisioning_template", "api_apiclient")],
    *[Row(f"admin:{model}_changelist", "GET", (302, 302, 302, 302, 302, 403, 403, 200))
      for model in ("auth_group", "django_q_schedule", "django_q_success", "django_q_failure", "django_q_ormq")],
    *[Row(f"admin:{model}_add", "GET", (302, 302, 302, 302, 302, 403, 403, expected))
      for model, expected in (("portal_user", 200), ("audit_auditevent", 403), ("tenants_tenant", 200),
                              ("provisioning_provisioningrequest", 403), ("provisioning_requestevent", 403),
                              ("provisioning_template", 403), ("auth_group", 200), ("django_q_schedule", 200),
                              ("django_q_success", 403), ("django_q_failure", 403), ("django_q_ormq", 403))],
    Row("admin:tenants_tenant_change", "GET", (302, 302, 302, 302, 302, 200, 404, 200), kwargs=admin_object("tenant")),
    Row("admin:tenants_tenant_change", "POST", (302, 302, 302, 302, 302, 302, 404, 200), kwargs=admin_object("tenant"),
        data=lambda w: {"name": "Contoso", "secret_expires_on": ""},
        note="the admin may rename it; the operator's form needs every field and is shown again"),
    Row("admin:tenants_tenant_delete", "GET", (302, 302, 302, 302, 302, 403, 404, 200), kwargs=admin_object("tenant")),
    Row("admin:tenants_tenant_history", "GET", (302, 302, 302, 302, 302, 200, 404, 200), kwargs=admin_object("tenant")),
    Row("admin:portal_user_change", "GET", (302, 302, 302, 302, 302, 200, 404, 200), kwargs=admin_object("user")),
    Row("admin:auth_user_password_change", "GET", (302, 302, 302, 302, 302, 403, 403, 200),
        kwargs=lambda w: {"id": str(w.users["requester_a"].pk)}, note="a local password is an operator's matter"),
    Row("admin:audit_auditevent_change", "GET", (302, 302, 302, 302, 302, 200, 404, 200), kwargs=admin_object("audit")),
    Row("admin:provisioning_provisioningrequest_change", "GET", (302, 302, 302, 302, 302, 200, 404, 200),
        kwargs=admin_object("request")),
    Row("admin:provisioning_requestevent_change", "GET", (302, 302, 302, 302, 302, 200, 404, 200),
        kwargs=admin_object("event")),
    Row("admin:provisioning_template_change", "GET", (302, 302, 302, 302, 302, 200, 404, 200),
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


@pytest.fixture
def world(
    tenant_a: Tenant,
    tenant_b: Tenant,
    requester_a: User,
    requester_b: User,
    it_staff: User,
    it_staff_other: User,
    admin: User,
    admin_other: User,
    operator: User,
) -> World:
    heartbeat()  # /healthz answers 200 with a live worker
    return World(
        tenant_a,
        tenant_b,
        {
            "requester_a": requester_a,
            "requester_b": requester_b,
            "it_staff": it_staff,
            "it_staff_other": it_staff_other,
            "admin": admin,
            "admin_other": admin_other,
            "operator": operator,
        },
    )


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("row", MATRIX, ids=Row.label)
def test_access(row: Row, persona: str, world: World) -> None:
    client = Client() if persona == "anonymous" else client_for(world.users[persona])
    url = reverse(row.name, kwargs=row.kwargs(world) if row.kwargs else None)
    headers = {"HX-Request": "true"} if row.htmx else {}
    data = row.data(world) if row.data else {}
    if row.method == "GET":
        response = client.get(url, data, headers=headers)
    else:
        response = (
            client.generic(row.method, url, headers=headers)
            if not data
            else client.post(url, data, headers=headers)
        )
    expected = row.expect[PERSONAS.index(persona)]
    assert response.status_code == expected, (
        f"{row.label()} as {persona}: {response.status_code}, expected {expected}"
    )
