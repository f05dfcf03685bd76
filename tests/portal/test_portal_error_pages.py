"""404 and 403 are the portal's own pages, with DEBUG on too, and a 403 logs one line."""

from __future__ import annotations

import logging

import pytest
from pytest_django.fixtures import Settings

from portal.models import User
from tests.conftest import client_for


@pytest.mark.parametrize("debug", [True, False])
def test_a_missing_page_is_the_portals_own_not_found_page(
    requester_a: User, settings: Settings, debug: bool
) -> None:
    settings.DEBUG = debug
    response = client_for(requester_a).get("/requests/999999/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "This page does not exist" in page
    assert "Technical details" not in page and "URLconf" not in page


@pytest.mark.parametrize("debug", [True, False])
def test_a_refusal_is_the_portals_own_page_and_one_log_line(
    requester_a: User, settings: Settings, debug: bool, caplog: pytest.LogCaptureFixture
) -> None:
    settings.DEBUG = debug
    with caplog.at_level(logging.INFO):
        response = client_for(requester_a).get("/requests/all/")
    assert response.status_code == 403
    assert "does not have access" in response.content.decode()
    forbidden = [r for r in caplog.records if "Forbidden" in r.getMessage()]
    assert len(forbidden) == 1
    assert forbidden[0].exc_info is None  # no traceback
    assert "/requests/all/" in forbidden[0].getMessage()
