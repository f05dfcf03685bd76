from __future__ import annotations

import re

import pytest
from django.test import Client

from portal.models import User
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(requester_a: User) -> Client:
    """Pages need a signed-in person; anonymous visitors are sent to sign-in."""
    return client_for(requester_a)


def test_home_page_renders_with_the_layout(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Request a Microsoft 365 workspace" in html
    assert 'name="viewport"' in html
    assert "/static/portal/portal.css" in html


def test_htmx_is_served_locally_with_the_csp_nonce(client: Client) -> None:
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce, csp
    html = response.content.decode()
    script = re.search(r'<script[^>]*src="(/static/django_htmx/htmx[^"]*)"[^>]*>', html)
    assert script, "htmx comes from our own static files, not a CDN"
    assert f'nonce="{nonce.group(1)}"' in script.group(0)
    assert "https://" not in "".join(re.findall(r'(?:src|href)="[^"]*"', html))


def test_the_csp_forbids_inline_script_and_framing(client: Client) -> None:
    csp = client.get("/")["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp


def test_htmx_requests_carry_the_csrf_token(client: Client) -> None:
    html = client.get("/").content.decode()
    assert re.search(r"hx-headers='\{\"X-CSRFToken\": \"[A-Za-z0-9]+\"\}'", html)


def test_unknown_pages_get_the_portal_404(client: Client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404


def test_the_csp_lets_sign_in_forms_redirect_to_entra(client: Client) -> None:
    # The sign-in form posts to the portal, which answers with a redirect to Entra's authorize
    # page; browsers block that redirect unless form-action allows Entra's origin.
    csp = client.get("/auth/sign-in")["Content-Security-Policy"]
    form_action = next(part for part in csp.split(";") if part.strip().startswith("form-action"))
    assert "'self'" in form_action
    assert "https://login.microsoftonline.com" in form_action
