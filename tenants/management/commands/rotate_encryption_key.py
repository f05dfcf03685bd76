"""Re-encrypt every stored tenant secret (and cached token, and webhook signing key) with the
newest key.

Run after putting a new key first in FIELD_ENCRYPTION_KEYS; once it succeeds, the old key
can be removed. If any secret cannot be decrypted with the configured keys, nothing is
changed and the tenants concerned are named.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tenants import crypto, tokens
from tenants.models import JobCredentials, Tenant, TenantToken, WebhookSubscription

# The column's value for a tenant without a secret.
NONE_STORED = ""


class Command(BaseCommand):
    help = (
        "Re-encrypt every tenant secret and stored token with the newest FIELD_ENCRYPTION_KEYS key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            stored = Tenant.objects.select_for_update().exclude(client_secret_encrypted=NONE_STORED)
            tenants = list(stored)
            rotated: dict[int, str] = {}
            unreadable: list[str] = []
            for tenant in tenants:
                try:
                    rotated[tenant.pk] = crypto.rotate(tenant.client_secret_encrypted)
                except crypto.SecretUnavailable:
                    unreadable.append(f"{tenant.name} ({tenant.slug})")
            if unreadable:
                raise CommandError(
                    "Nothing was changed: the client secret of these tenants cannot be decrypted "
                    f"with FIELD_ENCRYPTION_KEYS: {', '.join(unreadable)}. Add back the key that "
                    "encrypted them, or enter their secrets again, then run this command again."
                )
            for tenant in tenants:
                tenant.client_secret_encrypted = rotated[tenant.pk]
                tenant.save(update_fields=["client_secret_encrypted"])
            token_count = dropped = 0
            for row in TenantToken.objects.select_for_update().select_related("tenant"):
                try:
                    row.token_encrypted = crypto.rotate(row.token_encrypted)
                except crypto.SecretUnavailable:
                    row.delete()  # a cached token is disposable: a new one is fetched on demand
                    dropped += 1
                    continue
                row.fingerprint = tokens.credential_fingerprint(row.tenant, row.scope or None)
                row.save(update_fields=["token_encrypted", "fingerprint"])
                token_count += 1
            keys = keys_dropped = 0
            subs = WebhookSubscription.objects.select_for_update().exclude(signing_key_encrypted="")
            for sub in subs:
                try:
                    sub.signing_key_encrypted = crypto.rotate(sub.signing_key_encrypted)
                    keys += 1
                except crypto.SecretUnavailable:
                    # Disposable too: the receiver reads it again from the upstream.
                    sub.signing_key_encrypted = ""
                    keys_dropped += 1
                sub.save(update_fields=["signing_key_encrypted"])
            pending = JobCredentials.objects.select_for_update().exclude(values_encrypted="")
            for handover in pending:
                try:
                    handover.values_encrypted = crypto.rotate(handover.values_encrypted)
                except crypto.SecretUnavailable:
                    # Not sendable any more: the send task says so and asks for them again.
                    handover.values_encrypted = ""
                handover.save(update_fields=["values_encrypted"])
        tokens.forget()
        self.stdout.write(
            f"Re-encrypted {len(tenants)} tenant secret(s), {token_count} stored token(s) and "
            f"{keys} webhook signing key(s) with the newest key"
            + (f"; dropped {dropped} unreadable token(s)" if dropped else "")
            + (f"; dropped {keys_dropped} unreadable signing key(s)" if keys_dropped else "")
            + "."
        )
