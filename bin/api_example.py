#!/usr/bin/env python3
"""A service desk's side of the portal's REST API, with plain `requests`: get an app-only token
from Entra ID, submit a request once (Idempotency-Key: the ticket number), follow it until it is
finished. Usage (the demo's Contoso service desk against `make demo`):

    bin/api_example.py --ticket INC0012345 --template 3 --name "Falcon launch" \\
        --owner adele.vance@contoso.onmicrosoft.com

Settings come from the environment (defaults: the demo's): PORTAL_URL, ENTRA_URL, TENANT_ID,
CLIENT_ID, CLIENT_SECRET, PORTAL_APP_ID. See docs/api.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import requests

FINAL = {"completed", "failed", "rejected", "cancelled"}
# The emulator's made-up secret for the demo's service desk app, not a real one (bandit B105).
DEMO_SECRET = "Cont8Q~demo-servicedesk-secret-contoso-0003"  # nosec B105
DEMO = {
    "PORTAL_URL": "http://127.0.0.1:8000",
    "ENTRA_URL": "http://127.0.0.1:8001",
    "TENANT_ID": "133d5974-f66e-426c-b6f1-7d0710433bc7",
    # Contoso's "Service desk (API client)" app of emulator/fixtures/demo.json (demo only).
    "CLIENT_ID": "f1c1f619-1036-5413-b8e8-b2c5cf133100",
    "CLIENT_SECRET": DEMO_SECRET,
    "PORTAL_APP_ID": "c21d84c4-2cc3-4dc4-bdcf-0b2a0e5443a7",
}


def token(entra: str, tenant_id: str, client_id: str, secret: str, portal_app_id: str) -> str:
    """Client credentials for the portal's API scope (as CIPP's API does, seed 002)."""
    answer = requests.post(
        f"{entra}/{tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": f"api://{portal_app_id}/.default",
        },
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def submit_and_follow(
    portal: str,
    bearer: str,
    body: dict[str, Any],
    *,
    key: str,
    timeout: float = 600,
    wait: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Submit once (a retry with the same key gets the same request), then poll until final."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {bearer}"
    answer = session.post(
        f"{portal}/api/v1/requests", json=body, headers={"Idempotency-Key": key}, timeout=30
    )
    if answer.status_code not in (200, 201):
        problem = answer.json()
        raise SystemExit(
            f"Refused ({answer.status_code}): {problem['title']}. {problem['detail']} {problem.get('errors', '')}"
        )
    item: dict[str, Any] = answer.json()
    deadline = time.monotonic() + timeout
    while item["state"] not in FINAL and time.monotonic() < deadline:
        wait(2)
        answer = session.get(f"{portal}/api/v1/requests/{item['id']}", timeout=30)
        if answer.status_code == 429:
            wait(float(answer.headers.get("Retry-After", "5")))
            continue
        answer.raise_for_status()
        item = answer.json()
    return item


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ticket", required=True, help="The Idempotency-Key (a ticket number).")
    parser.add_argument("--template", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--owner", action="append", default=[])
    args = parser.parse_args()
    env = {name: os.environ.get(name, default) for name, default in DEMO.items()}
    bearer = token(
        env["ENTRA_URL"],
        env["TENANT_ID"],
        env["CLIENT_ID"],
        env["CLIENT_SECRET"],
        env["PORTAL_APP_ID"],
    )
    body = {"template": args.template, "display_name": args.name, "owners": args.owner}
    item = submit_and_follow(env["PORTAL_URL"], bearer, body, key=args.ticket)
    print(f"Request {item['id']} {item['final_name']}: {item['state_label']}")
    for event in item.get("events", []):
        print(f"  {event['at']} {event['to_state']}: {event['detail']}")
    return 0 if item["state"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
