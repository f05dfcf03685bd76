"""A tenant's webhooks: turn them on (read the signing key, register the receiver URL
upstream), off, list and remove what the upstream holds, and re-read the key.

Writes and reads of `WebhookSubscription`; what arrives at the receiver is the provisioning
app's (provisioning/services/pushed.py). Only admins of the tenant's organisation and
operators change them (the views check; these functions take the person for the audit log).
See docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from tenants import crypto, upstream
from tenants.models import Tenant, WebhookSubscription
from upstreams.contract import NotSupported, UpstreamError, WebhookRegistration

if TYPE_CHECKING:
    from portal.models import User

logger = logging.getLogger(__name__)


class WebhookSetupError(Exception):
    """Webhooks cannot be turned on: ``message`` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def subscription_for(tenant: Tenant) -> WebhookSubscription:
    """The tenant's subscription row (made, switched off, on first use)."""
    sub, _ = WebhookSubscription.objects.select_related("tenant").get_or_create(tenant=tenant)
    return sub


def _audit(tenant: Tenant, user: User | None, detail: str) -> None:
    audit_record(action=AuditAction.WEBHOOKS_CHANGED, user=user, tenant=tenant, detail=detail)


def _check_receiver_url(url: str) -> None:
    # The upstream pushes signed events, but over plain HTTP anyone on the path could read
    # them: https only, except the demo (emulator on this machine).
    if not url.startswith("https://") and not settings.DEMO_MODE:
        raise WebhookSetupError(
            f"The portal's address ({settings.PORTAL_BASE_URL}) is not https://: set "
            "PORTAL_BASE_URL to the https address the upstream can reach."
        )


def _same_url(held: str, url: str) -> bool:
    """The upstream may write a URL back with another case or a trailing slash."""
    return held.rstrip("/").casefold() == url.rstrip("/").casefold()


def webhooks_enable(*, tenant: Tenant, user: User | None) -> WebhookSubscription:
    """Read the signing key and register the receiver URL upstream for the events the portal
    uses. Raises WebhookSetupError (its message says what to do); nothing is left half on."""
    sub = subscription_for(tenant)
    url = sub.receiver_url
    _check_receiver_url(url)
    provider = upstream.provider_for(tenant)
    if not provider.capabilities.webhooks:
        raise WebhookSetupError(f"{provider.label} does not push events: the portal polls it.")
    try:
        key = provider.webhook_signing_key()
        registration = provider.register_webhook(url)
        # A 2xx whose body is not read proves nothing by itself: "on" is said only once the
        # upstream lists the registration (a documented read), or it would push nothing.
        if not any(_same_url(held.url, url) for held in provider.list_webhooks()):
            raise UpstreamError(
                f"{provider.label} answered the registration but does not list it, so it "
                f"would push nothing. Try again; if it persists, check {provider.label}'s "
                "webhooks."
            )
    except UpstreamError as error:
        WebhookSubscription.objects.filter(pk=sub.pk).update(
            last_error=error.text[:1000], updated_at=timezone.now()
        )
        raise WebhookSetupError(
            f"{provider.label} did not take the registration: {error.text}"
        ) from error
    old_url = sub.registered_url
    if old_url and old_url != url:
        # The portal moved: the old address would only collect failed deliveries upstream.
        _remove_quietly(tenant, old_url)
    now = timezone.now()
    sub.set_signing_key(key)
    sub.enabled = True
    sub.registered_url = url
    sub.registered_at = now
    sub.key_read_at = now
    sub.last_error = ""
    sub.changed_by = user
    sub.save()
    _audit(
        tenant,
        user,
        f"Webhooks turned on: {provider.label} pushes {', '.join(registration.events)} to the "
        "portal; the signing key is stored encrypted.",
    )
    return sub


def _remove_quietly(tenant: Tenant, url: str) -> bool:
    try:
        return upstream.provider_for(tenant).remove_webhook(url)
    except UpstreamError as error:
        logger.warning("Tenant %s: could not remove an old webhook: %s", tenant.slug, error.message)
        return False


@dataclass(frozen=True)
class Outcome:
    """What turning off or removing did; ``warning`` when the upstream could not be told."""

    message: str
    warning: bool = False


def webhooks_disable(*, tenant: Tenant, user: User | None) -> Outcome:
    """Stop receiving: remove the registration upstream and forget the key. Turned off here
    even when the upstream cannot be reached (then its registration is left, and said so)."""
    sub = subscription_for(tenant)
    label = tenant.upstream_label
    outcome = Outcome("Webhooks are off: the portal polls for status.")
    if sub.registered_url:
        try:
            upstream.provider_for(tenant).remove_webhook(sub.registered_url)
        except UpstreamError as error:
            outcome = Outcome(
                f"Webhooks are off here, but {label} could not be told ({error.text}). Its "
                "registration stays until removed under Registrations; events sent there are "
                "refused.",
                warning=True,
            )
    with transaction.atomic():
        sub.enabled = False
        sub.registered_url = ""
        sub.registered_at = None
        sub.set_signing_key("")
        sub.key_read_at = None
        sub.last_error = outcome.message if outcome.warning else ""
        sub.changed_by = user
        sub.save()
        _audit(tenant, user, outcome.message)
    return outcome


def registrations(tenant: Tenant) -> list[WebhookRegistration]:
    """What the upstream holds now (a live read). Raises UpstreamError."""
    provider = upstream.provider_for(tenant)
    if not provider.capabilities.webhooks:
        raise NotSupported(f"{provider.label} has no webhooks.")
    return provider.list_webhooks()


def shown_url(url: str) -> str:
    """A registered URL for a page: without its query, which may carry a key (an Azure
    Functions ``?code=``, say)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "…" if parts.query else "", ""))


def url_digest(url: str) -> str:
    """What a page posts to name a registration, instead of its URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def registration_remove(*, tenant: Tenant, url: str, user: User | None) -> Outcome:
    """Remove one registration the upstream holds (ours, or a stale one). Removing the one the
    portal receives on turns webhooks off. Raises UpstreamError."""
    sub = subscription_for(tenant)
    removed = upstream.provider_for(tenant).remove_webhook(url)
    ours = bool(sub.registered_url) and url == sub.registered_url
    if ours:
        WebhookSubscription.objects.filter(pk=sub.pk).update(
            enabled=False,
            registered_url="",
            registered_at=None,
            signing_key_encrypted="",
            key_read_at=None,
            changed_by=user,
            updated_at=timezone.now(),
        )
    where = "the portal's own registration: webhooks are off" if ours else "a registration"
    message = (
        f"Removed {where}." if removed else f"{tenant.upstream_label} no longer held it ({where})."
    )
    _audit(tenant, user, f"Webhook registration removed ({'ours' if ours else 'not ours'}).")
    return Outcome(message)


def signing_key_refresh(*, tenant_id: int) -> bool:
    """Read the signing key again (verification started failing: it may have been rotated
    upstream). True when it changed. Errors are logged and kept on the subscription."""
    sub = (
        WebhookSubscription.objects.select_related("tenant")
        .filter(tenant_id=tenant_id, enabled=True)
        .first()
    )
    if sub is None:
        return False
    try:
        key = upstream.provider_for(sub.tenant).webhook_signing_key()
    except UpstreamError as error:
        logger.warning("Tenant %s: could not re-read the webhook key: %s", sub.tenant.slug, error)
        WebhookSubscription.objects.filter(pk=sub.pk).update(last_error=error.text[:1000])
        return False
    try:
        same = sub.get_signing_key() == key
    except crypto.SecretUnavailable:
        same = False
    now = timezone.now()
    if same:
        WebhookSubscription.objects.filter(pk=sub.pk).update(key_read_at=now)
        return False
    sub.set_signing_key(key)
    WebhookSubscription.objects.filter(pk=sub.pk).update(
        signing_key_encrypted=sub.signing_key_encrypted, key_read_at=now, last_error=""
    )
    logger.info("Tenant %s: the webhook signing key changed upstream; stored", sub.tenant.slug)
    return True
