from __future__ import annotations

from collections.abc import Iterator

import pytest

from tenants import tokens


@pytest.fixture(autouse=True)
def _fresh_token_registry() -> Iterator[None]:
    """Each test starts without cached msal apps or in-process tokens."""
    tokens.forget()
    yield
    tokens.forget()
