"""Provisioning URLs: the catalogue, the request form, request lists and pages, the dashboard."""

from __future__ import annotations

from django.urls import path

from provisioning import views, views_bulk, views_templates, views_webhooks

app_name = "provisioning"
urlpatterns = [
    path("new/", views.catalogue, name="catalogue"),
    path("new/refresh", views.catalogue_refresh, name="catalogue_refresh"),
    path("new/templates/new", views_templates.template_define, name="template_new"),
    path("new/templates/<pk:pk>/edit", views_templates.template_define, name="template_edit"),
    path("new/<pk:template_pk>/", views.request_new, name="request_new"),
    path("new/<pk:template_pk>/preview", views.request_preview, name="request_preview"),
    path(
        "new/<pk:template_pk>/availability", views.request_availability, name="request_availability"
    ),
    path("new/<pk:template_pk>/people", views.request_people, name="request_people"),
    path(
        "new/<pk:template_pk>/people/check", views.request_people_check, name="request_people_check"
    ),
    path("", views.request_list_mine, name="request_list_mine"),
    path("all/", views.request_list_all, name="request_list_all"),
    path("all/export.csv", views.request_export, name="request_export"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<pk:pk>/decide", views.approval_decide, name="approval_decide"),
    path("bulk/", views_bulk.bulk_new, name="bulk_new"),
    path("bulk/template.csv", views_bulk.bulk_blank, name="bulk_blank"),
    path("bulk/<pk:pk>/", views_bulk.bulk_detail, name="bulk_detail"),
    path("bulk/<pk:pk>/submit", views_bulk.bulk_submit, name="bulk_submit"),
    path("bulk/<pk:pk>/results.csv", views_bulk.bulk_export, name="bulk_export"),
    path("webhooks/", views_webhooks.deliveries, name="deliveries"),
    path("webhooks/export.csv", views_webhooks.deliveries_export, name="deliveries_export"),
    path("<pk:pk>/", views.request_detail, name="request_detail"),
    path("<pk:pk>/status", views.request_status, name="request_status"),
    path("<pk:pk>/retry", views.request_retry, name="request_retry"),
    path("<pk:pk>/cancel", views.request_cancel, name="request_cancel"),
    path("<pk:pk>/send-again", views.request_send_again, name="request_send_again"),
    path("<pk:pk>/clone", views.request_clone, name="request_clone"),
]
