"""Gt365Provider: the Upstream contract on GT365's one documented call.

``POST {base}/ProvisionGroup`` (seed 001) creates a Microsoft 365 group, and its team when
asked, synchronously: a 2xx means the group exists, so every request is COMPLETED at once.
GT365 has no read endpoint: no catalogue, request lookup, directory, reports, webhooks or name
check (each raises NotSupported). Exactly once rests on GT365 refusing a second group with
the same mailNickname (``capabilities.duplicates_refused``): after a lost answer the portal may
send again, and the refusal (AlreadyExists on the alias) proves the first one arrived.

The token is the tenant's own app registration's Microsoft Graph token (client credentials,
``https://graph.microsoft.com/.default``): GT365 calls Graph with it, so the app needs
Group.ReadWrite.All.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import NoReturn

from upstreams.contract import (
    AlreadyExists,
    Capabilities,
    CatalogueItem,
    Connection,
    Group,
    NameCheck,
    NotSupported,
    Page,
    Permission,
    ReportJob,
    ReportKind,
    ReportRow,
    RequestStatus,
    Site,
    Status,
    WebhookRegistration,
    Workload,
    Workspace,
    WorkspaceSpec,
)
from upstreams.gt365 import transport, wire

PROVISION_GROUP = "ProvisionGroup"
GROUP_READWRITE_ALL = "Group.ReadWrite.All"

PERMISSIONS = (
    Permission(GROUP_READWRITE_ALL, needed_for="creating groups and teams through GT365"),
    Permission("User.Read.All", needed_for="owners and members by UPN", optional=True),
)


def _unsupported(what: str) -> NoReturn:
    raise NotSupported(f"GT365 cannot {what}: it only creates groups and teams.")


class Gt365Provider:
    """One tenant's GT365, bound to its Connection (see upstreams.contract.Upstream)."""

    kind = "gt365"
    label = "GT365"
    capabilities = Capabilities(
        catalogue=False,
        approvals=False,
        request_lookup=False,
        directory=False,
        reports=False,
        webhooks=False,
        duplicates_refused=frozenset({Workload.GROUP, Workload.TEAM}),
        name_check=False,
        workloads=frozenset({Workload.GROUP, Workload.TEAM}),
    )

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __repr__(self) -> str:
        return f"Gt365Provider({self.connection.base_url!r})"

    # --- Requests -----------------------------------------------------------------------------

    def submit(self, spec: WorkspaceSpec) -> RequestStatus:
        """POST ProvisionGroup, never repeated once it may have arrived (OutcomeUnknown).

        A 2xx is done: the group id comes from the wrapped message's Location or a bare
        group's id ("" when neither names it). A wrapped message that failed is its error.
        """
        if spec.workload not in self.capabilities.workloads:
            _unsupported(f"create a {spec.workload.value}")
        try:
            answer = transport.call(
                self.connection,
                "POST",
                PROVISION_GROUP,
                permission=GROUP_READWRITE_ALL,
                body=wire.submit_body(spec),
                safe_to_repeat=False,
            )
            found = wire.failure(answer.data, status=answer.status, text=answer.text)
            if found is not None:
                raise transport.error_for(
                    found, request_name=f"POST {PROVISION_GROUP}", permission=GROUP_READWRITE_ALL
                )
        except AlreadyExists as clash:
            # The group holding the alias is complete (GT365 is synchronous): named by ours.
            existing = replace(
                clash.existing or RequestStatus(id="", status=Status.COMPLETED),
                display_name=spec.display_name,
            )
            raise AlreadyExists(
                clash.message, field=clash.field, existing=existing, status=clash.status
            ) from clash
        group = wire.created(answer.data, location=answer.headers.get("Location"), text=answer.text)
        return RequestStatus(
            id=group.id,
            status=Status.COMPLETED,
            display_name=group.display_name or spec.display_name,
            workspace_id=group.id,
            email=group.mail,
        )

    def get_request(self, request_id: str) -> RequestStatus:
        """Every request GT365 answered was completed in that answer."""
        return RequestStatus(id=request_id, status=Status.COMPLETED, workspace_id=request_id)

    def find_requests(self, *, display_name: str, desired_url: str = "") -> list[RequestStatus]:
        _unsupported("list requests")

    def find_workspace(
        self, *, workload: Workload, name: str, url_slug: str = ""
    ) -> Workspace | None:
        _unsupported("look up groups")

    def find_workspaces(
        self, *, workload: Workload, containing: str, limit: int = 50
    ) -> Page[Workspace]:
        _unsupported("list groups")

    def list_templates(self) -> list[CatalogueItem]:
        _unsupported("list templates (define them in the portal)")

    def check_name(self, spec: WorkspaceSpec) -> NameCheck:
        _unsupported("check names against a naming policy")

    # --- Directory and reports ----------------------------------------------------------------

    def groups_page(
        self, *, top: int, skip: int = 0, group_type: str = "", search: str = ""
    ) -> Page[Group]:
        _unsupported("list groups")

    def get_group(self, name: str) -> Group:
        _unsupported("look up groups")

    def sites_page(self, *, top: int, skip: int = 0, search: str = "") -> Page[Site]:
        _unsupported("list sites")

    def find_sites(self, search: str, *, limit: int = 10) -> list[Site]:
        _unsupported("list sites")

    def start_report(self, kind: ReportKind, subject: str = "") -> ReportJob:
        _unsupported("produce reports")

    def get_report(self, job_id: str) -> ReportJob:
        _unsupported("produce reports")

    def report_rows(self, kind: ReportKind, job_id: str) -> Iterator[ReportRow]:
        _unsupported("produce reports")

    # --- The connection check -----------------------------------------------------------------

    def permissions(self) -> tuple[Permission, ...]:
        return PERMISSIONS

    def probe(self, permission: str) -> str:
        raise NotSupported("GT365 has no call to test this permission; the token's roles decide")

    # --- Webhooks -----------------------------------------------------------------------------

    def webhook_signing_key(self) -> str:
        _unsupported("send webhooks")

    def list_webhooks(self) -> list[WebhookRegistration]:
        _unsupported("send webhooks")

    def register_webhook(self, url: str) -> WebhookRegistration:
        _unsupported("send webhooks")

    def remove_webhook(self, url: str) -> bool:
        _unsupported("send webhooks")
