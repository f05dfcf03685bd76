"""Bulk requests from a CSV: the columns a template's form has, each row checked by the same
RequestForm as one request typed by hand (so no rule is written twice)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

from provisioning.forms import RequestForm
from provisioning.models import Template

MAX_BYTES = 1_000_000
MAX_ROWS = 500
# Multiple people in one cell: one per line, or separated by ";" or ",".
PEOPLE_FIELDS = ("owners", "members")


class BulkFileError(ValueError):
    """The file as a whole cannot be read (not CSV, too large, no known column)."""


def columns(template: Template) -> list[tuple[str, str]]:
    """(CSV header, form field) for every field the template's form has, in form order."""
    form = RequestForm(template=template)
    return [
        (str(field.label), name) for name, field in form.fields.items() if name != "submission_key"
    ]


def blank_csv(template: Template) -> str:
    """The header row to fill in."""
    out = io.StringIO()
    writer = csv.writer(out)
    headers = [label for label, _ in columns(template)]
    writer.writerow(headers)
    return out.getvalue()


def _normalise(label: str) -> str:
    return "".join(c for c in label.casefold() if c.isalnum())


def read_rows(raw: bytes, template: Template) -> tuple[list[dict[str, Any]], list[str]]:
    """Each data row checked like the form: {"row", "data", "errors"} (errors by column);
    and the columns that are not the template's (ignored)."""
    if len(raw) > MAX_BYTES:
        raise BulkFileError(f"The file is over {MAX_BYTES // 1000} kB; split it.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BulkFileError("The file is not UTF-8 text: save it as “CSV UTF-8”.") from None
    if "\x00" in text:
        raise BulkFileError("The file is not a CSV (it holds NUL characters).")
    # newline="": the csv module reads every line ending itself (CR alone: old Mac files).
    reader = csv.DictReader(io.StringIO(text, newline=""))
    known = {_normalise(label): (label, name) for label, name in columns(template)}
    try:
        headers = reader.fieldnames or []
    except csv.Error as error:
        raise BulkFileError(f"The CSV could not be read: {error}.") from None
    mapped = {h: known[_normalise(h)] for h in headers if h and _normalise(h) in known}
    if not any(name == "display_name" for _, name in mapped.values()):
        expected = ", ".join(label for label, _ in columns(template))
        raise BulkFileError(f"No “Name” column. The columns of this template are: {expected}.")
    unknown = [h for h in headers if h and h not in mapped]
    rows: list[dict[str, Any]] = []
    for number, record in enumerate(_records(reader), start=2):  # row 1 is the header
        if len(rows) >= MAX_ROWS:
            raise BulkFileError(f"More than {MAX_ROWS} rows; split the file.")
        if not any((value or "").strip() for value in record.values() if isinstance(value, str)):
            continue  # a blank line
        data = {name: (record.get(header) or "").strip() for header, (_, name) in mapped.items()}
        for name in PEOPLE_FIELDS:
            if name in data:
                data[name] = data[name].replace(";", "\n")
        if data.get("is_private"):
            data["is_private"] = data["is_private"].lower()
        form = RequestForm({**data, "submission_key": uuid.uuid4().hex}, template=template)
        errors: dict[str, list[str]] = {}
        if not form.is_valid():
            labels = {name: label for label, name in columns(template)}
            errors = {
                labels.get(field, "Row"): [str(m) for m in messages]
                for field, messages in form.errors.items()
            }
        rows.append({"row": number, "data": data, "errors": errors})
    if not rows:
        raise BulkFileError("The file has a header but no rows.")
    return rows, unknown


def _records(reader: csv.DictReader[str]) -> Iterator[dict[str, Any]]:
    try:
        yield from reader
    except csv.Error as error:
        raise BulkFileError(f"The CSV could not be read: {error}.") from None
