"""Schemathesis against the API's own OpenAPI document, in process (WSGI), with a real token:
generated calls to every operation (valid and invalid ones) never make a server error, and
every answer matches the document (status, content type, body). Unknown query parameters are
ignored, as most APIs do, so schemathesis's "negative data rejection" check is not asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.models import API_ROLES, ApiClient
from tenants.models import Tenant
from tests.api.conftest import demo_app, fetch_token
from tests.provisioning.ui_fixtures import make_template

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _schema() -> Any:
    """The document as the portal serves it, called in process (WSGI)."""
    from portal.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


schema = _schema()


@pytest.fixture
def bearer(emulator: RunningEmulator, live_tenant_a: Tenant) -> str:
    from django.core.cache import cache

    cache.clear()
    ApiClient.objects.create(
        name="Fuzzer",
        tenant=live_tenant_a,
        app_id=demo_app("contoso")["client_id"],
        roles=list(API_ROLES),
        rate_limit="100000/min",
    )
    make_template(live_tenant_a, 3)
    return fetch_token(emulator, "contoso")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.django_db(transaction=True)
def test_the_api_matches_its_openapi_document_and_never_errs(case: Any, bearer: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"}, checks=CHECKS)
