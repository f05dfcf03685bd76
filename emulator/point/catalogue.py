"""The provisioning templates every emulated Point instance offers.

Same catalogue for every tenant (ids are fixed integers so they are stable across restarts and
resets), except the predefined owners, which are the tenant's own IT staff. Point's three
default templates (Manage a project, Department team, Public team) are documented [8.2]; the
rest cover each workspace type, both approval modes, naming/URL rules and every metadata type.
Internal records use snake_case; ``shapes.template`` renders them.
"""

from __future__ import annotations

from typing import Any

AUTO = {"id": 4, "name": "Automatically Approve", "automatic": True, "stages": []}
ADMIN = {
    "id": 2,
    "name": "Admin approval",
    "automatic": False,
    "stages": [["Point administrators"]],
}
MANAGER_AND_ADMIN = {
    "id": 3,
    "name": "Manager and admin approval",
    "automatic": False,
    "stages": [["Manager of requester"], ["Point administrators"]],
}

DEPARTMENTS = ["Finance", "HR", "Legal", "Marketing", "Sales", "IT", "Operations"]


def _url(
    prefix: str = "", suffix: str = "", *, hide: bool = False, max_length: int = 64
) -> dict[str, Any]:
    return {
        "prefix": prefix,
        "suffix": suffix,
        "hide_name": hide,
        "allow_edit": not hide,
        "max_length": max_length,
    }


def _email(prefix: str = "", suffix: str = "", *, hide: bool = False) -> dict[str, Any]:
    return {"prefix": prefix, "suffix": suffix, "hide_name": hide}


def _field(
    name: str, kind: str, required: bool, options: list[str] | None = None
) -> dict[str, Any]:
    f: dict[str, Any] = {"name": name, "type": kind, "required": required}
    if options is not None:
        f["options"] = options
    return f


def _base() -> list[dict[str, Any]]:
    """The tenant-independent part. ``predefined_it`` marks where the IT staff are owners."""
    return [
        {
            "id": 1,
            "name": "Manage a project",
            "description": "Time-boxed project work, external partners welcome. Approved automatically.",
            "workspace_type": "MicrosoftTeams",
            "privacy": "RequesterDecides",
            "approval": AUTO,
            "name_prefix": "PRJ - ",
            "name_suffix": "",
            "url": _url("prj-"),
            "email": _email("prj-"),
            "owners": {"min": 2, "max": 5, "predefined_it": False},
            "guest_members": True,
            "sharing": "ExistingGuestsOnly",
            "sensitivity_label": {
                "id": "c99e52c6-f5ff-4050-9313-ca6a3a35710f",
                "name": "Confidential",
            },
            "terms": "Project workspaces are reviewed every six months.",
            "metadata": [
                _field("Cost Center", "Text", True),
                _field("Project Manager", "People", True),
                _field("Department", "Dropdown", True, DEPARTMENTS),
                _field("End Date", "Date", False),
                _field("Budget", "Number", False),
                _field("External Partners", "YesNo", False),
            ],
        },
        {
            "id": 2,
            "name": "Department team",
            "description": "A permanent team for a department. Needs the manager's and an admin's approval.",
            "workspace_type": "MicrosoftTeams",
            "privacy": "Private",
            "approval": MANAGER_AND_ADMIN,
            "name_prefix": "DEPT - ",
            "name_suffix": "",
            "url": _url("dept-"),
            "email": _email("dept-"),
            "owners": {"min": 1, "max": 3, "predefined_it": True},
            "guest_members": False,
            "sharing": "OnlyOrganization",
            "sensitivity_label": {"id": "f42aa342-8706-4288-bd11-ebb85995028c", "name": "General"},
            "terms": None,
            "metadata": [
                _field("Department", "Dropdown", True, DEPARTMENTS),
                _field("Primary Contact", "People", False),
            ],
        },
        {
            "id": 3,
            "name": "Public team",
            "description": "An open team anyone in the organisation can join. Approved automatically.",
            "workspace_type": "MicrosoftTeams",
            "privacy": "Public",
            "approval": AUTO,
            "name_prefix": "",
            "name_suffix": "",
            "url": _url(),
            "email": _email(),
            "owners": {"min": 1, "max": 10, "predefined_it": False},
            "guest_members": True,
            "sharing": "NewAndExistingGuests",
            "sensitivity_label": None,
            "terms": None,
            "metadata": [],
        },
        {
            "id": 4,
            "name": "Confidential project",
            "description": "Sensitive work. The name is hidden from the URL; an admin approves.",
            "workspace_type": "MicrosoftTeams",
            "privacy": "Private",
            "approval": ADMIN,
            "name_prefix": "CONF - ",
            "name_suffix": "",
            "url": _url("conf-", hide=True),
            "email": _email("conf-", hide=True),
            "owners": {"min": 2, "max": 4, "predefined_it": False},
            "guest_members": False,
            "sharing": "OnlyOrganization",
            "sensitivity_label": {
                "id": "1b7c5a3e-2f6d-4b8a-9c0e-7d5f3a1b2c4d",
                "name": "Highly Confidential",
            },
            "terms": "Do not store customer personal data here.",
            "metadata": [
                _field("Review Date", "Date", True),
                _field("Data Owner", "People", True),
            ],
        },
        {
            "id": 11,
            "name": "Microsoft 365 group",
            "description": "A shared mailbox, calendar and files without a team. Approved automatically.",
            "workspace_type": "M365Group",
            "privacy": "RequesterDecides",
            "approval": AUTO,
            "name_prefix": "GRP - ",
            "name_suffix": "",
            "url": _url("grp-"),
            "email": _email("grp-"),
            "owners": {"min": 1, "max": 5, "predefined_it": False},
            "guest_members": True,
            "sharing": "ExistingGuestsOnly",
            "sensitivity_label": None,
            "terms": None,
            "metadata": [_field("Cost Center", "Text", False)],
        },
        {
            "id": 12,
            "name": "Partner collaboration group",
            "description": "Working with one external company. An admin approves.",
            "workspace_type": "M365Group",
            "privacy": "Private",
            "approval": ADMIN,
            "name_prefix": "EXT - ",
            "name_suffix": "",
            "url": _url("ext-"),
            "email": _email("ext-"),
            "owners": {"min": 1, "max": 3, "predefined_it": True},
            "guest_members": True,
            "sharing": "NewAndExistingGuests",
            "sensitivity_label": None,
            "terms": "Guests are reviewed every quarter.",
            "metadata": [
                _field("Partner Company", "Text", True),
                _field("Contract End", "Date", True),
            ],
        },
        {
            "id": 21,
            "name": "Communication site",
            "description": "A site to publish news and pages to a wide audience. Approved automatically.",
            "workspace_type": "SharePointSiteCollection",
            "privacy": "Public",
            "approval": AUTO,
            "name_prefix": "",
            "name_suffix": " Hub",
            "url": _url("comm-", max_length=48),
            "email": None,  # documented [8.2]: no e-mail customisation for sites
            "owners": {"min": 1, "max": 3, "predefined_it": False},
            "guest_members": False,
            "sharing": "OnlyOrganization",
            "sensitivity_label": None,
            "terms": None,
            "metadata": [
                _field("Audience", "Dropdown", True, ["Everyone", "Employees", "Managers"]),
                _field("Expected Visitors", "Number", False),
            ],
        },
        {
            "id": 22,
            "name": "Team site (no group)",
            "description": "A classic team site without a Microsoft 365 group. An admin approves.",
            "workspace_type": "SharePointSiteCollection",
            "privacy": "Private",
            "approval": ADMIN,
            "name_prefix": "",
            "name_suffix": "",
            "url": _url("ts-"),
            "email": None,
            "owners": {"min": 1, "max": 2, "predefined_it": True},
            "guest_members": True,
            "sharing": "ExistingGuestsOnly",
            "sensitivity_label": None,
            "terms": None,
            "metadata": [_field("Department", "Dropdown", False, DEPARTMENTS)],
        },
        {
            "id": 31,
            "name": "Viva Engage community",
            "description": "An open community for a topic. Approved automatically.",
            "workspace_type": "YammerCommunity",
            "privacy": "Public",
            "approval": AUTO,
            "name_prefix": "",
            "name_suffix": "",
            "url": None,  # documented [8.2]: no URL or e-mail customisation for Viva Engage
            "email": None,
            "owners": {"min": 1, "max": 5, "predefined_it": False},
            "guest_members": False,
            "sharing": "OnlyOrganization",
            "sensitivity_label": None,
            "terms": None,
            "metadata": [_field("Topic", "Text", True)],
        },
        {
            "id": 32,
            "name": "Private community",
            "description": "A closed community. An admin approves.",
            "workspace_type": "YammerCommunity",
            "privacy": "Private",
            "approval": ADMIN,
            "name_prefix": "",
            "name_suffix": " (private)",
            "url": None,
            "email": None,
            "owners": {"min": 1, "max": 2, "predefined_it": False},
            "guest_members": False,
            "sharing": "OnlyOrganization",
            "sensitivity_label": None,
            "terms": None,
            "metadata": [],
        },
    ]


def templates(tenant: dict[str, Any]) -> list[dict[str, Any]]:
    """The tenant's templates as internal records, predefined owners filled in."""
    it_staff = [
        u["upn"]
        for u in tenant.get("users", [])
        if "Portal.ITStaff" in u.get("roles", []) and not u.get("guest")
    ]
    out = []
    for t in _base():
        owners = dict(t["owners"])
        owners["predefined"] = it_staff[:1] if owners.pop("predefined_it") else []
        out.append({**t, "owners": owners})
    return out


def find(tenant: dict[str, Any], template_id: int) -> dict[str, Any] | None:
    return next((t for t in templates(tenant) if t["id"] == template_id), None)
