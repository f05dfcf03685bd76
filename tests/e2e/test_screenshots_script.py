"""bin/screenshots.py (`make screenshots`) without running it: what it would capture still exists.

The script itself starts the demo and a browser (a minute and a half); these checks are quick
and fail when a page it captures is renamed, or a demo person it signs in as changes role.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.urls import resolve

from tests.conftest import demo_tenant

SCRIPT = Path(__file__).resolve().parents[2] / "bin" / "screenshots.py"
FILE_NAME = re.compile(r"^[a-z]+(-[a-z]+)*(-phone)?\.png$")


@pytest.fixture(scope="module")
def script() -> ModuleType:
    pytest.importorskip("playwright")
    spec = importlib.util.spec_from_file_location("screenshots_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


class FakeCamera:
    """Records what a role's page list asks for instead of opening a browser."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.shots: list[tuple[str, str, bool]] = []

    def shot(self, name: str, path: str, *, phone: bool = False, **options: Any) -> None:
        self.shots.append((f"{self.role}-{name}{'-phone' if phone else ''}.png", path, phone))


def planned(script: ModuleType) -> list[tuple[str, str, bool]]:
    history = script.History(
        templates={"contoso": dict.fromkeys(("1", "3", "11", "21", "22"), 10)},
        requests={"completed": 1, "failed": 2, "waiting": 3},
    )
    shots = []
    for person, pages in (
        (script.REQUESTER, script.requester_pages),
        (script.IT_STAFF, script.it_staff_pages),
        (script.ADMIN, script.admin_pages),
        (script.OPERATOR, script.operator_pages),
    ):
        camera = FakeCamera(person.role)
        pages(camera, history)
        shots += camera.shots
    return shots


def test_every_captured_page_is_a_portal_url(script: ModuleType) -> None:
    for file, path, _ in planned(script):
        assert resolve(path.split("?")[0]), f"{file}: {path}"


def test_file_names_are_unique_role_page_names(script: ModuleType) -> None:
    files = [file for file, _, _ in planned(script)]
    assert len(files) == len(set(files))
    assert all(FILE_NAME.match(file) for file in files), files
    assert any(phone for _, _, phone in planned(script))


@pytest.mark.parametrize(
    ("person", "role"),
    [
        ("REQUESTER", "Portal.Requester"),
        ("IT_STAFF", "Portal.ITStaff"),
        ("ADMIN", "Portal.Admin"),
        ("OPERATOR", "Portal.Operator"),
        ("FABRIKAM_REQUESTER", "Portal.Requester"),
    ],
)
def test_the_people_it_signs_in_as_have_their_role(
    script: ModuleType, person: str, role: str
) -> None:
    who = getattr(script, person)
    users = demo_tenant(who.organisation.lower())["users"]
    assert role in next(u for u in users if u["name"] == who.name)["roles"]


def test_the_index_lists_every_file(script: ModuleType, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(script, "OUT", tmp_path)
    written = [script.Written("admin-home.png", "admin", "home", "/", "1280x900")]
    script.write_index(written)
    assert (
        "| [admin-home.png](admin-home.png) | admin | Home (`/`) | 1280x900 |"
        in (tmp_path / "README.md").read_text()
    )
