"""Provisioning: the template catalogue, requests and the events of each request."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

from provisioning.states import FINAL_STATES, IN_FLIGHT_STATES, State
from upstreams.contract import WORKLOAD_LABELS, TemplateRules


class Workload(models.TextChoices):
    """The kinds of workspace; values are upstreams.contract.Workload's."""

    TEAM = "team", WORKLOAD_LABELS["team"]
    GROUP = "group", WORKLOAD_LABELS["group"]
    SITE = "site", WORKLOAD_LABELS["site"]
    COMMUNITY = "community", WORKLOAD_LABELS["community"]


class FailureKind(models.TextChoices):
    """Why a request failed; only INVALID offers "Fix and resubmit" instead of a retry."""

    INVALID = "invalid", "The upstream refused what was asked"
    REFUSED = "refused", "The portal may not do this (permissions, credentials, template)"
    UPSTREAM = "upstream", "The upstream failed to create it"
    NOT_RECEIVED = "not_received", "It never reached the upstream"


# The upstream_id of a template an admin defined in the portal (no upstream catalogue).
PORTAL_TEMPLATE_PREFIX = "portal:"


class Template(models.Model):
    """A provisioning template of a tenant, as last synced from the upstream."""

    class Approval(models.TextChoices):
        AUTOMATIC = "automatic", "Approved automatically"
        MANUAL = "manual", "Needs approval"
        # The upstream's catalogue does not say (the field is not documented).
        UNKNOWN = "unknown", "Approval as the upstream decides"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="templates")
    upstream_id = models.CharField(max_length=100)
    workload = models.CharField(max_length=20, choices=Workload)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    approval = models.CharField(max_length=20, choices=Approval, default=Approval.AUTOMATIC)
    definition = models.JSONField(default=dict, help_text="The template as the upstream sent it.")
    # What the template says about the form and the final names, in the upstream contract's
    # neutral terms (upstreams.contract.TemplateRules); read through `template_rules`.
    rules = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the definition.")
    # Admin-owned: kept across syncs.
    hidden = models.BooleanField(default=False, help_text="Hidden templates are not offered.")
    help_text = models.TextField(blank=True, help_text="Shown to requesters above the form.")
    # Admin-owned: approval stages run in the portal before anything is sent upstream
    # ([{"kind": "group" | "it_staff", "approvers": [upn, ...]}], at most three; see
    # services/approvals.py). Empty: the request is sent at once.
    portal_stages = models.JSONField(default=list, blank=True)
    # Gone upstream: kept for the requests that used it, never offered again.
    removed_upstream = models.BooleanField(default=False)
    synced_at = models.DateTimeField()
    changed_at = models.DateTimeField(help_text="When the definition last changed upstream.")

    class Meta:
        ordering = ["tenant", "workload", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "upstream_id"], name="template_unique_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_workload_display()})"

    @property
    def portal_defined(self) -> bool:
        """Defined by an admin in the portal (the upstream has no catalogue), not synced."""
        return self.upstream_id.startswith(PORTAL_TEMPLATE_PREFIX)

    @property
    def offered(self) -> bool:
        return not self.hidden and not self.removed_upstream

    @property
    def template_rules(self) -> TemplateRules:
        return TemplateRules.from_json(self.rules)


class ProvisioningRequest(models.Model):
    """One person's request for one workspace, followed until it exists or fails."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="requests")
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="provisioning_requests"
    )
    workload = models.CharField(max_length=20, choices=Workload)
    display_name = models.CharField(max_length=256, help_text="As the requester typed it.")
    final_name = models.CharField(max_length=300, help_text="With the template's naming rule.")
    # The form as submitted, in neutral terms (payload.RequestData): the upstream adapter renders
    # its own wire body from it when sending, and clone and retry start from it.
    form_data = models.JSONField(default=dict, help_text="The form as submitted.")
    # The upstream has no idempotency key: this one names our attempt, so a repeated send can
    # look for what an earlier, unanswered attempt created before it posts again.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The key of the form (or API call) that created the request: one form, one request, however
    # often it is posted (a double click, a resubmit, concurrent POSTs). Unique per requester.
    submission_key = models.CharField(max_length=200, blank=True, editable=False)
    state = models.CharField(max_length=20, choices=State, default=State.SUBMITTED)
    upstream_id = models.CharField(max_length=100, blank=True)
    upstream_status = models.CharField(max_length=50, blank=True)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    workspace_url = models.URLField(max_length=500, blank=True)
    workspace_id = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    # Why a failed request failed, which decides what can help: a retry, or fixing the form.
    failure_kind = models.CharField(max_length=20, choices=FailureKind, blank=True)
    # An attempt of this send round may have reached the upstream (its answer was lost, or its
    # worker died): a later "already exists" is then our own request, never a name taken.
    maybe_sent = models.BooleanField(default=False)
    # The upstream accepted it (2xx) without naming it: it arrived, so it is never sent again.
    accepted_at = models.DateTimeField(null=True, blank=True)
    # A person checked the upstream and found nothing: a confirming request may be sent again.
    resend_approved = models.BooleanField(default=False)
    # Where the template's naming rule is not published, the final name is unknown: the ids of
    # the workspaces whose name held the typed name before this round's first send, so that
    # a lost answer can be matched to the one workspace that appeared since. None: not read.
    workspaces_before = models.JSONField(null=True, blank=True)
    # Field-level messages from an upstream validation failure, keyed by the form's field
    # names, so "fix and resubmit" shows each next to its field.
    field_errors = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=100, blank=True)
    # The upstream's approval process as it last said: {"process", "stages": [{"number",
    # "status", "approvers", "resolved_by", "resolved_at", "comment"}]} (following.status_fields).
    upstream_approval = models.JSONField(default=dict, blank=True)
    send_attempts = models.PositiveIntegerField(default=0)
    send_started_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_interval = models.PositiveIntegerField(
        default=0, help_text="Seconds; grows while nothing changes."
    )
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # The poller pass that holds this request for a status check (services/poller.py): one
    # conditional UPDATE claims a chunk, so two pollers never check the same request.
    poll_claim = models.UUIDField(null=True, blank=True, editable=False)
    cloned_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    # The transition event the requester was last e-mailed about: claimed before sending, so a
    # redelivered e-mail task never mails the same outcome twice.
    notified_event_id = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The poller: in-flight requests whose next poll is due.
            models.Index(fields=["state", "next_poll_at"], name="request_poll_due"),
            # "My requests" and the IT list, newest first.
            models.Index(fields=["requested_by", "-created_at"], name="request_by_person"),
            models.Index(fields=["tenant", "-created_at"], name="request_by_tenant"),
            # "All requests" across tenants, newest first: without it every page sorted every
            # row (10,000 requests on PostgreSQL: 22-34 ms; with it 2.6-3.6 ms).
            models.Index(fields=["-created_at", "-id"], name="request_newest_first"),
            # The API's changes feed: changed since a cursor, oldest change first.
            models.Index(fields=["updated_at", "id"], name="request_changes"),
            # The dashboard's counts by state and workload, read from the index alone.
            models.Index(fields=["tenant", "state", "workload"], name="request_tally"),
            # "All requests" filtered by state, newest first.
            models.Index(fields=["state", "-created_at", "-id"], name="request_by_state"),
            # What replaced a request (its page, the failed queue): few rows have one, and
            # without this SQLite walks every request newest first to find them.
            models.Index(
                fields=["cloned_from", "-created_at", "-id"],
                condition=models.Q(cloned_from__isnull=False),
                name="request_resubmissions",
            ),
            # The dashboard's oldest request still open: unfinished ones only, oldest first. On
            # finished_at, which every final state sets: SQLite uses a partial index only for a
            # query naming its condition literally, and Django binds an IN list's values.
            models.Index(
                fields=["created_at", "id"],
                condition=models.Q(finished_at__isnull=True),
                name="request_open_oldest",
            ),
        ]
        # On PostgreSQL, trigram indexes for the search of "All requests" (display and final
        # name contain...) and one for the upstream id (iexact): migration 0013, outside Meta,
        # which cannot declare them for SQLite too.
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "submission_key"],
                condition=~models.Q(submission_key=""),
                name="request_one_per_submission",
            )
        ]

    def __str__(self) -> str:
        return f"{self.final_name or self.display_name} ({self.get_state_display()})"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def is_in_flight(self) -> bool:
        return self.state in IN_FLIGHT_STATES


class RequestPerson(models.Model):
    """A person a request names as owner or member: they may follow it (read-only)."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    request = models.ForeignKey(
        ProvisioningRequest, on_delete=models.CASCADE, related_name="people"
    )
    # Lower-cased UPN as typed on the form; matched against the signed-in person's UPN and e-mail.
    upn = models.CharField("UPN", max_length=254)
    role = models.CharField(max_length=10, choices=Role)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request", "upn", "role"], name="request_person_unique")
        ]
        indexes = [models.Index(fields=["upn"], name="request_person_upn")]

    def __str__(self) -> str:
        return f"{self.upn} ({self.role}) of request {self.request_id}"


class RequestEvent(models.Model):
    """One step in a request's timeline; never changed after it is written."""

    class Source(models.TextChoices):
        PORTAL = "portal", "Portal"
        POLL = "poll", "Status check"
        WEBHOOK = "webhook", "Webhook"
        PERSON = "person", "Person"
        API = "api", "API"

    request = models.ForeignKey(
        ProvisioningRequest, on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=20, choices=Source)
    from_state = models.CharField(max_length=20, choices=State, blank=True)
    to_state = models.CharField(max_length=20, choices=State)
    detail = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.from_state or '-'} -> {self.to_state}"


class WebhookDelivery(models.Model):
    """One POST to the webhook receiver: how it was verified, and what it did.

    A verified event is stored once per (tenant, idempotency key): a redelivered copy only
    counts. Rejected posts are noted (at most one per tenant and reason every few seconds, see
    services/pushed.py), without their body: nothing unverified is kept or read.
    """

    class Verdict(models.TextChoices):
        ACCEPTED = "accepted", "Verified"
        BAD_SIGNATURE = "bad_signature", "Rejected: signature does not match"
        NO_SIGNATURE = "no_signature", "Rejected: no signature"
        TOO_LARGE = "too_large", "Rejected: body too large"
        NO_KEY = "no_key", "Rejected: no signing key stored"
        MALFORMED = "malformed", "Verified, but not an event the portal can read"

    class Outcome(models.TextChoices):
        PENDING = "pending", "Being processed"
        APPLIED = "applied", "Applied"
        NO_CHANGE = "no_change", "Nothing new"
        WAITING = "waiting", "Waiting for the send to be recorded"
        UNMATCHED = "unmatched", "No matching request"
        AMBIGUOUS = "ambiguous", "Several requests match"
        STALE = "stale", "From an earlier attempt"
        IGNORED = "ignored", "Not about a request"
        REJECTED = "rejected", "Rejected"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    received_at = models.DateTimeField()
    verdict = models.CharField(max_length=20, choices=Verdict)
    # The upstream's idempotency key (or the body's hash when it sends none).
    event_key = models.CharField(max_length=200, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    workload = models.CharField(max_length=20, blank=True)
    workspace_name = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    body = models.TextField(blank=True, help_text="The verified body, as received.")
    size = models.PositiveIntegerField(default=0, help_text="Bytes received.")
    outcome = models.CharField(max_length=20, choices=Outcome, default=Outcome.PENDING)
    request = models.ForeignKey(
        ProvisioningRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    detail = models.TextField(blank=True, help_text="What it did, or why it matched nothing.")
    processed_at = models.DateTimeField(null=True, blank=True)
    copies = models.PositiveIntegerField(default=1, help_text="Times it was delivered.")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["tenant", "-received_at"], name="delivery_by_tenant"),
            models.Index(fields=["outcome", "received_at"], name="delivery_by_outcome"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "event_key"],
                condition=~models.Q(event_key=""),
                name="delivery_once_per_event",
            )
        ]

    def __str__(self) -> str:
        what = self.event_type or self.get_verdict_display()
        return f"{what} for {self.workspace_name or 'no workspace'} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class BulkUpload(models.Model):
    """A CSV of requests for one template, uploaded by IT staff: each row validated like the
    form and shown before anything is sent; accepted rows are submitted once each (their
    submission key is the upload and row number, see services/bulk.py)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    filename = models.CharField(max_length=200, blank=True)
    # [{"row": n, "data": {form field: value}, "errors": {label: [messages]}}], in file order.
    rows = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename or 'CSV'} for {self.template} ({len(self.rows)} rows)"

    @property
    def valid_rows(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if not row.get("errors")]

    def submission_key(self, row: int) -> str:
        return f"bulk-{self.pk}-{row}"


class PortalApproval(models.Model):
    """One approval stage of a request, run in the portal before it is sent upstream."""

    class Kind(models.TextChoices):
        GROUP = "group", "Named approvers"
        IT_STAFF = "it_staff", "IT staff of the tenant"

    class Decision(models.TextChoices):
        WAITING = "waiting", "Waiting"
        PENDING = "pending", "Not reached yet"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    request = models.ForeignKey(
        ProvisioningRequest, on_delete=models.CASCADE, related_name="portal_approvals"
    )
    stage = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=Kind)
    approvers = models.JSONField(default=list, blank=True, help_text="UPNs (named approvers).")
    decision = models.CharField(max_length=20, choices=Decision, default=Decision.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "stage"]
        constraints = [
            models.UniqueConstraint(fields=["request", "stage"], name="portal_approval_stage_once")
        ]
        indexes = [
            models.Index(fields=["decision", "waiting_since"], name="portal_approval_waiting")
        ]

    def __str__(self) -> str:
        return f"Stage {self.stage} of request {self.request_id}: {self.get_decision_display()}"
