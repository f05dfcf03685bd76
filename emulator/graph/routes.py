"""Routes of the Microsoft Graph emulator (``/graph/v1.0/...``, ``/graph/beta/...``).

Importing the modules registers their routes; the catch-all routes that answer unknown Graph
paths in Graph's shape must come last, so they are registered here after everything else.
See docs/emulator-graph.md for what is emulated.
"""

from __future__ import annotations

from emulator.graph import api, control, directory, provisioning, sync
from emulator.server import TICKERS

TICKERS.append(provisioning.tick)
api.register_fallbacks()

__all__ = ["control", "directory", "provisioning", "sync"]
