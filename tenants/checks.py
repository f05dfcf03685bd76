"""The connection check: a fresh token, then one probe per upstream permission.

Each permission ends as granted, missing or error, with what to do in Entra ID. The upstream
calls go through provisioning.providers (the upstream modules are the only HTTP callers); the
import is local because the provisioning app builds on tenants, not the other way round.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from tenants import tokens
from tenants.models import ConnectionCheck, Tenant

logger = logging.getLogger(__name__)

GRANTED = "granted"
MISSING = "missing"
ERROR = "error"
SKIPPED = "skipped"


def _missing_guidance(permission: str) -> str:
    return (
        f"In Entra ID > App registrations > the portal's app > API permissions, add the "
        f'application permission {permission} of the "Syskit Point API", then select '
        '"Grant admin consent".'
    )


def _probe(tenant: Tenant, permission: str, roles: list[str] | None) -> dict[str, Any]:
    from provisioning import point
    from provisioning.providers import provider_for

    row: dict[str, Any] = {
        "permission": permission,
        "endpoint": "",
        "outcome": ERROR,
        "detail": "",
        "guidance": "",
    }
    try:
        row["endpoint"] = provider_for(tenant).probe(tenant, permission)
    except point.PermissionMissing:
        row.update(
            outcome=MISSING,
            detail="Point answered 403 Forbidden.",
            guidance=_missing_guidance(permission),
        )
        return row
    except point.AuthenticationError as error:
        row.update(detail=error.message, guidance=error.guidance)
        return row
    except point.Unavailable as error:
        row.update(
            detail=error.message,
            guidance="Point URL unreachable or failing: check the tenant's Point API URL "
            f"({tenant.point_base_url}) and that Point is up.",
        )
        return row
    except point.PointError as error:
        row.update(
            detail=error.message,
            guidance="Check the tenant's Point API URL; if it is right, Point is failing.",
        )
        return row
    if roles is not None and permission not in roles:
        # The endpoint also opens to another role (groups: SharePoint.Read.All), so the probe
        # passed; the token says this permission itself is not granted.
        row.update(
            outcome=MISSING,
            detail="Not in the token's roles (the probe passed through another permission).",
            guidance=_missing_guidance(permission),
        )
        return row
    row.update(outcome=GRANTED, detail="OK")
    return row


def _unexpected(error: Exception) -> str:
    """What to show for a failure nobody planned for: the type, never the message (it could
    hold anything a library put there); the traceback goes to the server log."""
    return (
        f"The check stopped because of an unexpected error ({type(error).__name__}). Test "
        "again; if it happens again, the server log has the details."
    )


def _skipped(permissions: list[str], detail: str) -> list[dict[str, Any]]:
    return [
        {"permission": p, "endpoint": "", "outcome": SKIPPED, "detail": detail, "guidance": ""}
        for p in permissions
    ]


def _safe_probe(tenant: Tenant, permission: str, roles: list[str] | None) -> dict[str, Any]:
    try:
        return _probe(tenant, permission, roles)
    except Exception as error:
        logger.exception("connection check of tenant %s: probe %s crashed", tenant.slug, permission)
        return {
            "permission": permission,
            "endpoint": "",
            "outcome": ERROR,
            "detail": _unexpected(error),
            "guidance": "",
        }


def _fill(check: ConnectionCheck, tenant: Tenant) -> None:
    from provisioning.providers import provider_for

    permissions = list(provider_for(tenant).permissions())
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
    check.probes = [_safe_probe(tenant, p, roles) for p in permissions]


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
    check.ok = check.token_ok and all(p.get("outcome") == GRANTED for p in check.probes)
    check.status = ConnectionCheck.Status.DONE
    check.finished_at = timezone.now()
    check.save()
    logger.info("connection check of tenant %s: %s", tenant.slug, check.summary)
    return check
