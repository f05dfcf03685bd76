"""Fixtures shared by the provisioning tests: the pages' (ui_fixtures.py) and the life-cycle
tests' (lifecycle.py: a fast Point client, short emulator phases, a synced catalogue)."""

from __future__ import annotations

from tests.provisioning.lifecycle import catalogue, fast_point, instant
from tests.provisioning.ui_fixtures import fabrikam_template, project_template, request_a

__all__ = [
    "catalogue",
    "fabrikam_template",
    "fast_point",
    "instant",
    "project_template",
    "request_a",
]
