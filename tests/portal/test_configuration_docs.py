"""Every environment variable the settings read is documented where operators look."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def variables_read_by_settings() -> set[str]:
    source = (ROOT / "portal" / "settings.py").read_text()
    return set(re.findall(r'env_\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))


def test_the_settings_read_a_known_set_of_variables() -> None:
    found = variables_read_by_settings()
    assert {"SECRET_KEY", "DATABASE_URL", "FIELD_ENCRYPTION_KEYS", "Q_TIMEOUT"} <= found


def test_every_variable_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    missing = sorted(v for v in variables_read_by_settings() if f"`{v}`" not in table)
    assert missing == []


def test_every_variable_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    missing = sorted(
        v for v in variables_read_by_settings() if not re.search(rf"^{v}=", example, re.M)
    )
    assert missing == []
