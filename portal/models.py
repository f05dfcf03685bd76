"""Portal-wide records: the worker heartbeat (read by /healthz)."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last time a background worker ran the heartbeat schedule."""

    name = models.CharField(max_length=100, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
