"""Streamed CSV downloads whose cells a spreadsheet will not run as formulas."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file-like object whose write() hands the line back (for csv.writer)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """Each row as one CSV line, as it is produced (constant memory)."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def csv_response(rows: Iterable[Sequence[object]], filename: str) -> StreamingHttpResponse:
    """Stream ``rows`` (header first; cells already escaped with ``cell``) as a CSV download."""
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
