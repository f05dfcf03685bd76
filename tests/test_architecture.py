"""The rules between apps hold (ARCHITECTURE.md "Rules between apps"): import-linter checks the
contracts in pyproject.toml ([tool.importlinter]) against every import of the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_apps_depend_in_one_direction_and_upstreams_know_no_django() -> None:
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_a_forbidden_import_breaks_the_check(tmp_path: Path) -> None:
    """The checker is not blind: tenants does import upstreams, so forbidding it must fail."""
    config = tmp_path / "probe.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    tenants\n    upstreams\n\n"
        "[importlinter:contract:probe]\nname = tenants may not use upstreams\ntype = forbidden\n"
        "source_modules = tenants\nforbidden_modules = upstreams\n"
    )
    result = lint("--config", str(config))
    assert result.returncode == 1
    assert "tenants.upstream -> upstreams" in result.stdout
