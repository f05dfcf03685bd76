"""Per-tenant Graph state in ``state.data["graph"][slug]``: created lazily, seeded deterministically.

The global ``/_control/reset`` replaces ``state.data`` with data that has no "graph" key, so
every reader goes through ``tenant_store`` which re-seeds on demand. Callers hold
``state.lock``. Users are not copied: they are read live from the tenant's fixture entry.
Ids of seeded objects are uuid5 of the tenant and a name, so a demo shows the same ids after
every reset.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from emulator.state import EmulatorState

DEFAULT_TIMING = 3.0  # seconds until a team, site or community operation succeeds
KINDS = ("team", "site", "community")
FAIL_KINDS = (*KINDS, "sync")
E3_SKU = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # ENTERPRISEPACK
SEED_TIME = 1735722000.0  # 2025-01-01T09:00:00Z: seeded objects are old, past any replication
MAX_LEDGER = 2000


def stable_id(tenant: dict[str, Any], *names: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join([tenant["id"], "graph", *names])))


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hostname(tenant: dict[str, Any]) -> str:
    return f"{tenant['slug'].lower()}.sharepoint.com"


def domain(tenant: dict[str, Any]) -> str:
    return str(tenant.get("domain") or f"{tenant['slug']}.onmicrosoft.com")


def tenant_store(state: EmulatorState, tenant: dict[str, Any]) -> dict[str, Any]:
    """The tenant's Graph state, seeded on first use (caller holds ``state.lock``)."""
    graph: dict[str, Any] = state.data.setdefault("graph", {})
    slug = tenant["slug"].lower()
    if slug not in graph:
        graph[slug] = _seed(tenant)
    store: dict[str, Any] = graph[slug]
    return store


def config(state: EmulatorState, tenant: dict[str, Any]) -> dict[str, Any]:
    cfg: dict[str, Any] = tenant_store(state, tenant)["config"]
    return cfg


def record(store: dict[str, Any], now: float, kind: str, **fields: Any) -> None:
    """Add a ledger line: every create attempt (refused ones too) and every object made."""
    store["ledger"].append({"kind": kind, "at": iso(now), **fields})
    del store["ledger"][:-MAX_LEDGER]


# -- users (live from the fixture) -----------------------------------------------------------


def users(tenant: dict[str, Any]) -> list[dict[str, Any]]:
    return [user_shape(u) for u in tenant.get("users", [])]


def user_shape(u: dict[str, Any]) -> dict[str, Any]:
    licensed = u.get("licensed", True) is not False
    return {
        "id": u["oid"],
        "displayName": u["name"],
        "userPrincipalName": u["upn"],
        "mail": u.get("mail"),
        "accountEnabled": u.get("enabled", True) is not False,
        "userType": "Guest" if u.get("guest") else "Member",
        "assignedLicenses": [{"disabledPlans": [], "skuId": E3_SKU}] if licensed else [],
    }


def find_user(tenant: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A user by object id, UPN or mail (case-insensitive)."""
    wanted = key.strip().lower()
    for u in tenant.get("users", []):
        if wanted in (u["oid"].lower(), u["upn"].lower(), str(u.get("mail") or "").lower()):
            return user_shape(u)
    return None


# -- seeding -------------------------------------------------------------------------------


def new_group(
    tenant: dict[str, Any],
    gid: str,
    display_name: str,
    nickname: str,
    created: float,
    *,
    unified: bool = True,
    visibility: str | None = "Public",
    description: str | None = None,
    owners: list[str] | None = None,
    members: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "id": gid,
        "displayName": display_name,
        "description": description,
        "mailNickname": nickname,
        "mail": f"{nickname}@{domain(tenant)}" if unified else None,
        "mailEnabled": unified,
        "securityEnabled": not unified,
        "groupTypes": ["Unified"] if unified else [],
        "visibility": visibility if unified else None,
        "resourceProvisioningOptions": [],
        "created": created,
        "owners": list(owners or []),
        "members": list(members or []),
    }


def new_site(
    tenant: dict[str, Any],
    name: str,
    path: str,
    created: float,
    *,
    group_id: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    host = hostname(tenant)
    web_url = f"https://{host}" + (f"/sites/{path}" if path else "")
    return {
        "id": f"{host},{stable_id(tenant, 'site', web_url)},{stable_id(tenant, 'web', web_url)}",
        "name": path or name,
        "displayName": name,
        "description": description,
        "webUrl": web_url,
        "created": created,
        "groupId": group_id,
    }


_SEED_GROUPS = [
    # displayName, mailNickname, unified, visibility, team
    ("All Company", "allcompany", True, "Public", False),
    ("Marketing", "marketing", True, "Public", True),
    ("Sales Team", "salesteam", True, "Private", True),
    ("Project Falcon", "projectfalcon", True, "Private", False),
    ("Finance Approvers", "financeapprovers", False, None, False),
]

_SEED_APPS = [
    # displayName, templateId, schedule, status code, last run state, error
    ("Slack", "slack", "Active", "Active", "Succeeded", None),
    ("ServiceNow", "serviceNow", "Active", "Quarantine", "Failed", "The credentials are invalid."),
]


def _seed(tenant: dict[str, Any]) -> dict[str, Any]:
    people = [u["oid"] for u in tenant.get("users", []) if not u.get("guest")]
    groups, sites, teams = [], [new_site(tenant, "Communication site", "", SEED_TIME)], {}
    for n, (name, nick, unified, visibility, team) in enumerate(_SEED_GROUPS):
        created = SEED_TIME + 86400 * n
        owners = people[n % len(people) : n % len(people) + 1] if people else []
        group = new_group(
            tenant,
            stable_id(tenant, "group", nick),
            name,
            nick,
            created,
            unified=unified,
            visibility=visibility,
            description=f"{name} ({tenant['name']})",
            owners=owners,
            members=people[: 3 + n],
        )
        groups.append(group)
        if unified:
            sites.append(new_site(tenant, name, nick, created, group_id=group["id"]))
        if team:
            group["resourceProvisioningOptions"] = ["Team"]
            teams[group["id"]] = {"created": created}
    for name, path in (("Intranet", "intranet"), ("Human Resources", "hr")):
        sites.append(new_site(tenant, name, path, SEED_TIME))
    principals, jobs = [], {}
    for app in tenant.get("apps", []):
        principals.append(
            {
                "id": str(app.get("service_principal_id") or stable_id(tenant, "sp", app["name"])),
                "appId": app["client_id"],
                "displayName": app["name"],
                "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
            }
        )
    for name, template, schedule, code, last, error in _SEED_APPS:
        sp_id = stable_id(tenant, "sp", name)
        principals.append(
            {
                "id": sp_id,
                "appId": stable_id(tenant, "app", name),
                "displayName": name,
                "tags": [
                    "WindowsAzureActiveDirectoryCustomSingleSignOnApplication",
                    "WindowsAzureActiveDirectoryIntegratedApp",
                ],
            }
        )
        jobs[sp_id] = [
            {
                "id": f"{template}.{uuid.UUID(sp_id).hex}.{uuid.UUID(stable_id(tenant, 'job', name)).hex}",
                "templateId": template,
                "schedule": {"state": schedule, "interval": "PT40M", "expiration": None},
                "status": {
                    "code": code,
                    "lastExecution": {
                        "timeBegan": iso(SEED_TIME - 300),
                        "timeEnded": iso(SEED_TIME),
                        "state": last,
                        "error": {"message": error} if error else None,
                    },
                },
            }
        ]
    return {
        "config": {
            "dialect": "documented",
            "timing": dict.fromkeys(KINDS, DEFAULT_TIMING),
            "replication": 0.0,
            # Optional fixture default: tenant["graph"]["naming"] = {"prefix", "suffix", "blocked"}.
            "naming": naming(tenant.get("graph", {}).get("naming", {})),
            "fail_next": {},
            "community_posts": {},
        },
        "groups": groups,
        "teams": teams,
        "sites": sites,
        "communities": [],
        "operations": {},
        "service_principals": principals,
        "jobs": jobs,
        "ledger": [],
    }


def naming(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "prefix": str(raw.get("prefix") or ""),
        "suffix": str(raw.get("suffix") or ""),
        "blocked": [str(w) for w in raw.get("blocked", [])],
    }
