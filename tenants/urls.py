from __future__ import annotations

from django.urls import path

from tenants import views

app_name = "tenants"
urlpatterns = [
    path("", views.tenant_list, name="list"),
    path("<slug:slug>/", views.tenant_detail, name="detail"),
    path("<slug:slug>/check", views.tenant_check_start, name="check"),
    path("<slug:slug>/upstream", views.tenant_upstream, name="upstream"),
    path("<slug:slug>/jobs/", views.provisioning_jobs, name="jobs"),
    path("<slug:slug>/jobs/credentials", views.job_credentials, name="job_credentials"),
    path(
        "<slug:slug>/jobs/credentials/<pk:pk>",
        views.job_credentials_result,
        name="job_credentials_result",
    ),
    path("<slug:slug>/checks/<pk:pk>", views.tenant_check_result, name="check_result"),
    path("<slug:slug>/webhooks/on", views.webhooks_on, name="webhooks_on"),
    path("<slug:slug>/webhooks/off", views.webhooks_off, name="webhooks_off"),
    path(
        "<slug:slug>/webhooks/registrations",
        views.webhook_registrations,
        name="webhook_registrations",
    ),
    path("<slug:slug>/webhooks/remove", views.webhook_remove, name="webhook_remove"),
]
