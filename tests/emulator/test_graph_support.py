"""Shared helpers for the Graph emulator's contract tests (no tests here): tokens and a client."""

from __future__ import annotations

from typing import Any

import requests

from emulator.server import RunningEmulator
from emulator.state import load_fixture

DEMO = load_fixture()
CONTOSO = DEMO["tenants"][0]  # Graph roles: User.Read.All, Application.Read.All, Synchronization.*
FABRIKAM = DEMO["tenants"][1]  # its second app holds no Graph roles at all
LITWARE = DEMO["tenants"][2]  # the Graph tenant: groups, sites, communities
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def graph_token(emulator: RunningEmulator, tenant: dict[str, Any], app_index: int = 0) -> str:
    app = tenant["apps"][app_index]
    answer = requests.post(
        f"{emulator.url}/{tenant['id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["secrets"][0]["value"],
            "scope": GRAPH_SCOPE,
        },
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def user_id(tenant: dict[str, Any], index: int = 0) -> str:
    return str(tenant["users"][index]["oid"])


def bind(user: str) -> str:
    return f"https://graph.microsoft.com/v1.0/users/{user}"


TEMPLATE = "https://graph.microsoft.com/v1.0/teamsTemplates('standard')"


def team_body(group_id: str) -> dict[str, str]:
    return {
        "template@odata.bind": TEMPLATE,
        "group@odata.bind": f"https://graph.microsoft.com/v1.0/groups('{group_id}')",
    }


def community_body(name: str = "Makers", owners: int = 1) -> dict[str, Any]:
    return {
        "displayName": name,
        "description": "People who make things",
        "privacy": "public",
        "owners@odata.bind": [bind(user_id(LITWARE, i)) for i in range(owners)],
    }


class Graph:
    """A thin client for the emulated Graph, as one tenant's app."""

    def __init__(
        self,
        emulator: RunningEmulator,
        tenant: dict[str, Any] = LITWARE,
        app_index: int = 0,
        token: str | None = None,
    ) -> None:
        self.emulator = emulator
        self.tenant = tenant
        self.slug = str(tenant["slug"])
        self.token = token if token is not None else graph_token(emulator, tenant, app_index)

    def url(self, path: str, version: str = "v1.0") -> str:
        if path.startswith("http"):
            return path
        return f"{self.emulator.url}/graph/{version}{path}"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        version: str = "v1.0",
    ) -> requests.Response:
        return requests.get(
            self.url(path, version), params=params, headers=self.headers(headers), timeout=10
        )

    def post(
        self,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        version: str = "v1.0",
    ) -> requests.Response:
        return requests.post(
            self.url(path, version), json=body, headers=self.headers(headers), timeout=10
        )

    def control(self, endpoint: str, **body: Any) -> dict[str, Any]:
        return self.emulator.control(f"graph/{endpoint}", tenant=self.slug, **body)

    def ledger(self) -> list[dict[str, Any]]:
        answer = self.emulator.control_get(f"graph/ledger?tenant={self.slug}")
        return list(answer["ledger"])

    def new_group(self, nickname: str, owners: int = 1, **extra: Any) -> requests.Response:
        body = {
            "displayName": f"Project {nickname}",
            "mailEnabled": True,
            "mailNickname": nickname,
            "securityEnabled": False,
            "groupTypes": ["Unified"],
            "owners@odata.bind": [bind(user_id(self.tenant, i)) for i in range(owners)],
            **extra,
        }
        return self.post("/groups", body)


def error_code(answer: requests.Response) -> str:
    return str(answer.json()["error"]["code"])


def all_pages(graph: Graph, path: str, params: dict[str, str] | None = None) -> list[Any]:
    """Follow @odata.nextLink verbatim until it is absent."""
    items: list[Any] = []
    answer = graph.get(path, params=params)
    while True:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["value"]
        if "@odata.nextLink" not in body:
            return items
        answer = graph.get(body["@odata.nextLink"])
