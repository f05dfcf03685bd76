"""Template context of tenants: the secret-expiry banner for admins."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.roles import is_admin


def secret_expiry(request: HttpRequest) -> dict[str, Any]:
    """`expiring_tenants` for admins: client secrets expiring within the warning window."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if not is_admin(user):
        return {}
    from tenants import selectors
    from tenants.selectors import admin_tenants_for_user

    def expiring() -> list[dict[str, Any]]:
        return [
            {"tenant": t, "text": selectors.secret_expiry_text(t)}
            for t in selectors.expiring_secrets(admin_tenants_for_user(user))
        ]

    # Evaluated only when a template uses it.
    return {"expiring_tenants": expiring}
