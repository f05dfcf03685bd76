"""Primary keys from URLs and query strings: digits only, and small enough for the database.

Django's `<int:>` converter and `str.isdigit()` accept what the database cannot take: "²" is a
digit to Python but not to int(), and 30 digits overflow SQLite's and PostgreSQL's bigint.
Both used to end in a 500; these make them a 404 (path) or "no such object" (query).
"""

from __future__ import annotations

import re

# bigint holds 19 digits; 18 keeps every value in range.
PK_PATTERN = "[0-9]{1,18}"
_PK = re.compile(rf"^{PK_PATTERN}$")


def parse_pk(value: object) -> int | None:
    """``value`` as a primary key, or None when it is not one."""
    text = str(value or "")
    return int(text) if _PK.match(text) else None


class PkConverter:
    """`<pk:name>` in URL patterns: an int like `<int:>`, but never one the database refuses."""

    regex = PK_PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
