"""Trigram indexes for finding people by name or e-mail (the request search), PostgreSQL only."""

from __future__ import annotations

from django.db import migrations

from core.db import TRIGRAM_EXTENSION, trigram_index


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0004_move_audit_event_to_audit_app"),
    ]

    operations = [
        TRIGRAM_EXTENSION,
        trigram_index("portal_user", "email", "user_email_trgm"),
        trigram_index("portal_user", "first_name", "user_first_name_trgm"),
        trigram_index("portal_user", "last_name", "user_last_name_trgm"),
    ]
