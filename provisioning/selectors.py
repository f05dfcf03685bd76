"""Reads of templates and requests, filtered by what the person may see."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.caching import kept, seconds_since
from core.forms import within_dates
from core.roles import is_staff
from provisioning.models import (
    BulkUpload,
    ProvisioningRequest,
    RequestEvent,
    RequestPerson,
    Template,
    WebhookDelivery,
    Workload,
)
from provisioning.states import FINAL_STATES, State
from tenants import people
from tenants.models import Tenant
from tenants.selectors import (
    get_object_for_user,
    people_matching,
    scope_to_user,
    tenants_for_user,
)

if TYPE_CHECKING:
    from portal.models import User


def template_list_offered(*, tenant: Tenant) -> QuerySet[Template]:
    """The templates a tenant's requesters may choose: not hidden, not gone upstream."""
    return Template.objects.filter(tenant=tenant, hidden=False, removed_upstream=False).order_by(
        "workload", "name"
    )


@dataclass(frozen=True)
class WorkloadGroup:
    workload: str
    label: str
    templates: list[Template]


def catalogue_for(*, tenant: Tenant) -> list[WorkloadGroup]:
    """Offered templates grouped by workload, in the order of the Workload choices."""
    by_workload: dict[str, list[Template]] = {w.value: [] for w in Workload}
    for template in template_list_offered(tenant=tenant):
        by_workload.setdefault(template.workload, []).append(template)
    return [
        WorkloadGroup(w.value, w.label, by_workload[w.value])
        for w in Workload
        if by_workload[w.value]
    ]


@dataclass(frozen=True)
class SyncState:
    synced_at: datetime | None
    changed_at: datetime | None


def catalogue_sync_state(*, tenant: Tenant) -> SyncState:
    """When the tenant's catalogue was last synced, and when a template last changed upstream."""
    found = Template.objects.filter(tenant=tenant).aggregate(
        synced=Max("synced_at"), changed=Max("changed_at")
    )
    return SyncState(found["synced"], found["changed"])


def template_get_for_user(*, user: User, pk: int) -> Template:
    """An offered template of a tenant the person serves (404 otherwise)."""
    return get_object_for_user(
        user,
        Template.objects.select_related("tenant"),
        pk=pk,
        hidden=False,
        removed_upstream=False,
    )


def _requests() -> QuerySet[ProvisioningRequest]:
    return ProvisioningRequest.objects.select_related("tenant", "template", "requested_by")


def _naming(user: User) -> Q:
    """Requests whose owners or members include the person."""
    names = people.names_of(user)
    if not names:
        return Q(pk__in=[])
    return Q(pk__in=RequestPerson.objects.filter(upn__in=names).values("request_id"))


def request_list_mine(*, user: User) -> QuerySet[ProvisioningRequest]:
    """The person's own requests and those naming them as owner or member (in tenants they
    still serve), newest first."""
    mine = Q(requested_by=user) | _naming(user)
    return scope_to_user(_requests().filter(mine), user).order_by("-created_at", "-id")


def request_list_for_staff(*, user: User) -> QuerySet[ProvisioningRequest]:
    """Every request in the tenants an IT staff member or admin serves, newest first."""
    if not is_staff(user):
        return ProvisioningRequest.objects.none()
    return scope_to_user(_requests(), user).order_by("-created_at", "-id")


# What a row of the request lists shows (templates/provisioning/request_list.html): loading
# only these skips the JSON and text columns a row never shows (form data, approval process,
# error text), which cost more to read than the rows' query (issue 18: 25 rows, about 2 ms).
LIST_COLUMNS = (
    "created_at",
    "final_name",
    "display_name",
    "workload",
    "state",
    "upstream_id",
    "requested_by_id",
    "tenant__name",
    "tenant__provider",
    "template__name",
    "requested_by__first_name",
    "requested_by__last_name",
    "requested_by__email",
)


def for_list(requests: QuerySet[ProvisioningRequest]) -> QuerySet[ProvisioningRequest]:
    """``requests`` with only what a list row shows (no query per row for anything else)."""
    return requests.only(*LIST_COLUMNS)


def request_get_for_user(*, user: User, pk: int) -> ProvisioningRequest:
    """A request the person may see (404 otherwise): their own, one naming them as owner or
    member (read-only), or any in a served tenant for IT staff."""
    found = get_object_for_user(user, _requests(), pk=pk)
    if is_staff(user) or found.requested_by_id == getattr(user, "pk", None):
        return found
    if ProvisioningRequest.objects.filter(_naming(user), pk=found.pk).exists():
        return found
    if is_named_approver(user, found):
        return found
    raise Http404("No such request.")


def is_named_approver(user: User, item: ProvisioningRequest) -> bool:
    """Is the person named as an approver of one of the request's portal stages?"""
    names = people.names_of(user)
    return any(names & set(a.approvers) for a in item.portal_approvals.all())


def resubmissions(*, user: User, item: ProvisioningRequest) -> list[ProvisioningRequest]:
    """The requests made from this one ("Fix and resubmit", "Request another like this") that
    the person may see, newest first: the failed original links to what replaced it."""
    later = scope_to_user(ProvisioningRequest.objects.filter(cloned_from=item), user)
    if not is_staff(user):
        later = later.filter(requested_by=user)
    return list(later.order_by("-created_at", "-id")[:5])


def may_act_on(user: User, item: ProvisioningRequest) -> bool:
    """Retry, cancel: the requester and IT staff; people only named on it just follow it."""
    return is_staff(user) or item.requested_by_id == user.pk


def named_as(user: User, item: ProvisioningRequest) -> list[str]:
    """The roles ("Owner", "Member") the request gives the person, for "why you see this"."""
    roles = item.people.filter(upn__in=people.names_of(user)).values_list("role", flat=True)
    return sorted({RequestPerson.Role(role).label for role in roles})


def request_filter(
    queryset: QuerySet[ProvisioningRequest], data: dict[str, Any]
) -> QuerySet[ProvisioningRequest]:
    """``queryset`` narrowed by a valid RequestFilterForm's cleaned data."""
    if data.get("tenant"):
        queryset = queryset.filter(tenant=data["tenant"])
    if data.get("workload"):
        queryset = queryset.filter(workload=data["workload"])
    if data.get("state"):
        queryset = queryset.filter(state=data["state"])
    if data.get("queue"):
        queryset = queryset.filter(QUEUES[data["queue"]]())
    queryset = within_dates(queryset, data.get("since"), data.get("until"))
    text = str(data.get("q") or "").strip()
    if text:
        queryset = queryset.filter(
            Q(display_name__icontains=text)
            | Q(final_name__icontains=text)
            | Q(upstream_id__iexact=text)
            | Q(requested_by__in=people_matching(text))
        )
    return queryset


# --- IT queues ----------------------------------------------------------------------------------


def failed_queue() -> Q:
    """Failed, and not replaced by a "Fix and resubmit" or a copy since."""
    replaced = ProvisioningRequest.objects.filter(cloned_from=OuterRef("pk"))
    return Q(state=State.FAILED) & ~Q(Exists(replaced))


def stuck_queue() -> Q:
    """Not final, not waiting for an approver, and nothing happened for PROVISIONING_STUCK_AFTER
    seconds (sending, confirming, approved or in progress for too long)."""
    quiet_since = timezone.now() - timedelta(seconds=settings.PROVISIONING_STUCK_AFTER)
    recent = RequestEvent.objects.filter(request=OuterRef("pk"), at__gte=quiet_since)
    return (
        ~Q(state__in=[*FINAL_STATES, State.WAITING_APPROVAL, State.PORTAL_APPROVAL])
        & Q(created_at__lt=quiet_since)
        & ~Q(Exists(recent))
    )


def waiting_queue() -> Q:
    return Q(state__in=(State.WAITING_APPROVAL, State.PORTAL_APPROVAL))


# Queue name -> its condition; the names are the "queue" filter of "All requests".
QUEUES = {"failed": failed_queue, "stuck": stuck_queue, "waiting": waiting_queue}
QUEUE_LABELS = {
    "failed": "Failed, not resubmitted",
    "stuck": "Stuck (nothing happened for a while)",
    "waiting": "Waiting for an approver",
}


@dataclass(frozen=True)
class Queue:
    name: str
    label: str
    count: int


def it_queues(*, user: User, tenant: Tenant | None) -> list[Queue]:
    """The IT home's queues for the tenant chosen in the header (every served one if none)."""
    requests = request_list_for_staff(user=user)
    if tenant is not None:
        requests = requests.filter(tenant=tenant)
    return [
        Queue(name, QUEUE_LABELS[name], requests.filter(condition()).count())
        for name, condition in QUEUES.items()
    ]


# --- Dashboard ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    by_state: list[tuple[str, int]]
    by_workload: list[tuple[str, int]]
    per_day: list[tuple[date, int]]
    total: int
    oldest_open: ProvisioningRequest | None
    counted_at: datetime | None = None  # when these numbers were counted

    @property
    def age(self) -> int:
        """Whole seconds since the numbers were counted."""
        return 0 if self.counted_at is None else seconds_since(self.counted_at)


def dashboard_cached(*, tenants: list[int], fresh: bool = False) -> Dashboard:
    """``dashboard_for`` these tenants, counted at most DASHBOARD_CACHE_SECONDS ago (``fresh``:
    count now). Counting reads every request (100,000 requests: about 100 ms on SQLite and on
    PostgreSQL); a dashboard a few seconds old, which says so, costs nothing of that."""
    today = timezone.localdate()
    key = f"dashboard:{today.isoformat()}:{','.join(map(str, sorted(tenants)))}"
    numbers, counted_at, _ = kept(
        key,
        lambda: dashboard_for(tenants=tenants, today=today),
        seconds=settings.DASHBOARD_CACHE_SECONDS,
        fresh=fresh,
    )
    return replace(numbers, counted_at=counted_at)


def dashboard_for(
    *, tenants: QuerySet[Tenant] | list[int], today: date | None = None, days: int = 30
) -> Dashboard:
    """Counts by state and workload, requests per day for ``days`` days, the oldest open request.

    A fixed number of queries whatever the number of requests: the tenants, one grouped count,
    one pass over the last ``days`` days' rows counting each day with a filtered count (day
    boundaries are computed here in the current time zone, so the database needs no time zone
    function per row; on SQLite that function is Python), and the oldest open request.
    """
    # The tenants as a list of ids, not a subquery: SQLite plans `tenant_id IN (SELECT ...)`
    # as a scan of every request (100,000 requests: 150 ms, against 0.3 ms from the index).
    ids = tenants if isinstance(tenants, list) else list(tenants.values_list("pk", flat=True))
    requests = ProvisioningRequest.objects.filter(tenant_id__in=ids)
    states: dict[str, int] = {}
    workloads: dict[str, int] = {}
    # Grouped by tenant too, so that the request_tally index alone answers it.
    grouped = (
        requests.values_list("tenant_id", "state", "workload").annotate(n=Count("id")).order_by()
    )
    for _, state, workload, n in grouped:
        states[state] = states.get(state, 0) + n
        workloads[workload] = workloads.get(workload, 0) + n
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    zone = timezone.get_current_timezone()
    starts = [datetime.combine(first + timedelta(days=i), time.min, zone) for i in range(days + 1)]
    daily = requests.filter(created_at__gte=starts[0], created_at__lt=starts[-1]).aggregate(
        **{
            f"d{i}": Count("id", filter=Q(created_at__gte=starts[i], created_at__lt=starts[i + 1]))
            for i in range(days)
        }
    )
    # The oldest open one by its own index (request_open_oldest), then its row with what the
    # page shows: the join in the same query made SQLite start from the people table and sort.
    first_open = (
        requests.filter(finished_at__isnull=True)
        .exclude(state__in=FINAL_STATES)
        .order_by("created_at", "id")
    )
    oldest = _requests().filter(pk=Subquery(first_open.values("pk")[:1])).first()
    return Dashboard(
        by_state=[(s.label, states.get(s.value, 0)) for s in State],
        by_workload=[(w.label, workloads.get(w.value, 0)) for w in Workload],
        per_day=[(first + timedelta(days=i), daily[f"d{i}"] or 0) for i in range(days)],
        total=sum(states.values()),
        oldest_open=oldest,
    )


# Outcomes IT staff look into: the event did not reach a request.
DELIVERY_PROBLEMS = (
    WebhookDelivery.Outcome.REJECTED,
    WebhookDelivery.Outcome.UNMATCHED,
    WebhookDelivery.Outcome.AMBIGUOUS,
    WebhookDelivery.Outcome.STALE,
    WebhookDelivery.Outcome.IGNORED,
)


def deliveries_for_staff(
    *, user: User, tenant: Tenant | None = None, problems: bool = False
) -> QuerySet[WebhookDelivery]:
    """Webhook deliveries of the tenants an IT staff member or admin serves, newest first."""
    if not is_staff(user):
        return WebhookDelivery.objects.none()
    found = scope_to_user(WebhookDelivery.objects.select_related("tenant", "request"), user)
    if tenant is not None:
        found = found.filter(tenant=tenant)
    if problems:
        found = found.filter(outcome__in=DELIVERY_PROBLEMS)
    return found.order_by("-received_at", "-id")


@dataclass(frozen=True)
class WebhookState:
    tenant: Tenant
    receiving: bool
    quiet: bool
    reason: str = ""


def webhook_health_for(*, user: User) -> list[WebhookState]:
    """For each served tenant with webhooks on: receiving and trusted, quiet (polling at the
    normal rate, and why), or on but not receiving."""
    from provisioning.services import webhook_health

    tenants = list(
        tenants_for_user(user)
        .filter(webhook__enabled=True)
        .select_related("webhook")
        .order_by("name")
    )
    known = {h.tenant_id: h for h in webhook_health.health()}
    states = []
    for tenant in tenants:
        found = known.get(tenant.pk)
        if found is None:
            states.append(WebhookState(tenant, False, False, tenant.webhook.last_error))
        else:
            states.append(WebhookState(tenant, True, found.quiet, found.reason))
    return states


def bulk_upload_get_for_user(*, user: User, pk: int) -> BulkUpload:
    """An upload of a tenant the IT staff member serves (404 otherwise)."""
    if not is_staff(user):
        raise Http404("No such upload.")
    return get_object_for_user(
        user, BulkUpload.objects.select_related("template", "tenant", "uploaded_by"), pk=pk
    )


@dataclass(frozen=True)
class UpstreamStage:
    number: int
    status: str  # a contract Status value
    approvers: list[str]
    resolved_by: str
    resolved_at: datetime | None
    comment: str
    current: bool


def upstream_stages(item: ProvisioningRequest) -> tuple[str, list[UpstreamStage]]:
    """The upstream's approval process as it last said (its name, its stages); the stage that
    waits is ``current`` while the request waits for an approver."""
    data = item.upstream_approval if isinstance(item.upstream_approval, dict) else {}
    stages: list[UpstreamStage] = []
    waiting_marked = False
    for raw in data.get("stages") or []:
        if not isinstance(raw, dict):
            continue
        status = str(raw.get("status") or "unknown")
        current = (
            item.state == State.WAITING_APPROVAL
            and not waiting_marked
            and status in ("pending_approval", "unknown")
        )
        waiting_marked = waiting_marked or current
        when = parse_datetime(str(raw.get("resolved_at") or ""))
        stages.append(
            UpstreamStage(
                number=int(raw.get("number") or len(stages) + 1),
                status=status,
                approvers=[str(a) for a in raw.get("approvers") or []],
                resolved_by=str(raw.get("resolved_by") or ""),
                resolved_at=when,
                comment=str(raw.get("comment") or ""),
                current=current,
            )
        )
    return str(data.get("process") or ""), stages
