"""htmx helpers shared by the apps' views: partial or full page, and paging links."""

from __future__ import annotations

from django.http import HttpRequest


def is_htmx_partial(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (not a boosted navigation, which wants the page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not getattr(htmx, "boosted", False)


def page_or_fragment(request: HttpRequest, template: str, fragment: str = "results") -> str:
    """``template#fragment`` for an htmx partial request, else the full ``template``."""
    return f"{template}#{fragment}" if is_htmx_partial(request) else template


def query_without_page(request: HttpRequest) -> str:
    """The request's query string minus ``page``, for the paginator's links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
