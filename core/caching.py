"""Answers kept briefly in Django's cache, with the moment they were read (pages say how old)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone


def kept[V](
    key: str, read: Callable[[], V], *, seconds: int, fresh: bool
) -> tuple[V, datetime, bool]:
    """(the answer, when it was read, whether it came from the cache). ``fresh`` skips the cache
    and stores what it reads; ``seconds`` = 0 turns it off. An exception from ``read`` passes,
    and nothing is stored."""
    if seconds > 0 and not fresh:
        hit = cache.get(key)
        if hit is not None:
            value, read_at = hit
            return value, read_at, True
    value = read()
    read_at = timezone.now()
    if seconds > 0:
        cache.set(key, (value, read_at), seconds)
    return value, read_at, False


def seconds_since(moment: datetime) -> int:
    """Whole seconds from ``moment`` to now (0 for a moment in the future)."""
    return max(0, int((timezone.now() - moment).total_seconds()))
