"""Fixtures shared by the provisioning tests (the pages' own live in ui_fixtures.py)."""

from __future__ import annotations

from tests.provisioning.ui_fixtures import fabrikam_template, project_template, request_a

__all__ = ["fabrikam_template", "project_template", "request_a"]
