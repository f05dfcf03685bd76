"""The reliability and security suite is documented where people look for its proof: every test
module of tests/reliability and tests/security is named in docs/reliability.md or
docs/security.md, so a new one cannot land unexplained."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ("tests/reliability", "tests/security")


def suite_modules() -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for folder in SUITE
        for path in (ROOT / folder).glob("test_*.py")
    )


def test_the_suite_has_modules_in_both_folders() -> None:
    found = suite_modules()
    assert any(m.startswith("tests/reliability/") for m in found)
    assert any(m.startswith("tests/security/") for m in found)


def test_every_suite_module_is_explained_in_the_docs() -> None:
    docs = (ROOT / "docs" / "reliability.md").read_text() + (
        ROOT / "docs" / "security.md"
    ).read_text()
    assert [m for m in suite_modules() if m not in docs] == []
