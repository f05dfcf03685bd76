"""A local stand-in for Entra ID and the Syskit Point API, served over real HTTP.

Run it with ``python -m emulator`` (demo mode, state kept in a file) or start it from
tests with ``emulator.server.start_background()``. See docs/emulator.md.
"""

from __future__ import annotations
