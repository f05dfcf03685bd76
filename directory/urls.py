"""URLs of the directory browser, included under /directory/ (namespace "directory")."""

from __future__ import annotations

from django.urls import path

from directory import views

app_name = "directory"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/groups/", views.groups, name="groups"),
    path("<slug:slug>/groups/<path:name>", views.group, name="group"),
    path("<slug:slug>/sites/", views.sites, name="sites"),
    path("<slug:slug>/site-permissions/", views.site_permissions, name="site_permissions"),
    path("<slug:slug>/access/", views.user_access, name="user_access"),
    path("<slug:slug>/reports/refresh", views.report_refresh, name="report_refresh"),
    path("<slug:slug>/reports/<pk:pk>/progress", views.report_progress, name="report_progress"),
    path("<slug:slug>/reports/<pk:pk>/export.csv", views.report_export, name="report_export"),
]
