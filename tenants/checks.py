"""The connection check: a fresh token, then one probe per upstream permission.

Each permission ends as granted, missing or error, with what to do in Entra ID and what the
portal cannot do without it. The probes go through the tenant's upstream provider
(tenants.upstream): the upstream packages are the only HTTP callers.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from tenants import tokens, upstream
from tenants.models import ConnectionCheck, Tenant
from upstreams.contract import (
    AuthenticationFailed,
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


def _probe(
    tenant: Tenant, provider: Upstream, permission: Permission, roles: list[str] | None
) -> dict[str, Any]:
    label = tenant.upstream_label
    try:
        endpoint = provider.probe(permission.name)
    except PermissionMissing as error:
        return _row(
            permission,
            outcome=MISSING,
            detail=f"{label} answered 403 Forbidden.",
            guidance=error.guidance,
        )
    except AuthenticationFailed as error:
        return _row(permission, detail=error.message, guidance=error.guidance)
    except Unavailable as error:
        return _row(
            permission,
            detail=error.message,
            guidance=f"{label} URL unreachable or failing: check the tenant's {label} API URL "
            f"({tenant.api_url}) and that {label} is up.",
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
            guidance=_missing_guidance(permission.name, label),
        )
    return _row(permission, endpoint=endpoint, outcome=GRANTED, detail="OK")


def _missing_guidance(permission: str, label: str) -> str:
    return (
        "In Entra ID > App registrations > the portal's app > API permissions, add the "
        f"application permission {permission} of the {label} API, then select "
        '"Grant admin consent".'
    )


def _unexpected(error: Exception) -> str:
    """What to show for a failure nobody planned for: the type, never the message (it could
    hold anything a library put there); the traceback goes to the server log."""
    return (
        f"The check stopped because of an unexpected error ({type(error).__name__}). Test "
        "again; if it happens again, the server log has the details."
    )


def _skipped(permissions: list[Permission], detail: str) -> list[dict[str, Any]]:
    return [_row(p, outcome=SKIPPED, detail=detail) for p in permissions]


def _safe_probe(
    tenant: Tenant, provider: Upstream, permission: Permission, roles: list[str] | None
) -> dict[str, Any]:
    try:
        return _probe(tenant, provider, permission, roles)
    except Exception as error:
        logger.exception(
            "connection check of tenant %s: probe %s crashed", tenant.slug, permission.name
        )
        return _row(permission, detail=_unexpected(error))


def _fill(check: ConnectionCheck, tenant: Tenant) -> None:
    provider = upstream.provider_for(tenant)
    permissions = list(provider.permissions())
    try:
        token = tokens.get_token(tenant, fresh=True)
    except tokens.TokenError as error:
        # Every Entra failure is a TokenError (an outage is EntraUnavailable): its message and
        # guidance say what happened and what to do.
        check.token_ok = False
        check.token_message = f"{error.message} {error.guidance}".strip()
        check.probes = _skipped(permissions, "No token.")
        return
    except Exception as error:
        logger.exception("connection check of tenant %s: token request crashed", tenant.slug)
        check.token_ok = False
        check.token_message = _unexpected(error)
        check.probes = _skipped(permissions, "No token.")
        return
    check.token_ok = True
    check.token_message = ""
    roles = tokens.token_roles(token)
    check.probes = [_safe_probe(tenant, provider, p, roles) for p in permissions]


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
        p.get("outcome") == GRANTED or (p.get("optional") and p.get("outcome") == MISSING)
        for p in check.probes
    )
    check.status = ConnectionCheck.Status.DONE
    check.finished_at = timezone.now()
    check.save()
    logger.info("connection check of tenant %s: %s", tenant.slug, check.summary)
    return check
