"""The application permissions (token ``roles``) that open each Graph call: any one suffices.

The table follows the Graph permission pages (reference §3.7) and is listed in
docs/emulator-graph.md.
"""

from __future__ import annotations

USERS_READ = (
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
GROUPS_READ = (
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
GROUPS_CREATE = ("Group.ReadWrite.All", "Group.Create", "Directory.ReadWrite.All")
GROUPS_WRITE = ("Group.ReadWrite.All", "Directory.ReadWrite.All")
VALIDATE = (
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
TEAMS_CREATE = ("Team.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All")
TEAMS_READ = (*TEAMS_CREATE, "Group.Read.All", "Team.ReadBasic.All")
SITES_READ = ("Sites.Read.All", "Sites.ReadWrite.All", "Sites.FullControl.All")
SITES_CREATE = ("Sites.Create.All", "Sites.FullControl.All")
COMMUNITIES_WRITE = ("Community.ReadWrite.All",)
COMMUNITIES_READ = ("Community.ReadWrite.All", "Community.Read.All")
PRINCIPALS_READ = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All")
SYNC_READ = ("Synchronization.Read.All", "Synchronization.ReadWrite.All")
SYNC_WRITE = ("Synchronization.ReadWrite.All",)
ANY_APP = ()  # GET /organization: every valid app token, roles or not

ALL_PERMISSIONS = sorted(
    {
        *USERS_READ,
        *GROUPS_READ,
        *GROUPS_CREATE,
        *VALIDATE,
        *TEAMS_READ,
        *SITES_READ,
        *SITES_CREATE,
        *COMMUNITIES_READ,
        *PRINCIPALS_READ,
        *SYNC_READ,
        "Organization.Read.All",
    }
)
