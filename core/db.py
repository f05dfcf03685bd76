"""Database helpers shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import migrations


class PostgresOnlySQL(migrations.RunSQL):
    """Raw SQL that runs on PostgreSQL only (a trigram index, an extension); other databases
    skip it. The model state does not change: such indexes live outside the models' Meta,
    which cannot declare them portably."""

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)


def trigram_index(table: str, column: str, name: str) -> PostgresOnlySQL:
    """A GIN trigram index on UPPER(column): what Django's icontains on PostgreSQL
    (``UPPER(col::text) LIKE UPPER('%...%')``) can use instead of reading every row."""
    return PostgresOnlySQL(
        sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
        f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)',
        reverse_sql=f'DROP INDEX IF EXISTS "{name}"',
    )


TRIGRAM_EXTENSION = PostgresOnlySQL(
    sql="CREATE EXTENSION IF NOT EXISTS pg_trgm",
    reverse_sql=migrations.RunSQL.noop,
)
