"""People, groups and sites of an emulated tenant, as Point would have inventoried them.

The inventory is large (a few hundred groups and sites, one group of exactly 10,000 members), so
it is generated deterministically from the tenant slug and never stored in ``state.data``:
every process, and every test, sees the same ids and names. Workspaces the emulator provisions
come from the ledger and are appended to the generated ones.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ALL_COMPANY = "All Company"
ALL_COMPANY_MEMBERS = 10_000

_NS = uuid.UUID("5b0c4a4e-7f3e-4f49-9a53-3c1f2d6e8b10")

FIRST = [
    "Adam", "Alex", "Anna", "Ben", "Carla", "Chen", "Dana", "David", "Elif", "Emma", "Farah", "Felix",
    "Grace", "Hana", "Ivan", "Jonas", "Kara", "Liam", "Lucia", "Maya", "Nina", "Omar", "Paula", "Quinn",
    "Rosa", "Sam", "Tara", "Umar", "Vera", "Wen",
]  # fmt: skip
LAST = [
    "Berg",
    "Costa",
    "Dietrich",
    "Evans",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ito",
    "Jensen",
    "Kowalski",
]
PARTNERS = ["northwind.com", "tailspin.io", "litware.net", "adatum.org"]
DEPARTMENTS = [
    "Finance",
    "HR",
    "Legal",
    "Marketing",
    "Sales",
    "IT",
    "Operations",
    "Research",
    "Support",
    "Facilities",
]
TOPICS = [
    "Team", "Leads", "Projects", "Budget", "Planning", "Reporting", "Onboarding", "Audit", "Events",
    "Vendors", "Training", "Compliance", "Recruiting", "Analytics", "Newsletter", "Helpdesk",
]  # fmt: skip
GROUP_COUNTS = {
    "UnifiedGroup": 140,
    "SecurityGroup": 70,
    "DistributionList": 50,
    "MailEnabledSecurityGroup": 40,
}
STANDALONE_SITES = 160
LABELS = [None, None, "General", "Confidential", "Highly Confidential"]
SHARING = ["Anyone", "NewAndExistingGuests", "ExistingGuestsOnly", "OnlyOrganization"]
_EPOCH = 1_640_995_200  # 2022-01-01, so created dates are stable


def host(tenant: dict[str, Any]) -> str:
    """contoso.onmicrosoft.com -> contoso (the SharePoint host name)."""
    return str(tenant["domain"]).split(".")[0].lower()


def sharepoint_url(tenant: dict[str, Any], slug: str) -> str:
    return f"https://{host(tenant)}.sharepoint.com/sites/{slug}"


def slugify(text: str) -> str:
    """The ServiceNow example's rule [3.1]: lower-case, spaces to '-', non-word characters dropped."""
    s = re.sub(r"\s+", "-", text.strip().lower())
    return re.sub(r"[^a-z0-9_-]", "", s)


def stable_id(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


def _when(rng: random.Random, span_days: int = 1400) -> str:
    return time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(_EPOCH + rng.randrange(span_days * 86400))
    )


@dataclass
class Inventory:
    people: list[dict[str, Any]]  # {id, upn, name, guest}
    by_upn: dict[str, dict[str, Any]]
    groups: list[dict[str, Any]]  # internal group records, members included (except All Company)
    sites: list[dict[str, Any]]
    employee_pattern: re.Pattern[str]
    extra_employees: int = 0
    _site_perms: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _tenant_key(tenant: dict[str, Any]) -> tuple[str, str, tuple[tuple[str, str, bool, str], ...]]:
    users = tuple(
        (
            u["upn"].lower(),
            u.get("name", u["upn"]),
            bool(u.get("guest")),
            str(u.get("mail") or "").lower(),
        )
        for u in tenant.get("users", [])
    )
    return (str(tenant["slug"]).lower(), str(tenant["domain"]).lower(), users)


def inventory(tenant: dict[str, Any]) -> Inventory:
    return _build(*_tenant_key(tenant))


@lru_cache(maxsize=8)
def _build(
    slug: str, domain: str, fixture_users: tuple[tuple[str, str, bool, str], ...]
) -> Inventory:
    rng = random.Random(f"point-directory/{slug}")
    spo = domain.split(".")[0]
    people: list[dict[str, Any]] = []
    for upn, name, guest, _mail in fixture_users:
        people.append(
            {"id": stable_id(slug, "user", upn), "upn": upn, "name": name, "guest": guest}
        )
    for first in FIRST:
        for last in LAST[: 5 + FIRST.index(first) % 5]:
            upn = f"{first}.{last}@{domain}".lower()
            people.append(
                {
                    "id": stable_id(slug, "user", upn),
                    "upn": upn,
                    "name": f"{first} {last}",
                    "guest": False,
                }
            )
    for i in range(30):
        first, last, partner = (
            FIRST[(i * 7) % len(FIRST)],
            LAST[(i * 3) % len(LAST)],
            PARTNERS[i % len(PARTNERS)],
        )
        upn = f"{first}.{last}{i}_{partner}#ext#@{domain}".lower()
        people.append(
            {
                "id": stable_id(slug, "guest", upn),
                "upn": upn,
                "name": f"{first} {last} ({partner})",
                "guest": True,
            }
        )
    by_upn = {p["upn"]: p for p in people}
    # Point accepts owners "as UPN or e-mail" [3.1]: a fixture user's mail finds them too.
    for upn, _name, _guest, mail in fixture_users:
        if mail and mail not in by_upn:
            by_upn[mail] = by_upn[upn]
    employees = [p for p in people if not p["guest"]]
    guests = [p for p in people if p["guest"]]
    fixture_employees = [
        p for p in employees if p["upn"] in {u for u, _, g, _m in fixture_users if not g}
    ]
    fixture_guests = [p for p in guests if p["upn"] in {u for u, _, g, _m in fixture_users if g}]

    # All Company: the named employees plus synthetic ones up to exactly 10,000 members.
    extra = ALL_COMPANY_MEMBERS - len(employees)
    employee_pattern = re.compile(rf"^employee(\d{{5}})@{re.escape(domain)}$")
    all_company: dict[str, Any] = {
        "id": stable_id(slug, "group", ALL_COMPANY),
        "name": ALL_COMPANY,
        "email": f"allcompany@{domain}",
        "group_type": "UnifiedGroup",
        "is_team": True,
        "privacy": "Public",
        "on_premises": False,
        "created_on": "2022-01-03T08:00:00Z",
        "owners": [_member(p, "Owner") for p in (fixture_employees[:2] or employees[:2])],
        "members": None,  # generated on demand: see members()
        "label": "General",
        "site_url": f"https://{spo}.sharepoint.com/sites/allcompany",
        "department": "IT",
    }
    all_company["owners_count"] = len(all_company["owners"])
    all_company["members_count"] = ALL_COMPANY_MEMBERS
    all_company["guests_count"] = 0

    groups: list[dict[str, Any]] = [all_company]
    used = {ALL_COMPANY.lower()}
    nestable: list[dict[str, Any]] = []
    for group_type, count in GROUP_COUNTS.items():
        for _ in range(count):
            dept = rng.choice(DEPARTMENTS)
            name = f"{dept} {rng.choice(TOPICS)}"
            if group_type == "DistributionList":
                name = f"{name} DL"
            elif group_type != "UnifiedGroup":
                name = f"SG {name}"
            n = 2
            base = name
            while name.lower() in used:
                name = f"{base} {n}"
                n += 1
            used.add(name.lower())
            mail_slug = slugify(name).replace("-", "")
            allows_guests = group_type in ("UnifiedGroup", "DistributionList")
            pool = employees + (guests if allows_guests else [])
            chosen = rng.sample(pool, rng.randint(3, 30))
            owners = (
                rng.sample(employees, rng.randint(1, 3))
                if group_type != "DistributionList" or rng.random() < 0.5
                else []
            )
            # Fixture people must show up somewhere, so the reports about them are not empty.
            if fixture_employees and rng.random() < 0.15:
                chosen.append(rng.choice(fixture_employees))
            if allows_guests and fixture_guests and rng.random() < 0.1:
                chosen.append(rng.choice(fixture_guests))
            owner_upns = {o["upn"] for o in owners}
            seen: set[str] = set()
            members = []
            for p in chosen:
                if p["upn"] in owner_upns or p["upn"] in seen:
                    continue
                seen.add(p["upn"])
                members.append(_member(p, "Member"))
            if group_type != "UnifiedGroup" and nestable and rng.random() < 0.4:
                for inner in rng.sample(nestable, min(len(nestable), rng.randint(1, 2))):
                    members.append(
                        {
                            "id": inner["id"],
                            "upn": inner["email"],
                            "name": inner["name"],
                            "kind": "Group",
                            "role": "Member",
                        }
                    )
            is_team = group_type == "UnifiedGroup" and rng.random() < 0.6
            g: dict[str, Any] = {
                "id": stable_id(slug, "group", name),
                "name": name,
                "email": f"{mail_slug}@{domain}",
                "group_type": group_type,
                "is_team": is_team,
                "privacy": rng.choice(["Private", "Public"])
                if group_type == "UnifiedGroup"
                else None,
                "on_premises": group_type != "UnifiedGroup" and rng.random() < 0.2,
                "created_on": _when(rng),
                "owners": [_member(o, "Owner") for o in owners],
                "members": members,
                "owners_count": len(owners),
                "members_count": len(members),
                "guests_count": sum(1 for m in members if m["kind"] == "Guest"),
                "label": rng.choice(LABELS) if group_type == "UnifiedGroup" else None,
                "site_url": f"https://{spo}.sharepoint.com/sites/{slugify(name)}"
                if group_type == "UnifiedGroup"
                else None,
                "department": dept,
            }
            groups.append(g)
            if group_type in ("SecurityGroup", "MailEnabledSecurityGroup"):
                nestable.append(g)

    sites: list[dict[str, Any]] = []
    for g in groups:
        if g["site_url"]:
            sites.append(
                _site(
                    rng,
                    slug,
                    g["site_url"],
                    g["name"],
                    "Team site",
                    "Microsoft 365 Group connected",
                    g,
                    employees,
                )
            )
    for _ in range(STANDALONE_SITES):
        dept = rng.choice(DEPARTMENTS)
        communication = rng.random() < 0.5
        title = f"{dept} {rng.choice(['News', 'Portal', 'Library', 'Archive', 'Policies', 'Wiki', 'Resources'])}"
        n = 2
        base = title
        while title.lower() in used:
            title = f"{base} {n}"
            n += 1
        used.add(title.lower())
        url = f"https://{spo}.sharepoint.com/sites/{slugify(title)}"
        kind = (
            ("Communication site", "Communication site")
            if communication
            else ("Team site", "Team site (no group)")
        )
        sites.append(_site(rng, slug, url, title, kind[0], kind[1], None, employees, dept))
    inv = Inventory(people, by_upn, groups, sites, employee_pattern, extra)
    for s in sites:
        inv._site_perms[s["url"].lower()] = _site_permissions(
            rng, s, employees, guests, fixture_employees, fixture_guests
        )
    return inv


def _member(p: dict[str, Any], role: str) -> dict[str, Any]:
    return {
        "id": p["id"],
        "upn": p["upn"],
        "name": p["name"],
        "kind": "Guest" if p["guest"] else "User",
        "role": role,
    }


def _site(
    rng: random.Random,
    slug: str,
    url: str,
    title: str,
    template: str,
    site_type: str,
    grp: dict[str, Any] | None,
    employees: list[dict[str, Any]],
    department: str | None = None,
) -> dict[str, Any]:
    created = grp["created_on"] if grp else _when(rng)
    admin = grp["owners"][0]["upn"] if grp and grp["owners"] else rng.choice(employees)["upn"]
    return {
        "id": stable_id(slug, "site", url),
        "url": url,
        "title": title,
        "template": template,
        "site_type": site_type,
        "primary_admin": admin,
        "created_on": created,
        "last_modified": max(created, _when(rng, 1700)),
        "storage": rng.randrange(5_000_000, 25_000_000_000),
        "sharing": rng.choice(SHARING),
        "label": grp["label"] if grp else rng.choice(LABELS),
        "group_id": grp["id"] if grp else None,
        "hub": grp is None and rng.random() < 0.05,
        "department": grp["department"] if grp else department,
    }


def _site_permissions(
    rng: random.Random,
    s: dict[str, Any],
    employees: list[dict[str, Any]],
    guests: list[dict[str, Any]],
    fixture_employees: list[dict[str, Any]],
    fixture_guests: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    title = s["title"]
    grp_backed = s["group_id"] is not None
    perms = [
        {
            "principal": f"{title} Owners",
            "principal_type": "SharePointGroup",
            "level": "Full Control",
            "via": "M365GroupOwner" if grp_backed else "SharePointGroup",
            "upn": None,
        },
        {
            "principal": f"{title} Members",
            "principal_type": "SharePointGroup",
            "level": "Edit",
            "via": "M365GroupMember" if grp_backed else "SharePointGroup",
            "upn": None,
        },
        {
            "principal": f"{title} Visitors",
            "principal_type": "SharePointGroup",
            "level": "Read",
            "via": "SharePointGroup",
            "upn": None,
        },
        {
            "principal": s["primary_admin"],
            "principal_type": "User",
            "level": "Site Collection Administrator",
            "via": "Administrator",
            "upn": s["primary_admin"],
        },
    ]
    direct = rng.sample(employees, rng.randint(0, 3))
    if fixture_employees and rng.random() < 0.1:
        direct.append(rng.choice(fixture_employees))
    if rng.random() < 0.2:
        direct.append(rng.choice(guests))
    if fixture_guests and rng.random() < 0.05:
        direct.append(rng.choice(fixture_guests))
    seen = {s["primary_admin"]}
    for p in direct:
        if p["upn"] in seen:
            continue
        seen.add(p["upn"])
        perms.append(
            {
                "principal": p["upn"],
                "principal_type": "Guest" if p["guest"] else "User",
                "level": rng.choice(["Edit", "Read", "Contribute"]),
                "via": "Direct",
                "upn": p["upn"],
            }
        )
    return perms


# --- Queries ---------------------------------------------------------------------------------


def find_person(tenant: dict[str, Any], upn: str) -> dict[str, Any] | None:
    """A person Point knows: fixture users, generated people, and All Company's synthetic staff."""
    inv = inventory(tenant)
    key = upn.strip().lower()
    if key in inv.by_upn:
        return inv.by_upn[key]
    m = inv.employee_pattern.match(key)
    if m and 1 <= int(m.group(1)) <= inv.extra_employees:
        return _employee(tenant, int(m.group(1)))
    return None


def _employee(tenant: dict[str, Any], n: int) -> dict[str, Any]:
    upn = f"employee{n:05d}@{tenant['domain']}".lower()
    return {
        "id": stable_id(tenant["slug"], "user", upn),
        "upn": upn,
        "name": f"Employee {n:05d}",
        "guest": False,
    }


def members(tenant: dict[str, Any], g: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Owners first, then members; All Company's 10,000 members are produced lazily."""
    yield from g["owners"]
    if g["members"] is not None:
        yield from g["members"]
        return
    inv = inventory(tenant)
    named = [p for p in inv.people if not p["guest"]]
    for p in named:
        yield _member(p, "Member")
    for n in range(1, inv.extra_employees + 1):
        yield _member(_employee(tenant, n), "Member")


def member_count(g: dict[str, Any]) -> int:
    return int(g["owners_count"]) + int(g["members_count"])


def site_permissions(
    tenant: dict[str, Any], site_url: str, ledger: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    inv = inventory(tenant)
    perms = inv._site_perms.get(site_url.lower())
    if perms is not None:
        return perms
    for w in ledger_workspaces(tenant, ledger):
        if w["url"].lower() == site_url.lower() and w["workspaceType"] != "YammerCommunity":
            return _ledger_site_permissions(w)
    return None


def _ledger_site_permissions(w: dict[str, Any]) -> list[dict[str, Any]]:
    perms = [
        {
            "principal": o,
            "principal_type": "User",
            "level": "Full Control",
            "via": "M365GroupOwner",
            "upn": o,
        }
        for o in w["owners"]
    ]
    perms += [
        {
            "principal": m,
            "principal_type": "User",
            "level": "Edit",
            "via": "M365GroupMember",
            "upn": m,
        }
        for m in w["members"]
    ]
    return perms


def ledger_workspaces(tenant: dict[str, Any], ledger: list[dict[str, Any]]) -> list[dict[str, Any]]:
    slug = str(tenant["slug"]).lower()
    return [w for w in ledger if str(w.get("tenant", "")).lower() == slug]


def groups(tenant: dict[str, Any], ledger: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Generated groups plus the Teams, M365 groups and communities the emulator created."""
    out = list(inventory(tenant).groups)
    for w in ledger_workspaces(tenant, ledger):
        if w["workspaceType"] == "SharePointSiteCollection":
            continue
        owners = [_ledger_person(tenant, u, "Owner") for u in w["owners"]]
        mem = [
            _ledger_person(tenant, u, "Member")
            for u in w["members"]
            if u.lower() not in {o.lower() for o in w["owners"]}
        ]
        out.append(
            {
                "id": w["microsoftId"],
                "name": w["displayName"],
                "email": w.get("email") or "",
                "group_type": "UnifiedGroup",
                "is_team": w["workspaceType"] == "MicrosoftTeams",
                "privacy": "Private" if w.get("isPrivate") else "Public",
                "on_premises": False,
                "created_on": w["created"],
                "owners": owners,
                "members": mem,
                "owners_count": len(owners),
                "members_count": len(mem),
                "guests_count": sum(1 for m in mem if m["kind"] == "Guest"),
                "label": None,
                "site_url": w["url"] if w["workspaceType"] != "YammerCommunity" else None,
                "department": None,
            }
        )
    return out


def _ledger_person(tenant: dict[str, Any], upn: str, role: str) -> dict[str, Any]:
    p = find_person(tenant, upn) or {
        "id": stable_id(tenant["slug"], "user", upn.lower()),
        "upn": upn.lower(),
        "name": upn,
        "guest": False,
    }
    return _member(p, role)


def sites(tenant: dict[str, Any], ledger: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Generated sites plus the sites behind the Teams, groups and sites the emulator created."""
    out = list(inventory(tenant).sites)
    for w in ledger_workspaces(tenant, ledger):
        if w["workspaceType"] == "YammerCommunity":
            continue
        grp = w["workspaceType"] != "SharePointSiteCollection"
        out.append(
            {
                "id": stable_id(tenant["slug"], "site", w["url"]) if grp else w["microsoftId"],
                "url": w["url"],
                "title": w["displayName"],
                "template": "Team site",
                "site_type": "Microsoft 365 Group connected" if grp else "Team site (no group)",
                "primary_admin": w["owners"][0] if w["owners"] else None,
                "created_on": w["created"],
                "last_modified": w["created"],
                "storage": 0,
                "sharing": "OnlyOrganization",
                "label": None,
                "group_id": w["microsoftId"] if grp else None,
                "hub": False,
                "department": None,
            }
        )
    return out


def user_access(
    tenant: dict[str, Any], upn: str, ledger: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Workspaces a user can reach and with which permission (proposed [4.2])."""
    key = upn.lower()
    out: list[dict[str, Any]] = []
    for g in groups(tenant, ledger):
        if g["group_type"] != "UnifiedGroup":
            continue
        role = None
        if g["members"] is None:  # All Company: every employee
            person = find_person(tenant, key)
            if any(o["upn"] == key for o in g["owners"]):
                role = "Owner"
            elif person and not person["guest"]:
                role = "Member"
        else:
            role = next((m["role"] for m in [*g["owners"], *g["members"]] if m["upn"] == key), None)
        if role:
            kind = "MicrosoftTeam" if g["is_team"] else "M365Group"
            out.append(
                {
                    "name": g["name"],
                    "url": g["site_url"] or "",
                    "type": kind,
                    "permission": role,
                    "via": f"M365Group{role}",
                }
            )
    for s in sites(tenant, ledger):
        for p in site_permissions(tenant, s["url"], ledger) or []:
            if p["upn"] and p["upn"].lower() == key and p["via"] in ("Direct", "Administrator"):
                out.append(
                    {
                        "name": s["title"],
                        "url": s["url"],
                        "type": "Site",
                        "permission": p["level"],
                        "via": p["via"],
                    }
                )
    person = find_person(tenant, key)
    if person and not person["guest"]:
        personal = key.replace("@", "_").replace(".", "_")
        out.append(
            {
                "name": person["name"],
                "url": f"https://{host(tenant)}-my.sharepoint.com/personal/{personal}",
                "type": "OneDrive",
                "permission": "Site Collection Administrator",
                "via": "Administrator",
            }
        )
    return out
