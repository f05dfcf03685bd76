"""Service principals, their provisioning (synchronization) jobs and acquireAccessToken.

acquireAccessToken hands credentials for the target app to the provisioning service. The
emulator checks their shape, then forgets them: only the keys and the time reach the ledger,
never a value (nor does any error message quote one).
"""

from __future__ import annotations

from typing import Any

from emulator.graph import auth, query, store
from emulator.graph.api import Ctx, GraphError, bad_request, graph_route, not_found
from emulator.server import Response, json_response

# synchronizationSecret enum (the keys the provisioning service understands).
SECRET_KEYS = (
    "None",
    "UserName",
    "Password",
    "SecretToken",
    "AppKey",
    "BaseAddress",
    "ClientIdentifier",
    "ClientSecret",
    "SingleSignOnType",
    "Sandbox",
    "Url",
    "Domain",
    "ConsumerKey",
    "ConsumerSecret",
    "TokenKey",
    "TokenExpiration",
    "Oauth2AccessToken",
    "Oauth2AccessTokenCreationTime",
    "Oauth2RefreshToken",
    "SyncAll",
    "InstanceName",
    "Oauth2ClientId",
    "Oauth2ClientSecret",
    "CompanyId",
    "UpdateKeyOnSoftDelete",
    "SynchronizationSchedule",
    "SystemOfRecord",
    "SandboxName",
    "EnforceDomain",
    "SyncNotificationSettings",
    "Server",
    "PerformInboundEntitlementGrants",
    "HardDeletesEnabled",
    "SyncAgentCompatibilityKey",
    "SyncAgentADContainer",
    "ValidateDomain",
    "TestReferences",
    "ConnectionString",
)


def _principal(ctx: Ctx) -> dict[str, Any]:
    wanted = ctx.req.params["sp"].lower()
    for sp in ctx.store["service_principals"]:
        if sp["id"].lower() == wanted:
            return dict(sp)
    raise not_found(wanted)


def _shape(ctx: Ctx, sp: dict[str, Any]) -> dict[str, Any]:
    return ctx.dialect.extras(dict(sp), "servicePrincipal")


@graph_route("GET", "/servicePrincipals", auth.PRINCIPALS_READ)
def list_principals(ctx: Ctx) -> Response:
    found = query.apply_search(ctx, query.apply_filter(ctx, ctx.store["service_principals"]))
    return json_response(query.page(ctx, "servicePrincipals", found, lambda sp: _shape(ctx, sp)))


@graph_route("GET", "/servicePrincipals/{sp}", auth.PRINCIPALS_READ)
def get_principal(ctx: Ctx) -> Response:
    return json_response(query.select(ctx, _shape(ctx, _principal(ctx))))


@graph_route("GET", "/servicePrincipals/{sp}/synchronization/jobs", auth.SYNC_READ)
def list_jobs(ctx: Ctx) -> Response:
    sp = _principal(ctx)
    jobs = [
        ctx.dialect.extras(dict(j), "synchronizationJob")
        for j in ctx.store["jobs"].get(sp["id"], [])
    ]
    return json_response(
        ctx.dialect.collection(
            f"{ctx.base()}/$metadata#servicePrincipals('{sp['id']}')/synchronization/jobs", jobs
        )
    )


@graph_route("GET", "/servicePrincipals/{sp}/synchronization/jobs/{job}", auth.SYNC_READ)
def get_job(ctx: Ctx) -> Response:
    sp = _principal(ctx)
    wanted = ctx.req.params["job"].lower()
    for job in ctx.store["jobs"].get(sp["id"], []):
        if job["id"].lower() == wanted:
            return json_response(ctx.dialect.extras(dict(job), "synchronizationJob"))
    raise not_found(wanted)


def _credential_keys(body: dict[str, Any]) -> list[str]:
    credentials = body.get("credentials")
    if not isinstance(credentials, list) or not credentials:
        raise bad_request("The 'credentials' collection is required and must not be empty.")
    keys = []
    for n, pair in enumerate(credentials):
        if not isinstance(pair, dict) or pair.get("key") not in SECRET_KEYS:
            # Name the position, never the content: a misplaced value could be a secret.
            raise bad_request(f"Credential {n} has no valid 'key' (a synchronizationSecret name).")
        if not isinstance(pair.get("value"), str):
            raise bad_request(f"Credential '{pair['key']}' has no string 'value'.")
        keys.append(str(pair["key"]))
    return keys


@graph_route("POST", "/servicePrincipals/{sp}/synchronization/acquireAccessToken", auth.SYNC_WRITE)
def acquire_access_token(ctx: Ctx) -> Response:
    sp = _principal(ctx)
    try:
        keys = _credential_keys(ctx.body())
    except GraphError as exc:
        store.record(
            ctx.store,
            ctx.now,
            "syncCredentials",
            servicePrincipalId=sp["id"],
            keys=[],
            outcome=exc.code,
        )
        raise
    rejection = ctx.store["config"]["fail_next"].pop("sync", None)
    outcome = "InvalidCredentials" if rejection else "accepted"
    store.record(
        ctx.store,
        ctx.now,
        "syncCredentials",
        servicePrincipalId=sp["id"],
        keys=keys,
        outcome=outcome,
    )
    if rejection:
        raise GraphError(
            400,
            "InvalidCredentials",
            f"The target application rejected the credentials: {rejection}",
        )
    return Response(204)
