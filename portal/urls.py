"""Top-level URL map; each app brings its own urls.py under its prefix."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, register_converter

from api.api import api
from core.converters import PkConverter
from portal import views, views_audit, views_auth
from provisioning import views_webhooks

# Before the apps' URLs are included: they use it.
register_converter(PkConverter, "pk")

# Django's own 400s (a Host header it refuses...) and 404s (no route): problem documents on the
# API.
handler400 = views.bad_request
handler404 = views.page_not_found

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Upstreams post events here: no session, no CSRF; the signature proves them.
    path("hooks/<uuid:token>", views_webhooks.receive, name="webhook_receive"),
    path("auth/sign-in", views_auth.sign_in, name="sign_in"),
    path("auth/sign-in/start", views_auth.sign_in_start, name="sign_in_start"),
    path("auth/callback", views_auth.auth_callback, name="auth_callback"),
    path("auth/sign-out", views_auth.sign_out, name="sign_out"),
    path("auth/tenant", views_auth.select_tenant, name="select_tenant"),
    path("audit/", views_audit.audit_log, name="audit_log"),
    path("audit/export.csv", views_audit.audit_export, name="audit_export"),
    # Django admin signs in and out through Entra (before admin.site.urls, which they shadow).
    path("admin/login/", views_auth.admin_login, name="admin_login"),
    path("admin/logout/", views_auth.sign_out, name="admin_logout"),
    path("admin/", admin.site.urls),
    path("tenants/", include("tenants.urls")),
    path("directory/", include("directory.urls")),
    path("requests/", include("provisioning.urls")),
    # Machine clients: Entra app tokens, no session or CSRF (api/auth.py).
    path("api/v1/", api.urls),
]
