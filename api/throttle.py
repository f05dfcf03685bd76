"""A rate limit per API client, kept in Django's cache: with Redis (REDIS_URL) one count for
every gunicorn worker and node; with the default in-process cache, one per process.

A fixed window: at most N calls per period per client (its own ``rate_limit``, else
API_RATE_LIMIT); the call over it gets 429 with Retry-After (the end of the window).
"""

from __future__ import annotations

import re
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(text: str) -> tuple[int, int]:
    """ "120/min" -> (120, 60); "10/5s" -> (10, 5). Raises ValueError."""
    found = RATE.match(text or "")
    if not found:
        raise ValueError(f"Not a rate: {text!r} (e.g. 120/min).")
    count, number, unit = found.groups()
    return int(count), int(number or 1) * UNITS[unit[0]]


class ClientThrottle(BaseThrottle):
    """One window count per client in the cache (``incr`` is atomic in Redis and in-process)."""

    def __init__(self) -> None:
        self._wait = threading.local()  # one instance serves every request thread

    def allow_request(self, request: HttpRequest) -> bool:
        principal = getattr(request, "auth", None)
        client = getattr(principal, "client", None)
        if client is None:
            return True  # authentication failed first: nothing to count against
        count_max, period = parse_rate(client.rate_limit or settings.API_RATE_LIMIT)
        now = time.time()
        window = int(now // period)
        key = f"api-rate:{client.pk}:{period}:{window}"
        cache.add(key, 0, timeout=period + 1)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr: count again from one
            cache.set(key, 1, timeout=period + 1)
            used = 1
        self._wait.seconds = (window + 1) * period - now
        return used <= count_max

    def wait(self) -> float | None:
        return float(getattr(self._wait, "seconds", 1.0))
