"""Signals of tenants, for the apps above it (tenants imports none of them)."""

from __future__ import annotations

from django.dispatch import Signal

# A tenant now reaches another upstream (its URL, its app id or its kind changed): whatever
# was read from the old one (the template catalogue) should be read again. Sent on commit,
# with `tenant`.
upstream_moved = Signal()
