"""A service desk's script (bin/api_example.py, plain `requests`) against a running portal and
the emulator: a token from Entra, a ticket submitted once, followed to Completed; the same ticket
sent again is the same request; the portal's page shows it came through the API."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from api.models import API_ROLES, ApiClient
from provisioning import services
from provisioning.models import ProvisioningRequest
from tenants.models import Tenant
from tests.api.conftest import demo_app, portal_scope
from tests.conftest import demo_tenant
from tests.provisioning.lifecycle import fast_point, make_due
from tests.provisioning.ui_fixtures import make_template

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["fast_point"]  # a fixture this module uses
SCRIPT = Path(__file__).resolve().parents[2] / "bin" / "api_example.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_example", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_service_desk_script_submits_a_ticket_once_and_follows_it_to_completed(
    live_server: Any,
    emulator: RunningEmulator,
    live_tenant_a: Tenant,
    fast_point: list[float],
) -> None:
    from django.core.cache import cache

    cache.clear()
    emulator.control("timing", approval=0, approved=0, in_progress=0)
    app = demo_app("contoso")
    ApiClient.objects.create(
        name="ServiceNow", tenant=live_tenant_a, app_id=app["client_id"], roles=list(API_ROLES)
    )
    template = make_template(live_tenant_a, 3)
    script = load_script()
    portal_app_id = portal_scope("contoso").removeprefix("api://").removesuffix("/.default")
    secret = app["secrets"][0]["value"]
    bearer = script.token(
        emulator.url, demo_tenant("contoso")["id"], app["client_id"], secret, portal_app_id
    )

    def wait(seconds: float) -> None:
        # The portal's worker polls every minute; here the test is the worker.
        for item in ProvisioningRequest.objects.all():
            make_due(item)
        services.poll_due()

    body = {
        "template": template.pk,
        "display_name": "Falcon launch",
        "owners": ["adele.vance@contoso.onmicrosoft.com"],
    }
    done = script.submit_and_follow(live_server.url, bearer, body, key="INC0012345", wait=wait)
    assert done["state"] == "completed", done
    assert done["workspace_url"]
    assert any("through the API (ServiceNow)" in e["detail"] for e in done["events"])
    again = script.submit_and_follow(live_server.url, bearer, body, key="INC0012345", wait=wait)
    assert again["id"] == done["id"]
    assert ProvisioningRequest.objects.count() == 1
