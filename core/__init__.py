"""Shared building blocks of the portal's apps: no models, no views of their own.

Roles and role checks, the typed request, htmx and CSV helpers, form pieces, URL converters,
admin mixins and schedules as data. Every app may use it; it uses none of them.
"""
