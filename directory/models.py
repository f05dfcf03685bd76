"""The directory browser's records: report runs of an upstream and their rows (snapshots)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ReportKind(models.TextChoices):
    GROUP_MEMBERSHIPS = "group_memberships", "Group memberships"
    SITE_PERMISSIONS = "site_permissions", "Site permissions"
    USER_ACCESS = "user_access", "User access"


class ReportRun(models.Model):
    """One run of a Point async report for a tenant; a succeeded run's rows are its snapshot.

    At most one run per (tenant, kind, subject) is running at a time (a conditional unique
    constraint): concurrent refreshes join it and so share one upstream job.
    """

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="report_runs"
    )
    kind = models.CharField(max_length=30, choices=ReportKind)
    # Group id, site URL or user UPN; "" for the report of every group / site.
    subject = models.CharField(max_length=500, blank=True)
    # What people call the subject (a group's name); shown and used in links.
    subject_label = models.CharField(max_length=500, blank=True)
    upstream_job_id = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=20, choices=State, default=State.RUNNING)
    processed = models.PositiveIntegerField(null=True, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # A status word the upstream sent that its adapter does not know, shown raw while polling.
    upstream_status = models.CharField(max_length=100, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    # Claims, so a redelivered task never starts a second job or stores the result twice.
    start_claimed_at = models.DateTimeField(null=True, blank=True)
    fetch_claimed_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Moved here from the provisioning app (directory/migrations/0001) with its rows.
        db_table = "directory_reportrun"
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "subject"],
                condition=models.Q(state="running"),
                name="report_one_running_per_subject",
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "kind", "subject", "state", "-finished_at"], name="report_latest"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject_label or self.subject or '(all)'} ({self.state})"

    @property
    def is_running(self) -> bool:
        return self.state == self.State.RUNNING

    @property
    def percent(self) -> int | None:
        if self.processed is None or not self.total:
            return None
        return min(100, round(100 * self.processed / self.total))


class ReportRow(models.Model):
    """One row of a report snapshot: the columns we search, filter and sort on, plus the full row."""

    run = models.ForeignKey(ReportRun, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField()
    group_id = models.CharField(max_length=100, blank=True)
    group_name = models.CharField(max_length=500, blank=True)
    # Member / principal / workspace name and its UPN or e-mail.
    name = models.CharField(max_length=500, blank=True)
    upn = models.CharField(max_length=500, blank=True)
    # user | guest | group (memberships, permissions); site | team | group | onedrive (access).
    kind = models.CharField(max_length=30, blank=True)
    # owner | member (memberships); how access is granted (permissions, access).
    role = models.CharField(max_length=100, blank=True)
    site_url = models.CharField(max_length=1000, blank=True)
    permission = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        db_table = "directory_reportrow"
        ordering = ["run", "position"]
        indexes = [
            models.Index(fields=["run", "position"], name="reportrow_order"),
            models.Index(fields=["run", "kind", "position"], name="reportrow_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"
