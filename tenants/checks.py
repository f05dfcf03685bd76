"""The connection check: a fresh token, then one probe per upstream permission.

Each permission ends as granted, missing or error, with what to do in Entra ID and what the
portal cannot do without it. The probes go through the tenant's upstream provider
(tenants.upstream): the upstream packages are the only HTTP callers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from django.utils import timezone

from tenants import tokens, upstream
from tenants.models import GRAPH_SCOPE, ConnectionCheck, Provider, Tenant
from upstreams.contract import (
    AuthenticationFailed,
    NotSupported,
    Permission,
    PermissionMissing,
    Unavailable,
    Upstream,
    UpstreamError,
)

logger = logging.getLogger(__name__)

GRANTED = "granted"
MISSING = "missing"
ERROR = "error"
SKIPPED = "skipped"


def _row(permission: Permission, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "upstream": "",
        "permission": permission.name,
        "needed_for": permission.needed_for,
        "optional": permission.optional,
        "endpoint": "",
        "outcome": ERROR,
        "detail": "",
        "guidance": "",
    }
    row.update(values)
    return row


@dataclass(frozen=True)
class _Part:
    """One upstream the tenant uses, as the check sees it: what people call it, the API whose
    permissions it needs (for the guidance), its URL, its token's scope and its permissions."""

    label: str
    api: str
    url: str
    scope: str
    provider: Upstream
    permissions: list[Permission]


def _probe(part: _Part, permission: Permission, roles: list[str] | None) -> dict[str, Any]:
    label = part.label
    try:
        endpoint = part.provider.probe(permission.name)
    except PermissionMissing as error:
        return _row(
            permission,
            outcome=MISSING,
            detail=f"{label} answered 403 Forbidden.",
            guidance=error.guidance or _missing_guidance(permission.name, part.api),
        )
    except NotSupported:
        # No harmless call needs this permission (GT365 has no reads; creating a site is not
        # a probe): the token's roles decide.
        return _by_roles(part, permission, roles)
    except AuthenticationFailed as error:
        return _row(permission, detail=error.message, guidance=error.guidance)
    except Unavailable as error:
        return _row(
            permission,
            detail=error.message,
            guidance=f"{label} URL unreachable or failing: check the tenant's {label} API URL "
            f"({part.url}) and that {label} is up.",
        )
    except UpstreamError as error:
        return _row(
            permission,
            detail=error.message,
            guidance=f"Check the tenant's {label} API URL; if it is right, {label} is failing.",
        )
    if roles is not None and permission.name not in roles:
        # The endpoint also opens to another role (Point's groups: SharePoint.Read.All), so the
        # probe passed; the token says this permission itself is not granted.
        return _row(
            permission,
            endpoint=endpoint,
            outcome=MISSING,
            detail="Not in the token's roles (the probe passed through another permission).",
            guidance=_missing_guidance(permission.name, part.api),
        )
    return _row(permission, endpoint=endpoint, outcome=GRANTED, detail="OK")


def _by_roles(part: _Part, permission: Permission, roles: list[str] | None) -> dict[str, Any]:
    if roles is None:
        return _row(
            permission,
            detail="The token's roles cannot be read, and no call tests this permission.",
        )
    if permission.name in roles:
        return _row(permission, outcome=GRANTED, detail="In the token's roles.")
    return _row(
        permission,
        outcome=MISSING,
        detail="Not in the token's roles.",
        guidance=_missing_guidance(permission.name, part.api),
    )


def _missing_guidance(permission: str, api: str) -> str:
    # Seed 004: the permission is added to the app, then admin consent is granted.
    return (
        "In the Entra admin center > App registrations > the portal's app > API permissions, "
        f'select "Add a permission" > {api} > Application permissions > {permission}, then '
        '"Grant admin consent" for the organisation.'
    )


def _unexpected(error: Exception) -> str:
    """What to show for a failure nobody planned for: the type, never the message (it could
    hold anything a library put there); the traceback goes to the server log."""
    return (
        f"The check stopped because of an unexpected error ({type(error).__name__}). Test "
        "again; if it happens again, the server log has the details."
    )


def _safe_probe(
    tenant: Tenant, part: _Part, permission: Permission, roles: list[str] | None
) -> dict[str, Any]:
    try:
        row = _probe(part, permission, roles)
    except Exception as error:
        logger.exception(
            "connection check of tenant %s: probe %s crashed", tenant.slug, permission.name
        )
        row = _row(permission, detail=_unexpected(error))
    row["upstream"] = part.label
    return row


# What every tenant uses Microsoft Graph for, whatever it provisions through: the people picker
# and owner checks, and the provisioning-job credentials page.
GRAPH_EXTRAS = ("User.Read.All", "Application.Read.All", "Synchronization.ReadWrite.All")


def _parts(tenant: Tenant) -> list[_Part]:
    provider = upstream.provider_for(tenant)
    api = "Syskit Point API" if tenant.provider == Provider.POINT else "Microsoft Graph"
    own = list(provider.permissions())
    parts = [_Part(tenant.upstream_label, api, tenant.api_url, tenant.token_scope, provider, own)]
    if tenant.provider != Provider.GRAPH:
        graph = upstream.graph_for(tenant)
        named = {p.name for p in own} if tenant.token_scope == GRAPH_SCOPE else set()
        extras = [
            replace(p, optional=True)
            for p in graph.permissions()
            if p.name in GRAPH_EXTRAS and p.name not in named
        ]
        if extras:
            url = upstream.graph_url(tenant)
            parts.append(
                _Part("Microsoft Graph", "Microsoft Graph", url, GRAPH_SCOPE, graph, extras)
            )
    return parts


def _check_part(tenant: Tenant, part: _Part) -> tuple[str, list[dict[str, Any]]]:
    """A fresh token for the part's scope, then its probes: ("", rows), or (what went wrong
    getting a token, rows skipped)."""
    try:
        token = tokens.get_token(tenant, fresh=True, scope=part.scope)
    except tokens.TokenError as error:
        # Every Entra failure is a TokenError (an outage is EntraUnavailable): its message and
        # guidance say what happened and what to do.
        return f"{error.message} {error.guidance}".strip(), _skipped(part, "No token.")
    except Exception as error:
        logger.exception("connection check of tenant %s: token request crashed", tenant.slug)
        return _unexpected(error), _skipped(part, "No token.")
    roles = tokens.token_roles(token)
    return "", [_safe_probe(tenant, part, p, roles) for p in part.permissions]


def _skipped(part: _Part, detail: str) -> list[dict[str, Any]]:
    return [_row(p, outcome=SKIPPED, detail=detail, upstream=part.label) for p in part.permissions]


def _fill(check: ConnectionCheck, tenant: Tenant) -> None:
    parts = _parts(tenant)
    check.probes = []
    problems = []
    for number, part in enumerate(parts):
        problem, rows = _check_part(tenant, part)
        if problem and number == 0:
            # No token for the upstream itself: nothing else matters until that is fixed.
            check.token_ok = False
            check.token_message = problem
            check.probes = rows + [r for p in parts[1:] for r in _skipped(p, "No token.")]
            return
        if problem:
            problems.append(f"{part.label}: {problem}")
            rows = [{**r, "optional": True} for r in rows]
        check.probes += rows
    check.token_ok = True
    check.token_message = " ".join(problems)


def run(check: ConnectionCheck) -> ConnectionCheck:
    """Run `check` (a pending row) and store its outcome.

    The check always ends done, with what went wrong in view: a check left pending would keep
    the tenant page polling "Testing the connection" forever.
    """
    tenant = Tenant.objects.get(pk=check.tenant_id)
    try:
        _fill(check, tenant)
    except Exception as error:
        logger.exception("connection check of tenant %s crashed", tenant.slug)
        check.token_ok = False
        check.token_message = _unexpected(error)
        check.probes = check.probes if isinstance(check.probes, list) else []
    # An optional permission (Point.Admin: webhooks only) may be missing in a good connection.
    check.ok = check.token_ok and all(
        p.get("outcome") == GRANTED
        or (p.get("optional") and p.get("outcome") in (MISSING, SKIPPED))
        for p in check.probes
    )
    check.status = ConnectionCheck.Status.DONE
    check.finished_at = timezone.now()
    check.save()
    logger.info("connection check of tenant %s: %s", tenant.slug, check.summary)
    return check
