"""The portal's URLs plus two baselines for bench/pages.py, behind the same middleware, session
and role check as every page:

- /bench/bare: a tiny HttpResponse (what any signed-in page costs before its own work);
- /bench/table: a plain 50-row HTML table of the newest requests, from one query with the
  select_related a row needs (what a list page costs without the portal's extras).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.decorators import role_required, staff_required
from core.http import PortalRequest
from portal.urls import handler400
from provisioning.models import ProvisioningRequest

__all__ = ["handler400", "urlpatterns"]

TABLE = engines["django"].from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Requests</title></head>
<body><table>
<thead><tr><th>Requested</th><th>Workspace</th><th>Template</th><th>Kind</th><th>Requester</th><th>Tenant</th><th>State</th></tr></thead>
<tbody>{% for item in items %}
<tr><td>{{ item.created_at|date:"Y-m-d H:i" }}</td><td><a href="/requests/{{ item.pk }}/">{{ item.final_name|default:item.display_name }}</a></td><td>{{ item.template.name }}</td><td>{{ item.get_workload_display }}</td><td>{{ item.requested_by.get_full_name|default:item.requested_by.email }}</td><td>{{ item.tenant.name }}</td><td>{{ item.get_state_display }}</td></tr>{% endfor %}
</tbody></table></body></html>"""
)


@never_cache
@require_GET
@role_required()
def bare(request: PortalRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_GET
@staff_required
def table(request: PortalRequest) -> HttpResponse:
    items = ProvisioningRequest.objects.select_related(
        "tenant", "template", "requested_by"
    ).order_by("-created_at", "-id")[:50]
    # No request: no context processors, only the table.
    return HttpResponse(TABLE.render({"items": items}))


urlpatterns = [
    path("bench/bare", bare, name="bench_bare"),
    path("bench/table", table, name="bench_table"),
    path("", include("portal.urls")),
]
