"""A realistic portal dataset at scale, seeded fast (multi-row INSERTs, ids given): N provisioning requests
over T tenants, with their people, timelines and audit entries.

Start from a migrated database with `manage.py seed_demo` (four real tenants, templates for
the tenants without a catalogue, Megan Bowen); Point tenants' templates come from a catalogue
sync where the emulator runs, else are cloned here. Then, inside a configured Django process:

    from bench import dataset
    world = dataset.prepare(tenants=20)    # 16 more tenants cloned from the demo's, people, templates
    dataset.grow_to(world, 10_000)         # requests (+ events, people, audit), newest spread
    dataset.analyze()                      # planner statistics, as autovacuum would have them

`grow_to` only adds: call it again with a larger number to grow the same database (a bench
measures at 100 rows, then at 10,000). Everything is deterministic for a given seed and
order of calls. 100,000 requests (about 450,000 events) take about a minute.

Used by bench/pages.py; other benches may import it (`sys.path` must hold the project root).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import Model

    from portal.models import User
    from tenants.models import Tenant

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "emulator" / "fixtures" / "demo.json"
BATCH = 2000

# The 16 organisations cloned from the demo's four (Microsoft's sample company names).
MORE_TENANTS = [
    "Northwind Traders",
    "Adventure Works",
    "Woodgrove Bank",
    "Proseware",
    "Wingtip Toys",
    "Fourth Coffee",
    "Alpine Ski House",
    "Blue Yonder Airlines",
    "Coho Winery",
    "Humongous Insurance",
    "Lucerne Publishing",
    "Margie's Travel",
    "Trey Research",
    "Wide World Importers",
    "Relecloud",
    "VanArsdel",
]
FIRST_NAMES = [
    "Aaron",
    "Abby",
    "Adam",
    "Aisha",
    "Alan",
    "Amelia",
    "Ana",
    "Andre",
    "Anna",
    "Arjun",
    "Ben",
    "Bianca",
    "Carlos",
    "Chen",
    "Chloe",
    "Clara",
    "Daniel",
    "Dara",
    "David",
    "Diana",
    "Elena",
    "Emil",
    "Emma",
    "Eva",
    "Farah",
    "Felix",
    "Fiona",
    "Gabriel",
    "Grace",
    "Hana",
    "Hugo",
    "Ian",
    "Ines",
    "Ivan",
    "Jack",
    "Jana",
    "Jin",
    "Jonas",
    "Julia",
    "Karim",
    "Kate",
    "Leo",
    "Lena",
    "Liam",
    "Lucia",
    "Maya",
    "Mei",
    "Mia",
    "Nadia",
    "Nina",
    "Noah",
    "Olga",
    "Omar",
    "Paul",
    "Priya",
    "Rafael",
    "Rosa",
    "Ruth",
    "Sam",
    "Sara",
    "Sofia",
    "Tariq",
    "Theo",
    "Tom",
    "Uma",
    "Victor",
    "Wei",
    "Yara",
    "Yusuf",
    "Zoe",
]
LAST_NAMES = [
    "Adams",
    "Ahmed",
    "Alvarez",
    "Berg",
    "Brown",
    "Chen",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Green",
    "Hansen",
    "Ito",
    "Jansen",
    "Khan",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Murphy",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Petrov",
    "Quinn",
    "Rossi",
    "Sato",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Tanaka",
    "Varga",
    "Wagner",
    "Walsh",
    "Weber",
    "Wong",
    "Yilmaz",
    "Young",
    "Zhang",
]
DEPARTMENTS = [
    "Finance",
    "HR",
    "Legal",
    "Marketing",
    "Sales",
    "Engineering",
    "Research",
    "Operations",
    "Procurement",
    "Support",
    "Security",
    "Facilities",
    "Training",
    "Communications",
    "Strategy",
    "Logistics",
    "Quality",
    "Design",
    "Data",
    "IT",
]
TOPICS = [
    "budget review",
    "onboarding",
    "partner portal",
    "product launch",
    "customer feedback",
    "quarterly planning",
    "vendor management",
    "compliance audit",
    "hiring",
    "office move",
    "brand refresh",
    "pricing",
    "incident response",
    "data migration",
    "supplier onboarding",
    "town hall",
    "roadmap",
    "retrospective",
    "knowledge base",
    "field sales",
    "contract renewals",
    "sustainability",
    "innovation lab",
    "analytics",
]
# Project code names: each is in about one request name in 25 (bench/pages.py searches one).
CODE_NAMES = [
    "Aurora",
    "Borealis",
    "Cobalt",
    "Delta",
    "Ember",
    "Falcon",
    "Granite",
    "Harbor",
    "Indigo",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Nimbus",
    "Orion",
    "Pioneer",
    "Quartz",
    "Redwood",
    "Summit",
    "Tundra",
    "Umber",
    "Vertex",
    "Willow",
    "Zephyr",
]
YEAR_WORDS = ["2025", "2026", "Q1", "Q2", "Q3", "Q4", "EMEA", "APAC", "Americas", "Pilot"]

# Share of requests per state; in-flight ones are recent, final ones spread over `days`.
STATE_WEIGHTS = {
    "completed": 70.0,
    "failed": 6.0,
    "rejected": 4.0,
    "cancelled": 3.0,
    "in_progress": 4.0,
    "waiting_approval": 5.0,
    "approved": 1.5,
    "portal_approval": 1.5,
    "submitted": 2.0,
    "sending": 1.0,
    "confirming": 1.0,
}
# Each state's timeline after "submitted" (a few variants; one is picked at random).
PATHS: dict[str, list[list[str]]] = {
    "completed": [
        ["sending", "approved", "in_progress", "completed"],
        ["sending", "waiting_approval", "approved", "in_progress", "completed"],
        ["sending", "in_progress", "completed"],
    ],
    "failed": [["sending", "in_progress", "failed"], ["sending", "failed"]],
    "rejected": [["sending", "waiting_approval", "rejected"], ["portal_approval", "rejected"]],
    "cancelled": [["cancelled"], ["portal_approval", "cancelled"]],
    "in_progress": [["sending", "approved", "in_progress"], ["sending", "in_progress"]],
    "waiting_approval": [["sending", "waiting_approval"]],
    "approved": [["sending", "waiting_approval", "approved"]],
    "portal_approval": [["portal_approval"]],
    "submitted": [[]],
    "sending": [["sending"]],
    "confirming": [["sending", "confirming"]],
}
FINAL = {"completed", "failed", "rejected", "cancelled"}
SENT = {"completed", "failed", "rejected", "in_progress", "waiting_approval", "approved"}
UPSTREAM_STATUS = {
    "completed": "Completed",
    "failed": "Failed",
    "rejected": "Rejected",
    "in_progress": "InProgress",
    "waiting_approval": "PendingApproval",
    "approved": "Approved",
}
FAILURES = [
    ("upstream", "The site could not be created: the site collection quota is exhausted."),
    ("invalid", "The alias is already in use by another group."),
    ("refused", "The app lacks the Point.Provisioning permission."),
    ("not_received", "The upstream did not answer within 30 s (3 attempts)."),
]
EVENT_WORDS = {
    "sending": "Sending to the upstream (attempt 1).",
    "confirming": "The answer was lost; looking for the request before sending again.",
    "waiting_approval": "Waiting for an approver.",
    "approved": "Approved.",
    "in_progress": "Being created.",
    "completed": "The workspace exists.",
    "failed": "The upstream failed to create it.",
    "rejected": "Rejected by the approver.",
    "cancelled": "Cancelled by the requester.",
    "portal_approval": "Waiting for approval in the portal (stage 1).",
}


@dataclass
class Person:
    pk: int
    upn: str
    label: str  # "Name <email>", as the audit log keeps it
    role: str


@dataclass
class TenantWorld:
    tenant_id: int
    name: str
    domain: str
    provider: str
    templates: list[tuple[int, str, str, str]]  # pk, workload, name, naming prefix
    requesters: list[Person]
    staff: list[Person]
    weight: float


@dataclass
class World:
    """What seeding needs to know of the database, read once by `prepare`."""

    tenants: list[TenantWorld]
    rng: random.Random
    seed: int = 1
    days: int = 365
    added: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


# --- Tenants, people, templates ------------------------------------------------------------------


def _fixture() -> dict[str, dict[str, Any]]:
    return {t["slug"]: t for t in json.loads(FIXTURE.read_text())["tenants"]}


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def clone_tenants(total: int) -> list[Tenant]:
    """The tenants seed_demo made, plus clones of them (round robin: same upstream kind, same
    credentials and URL) until there are ``total``."""
    from tenants.models import Tenant

    tenants = list(Tenant.objects.order_by("pk"))
    if not tenants:
        raise RuntimeError("No tenant: run `manage.py seed_demo` (DEMO_MODE) first.")
    sources = list(tenants)
    names = iter(MORE_TENANTS + [f"Bench tenant {n}" for n in range(1, 1000)])
    rng = random.Random(20)
    while len(tenants) < total:
        source = sources[(len(tenants) - len(sources)) % len(sources)]
        name = next(names)
        if Tenant.objects.filter(slug=_slug(name)).exists():
            continue
        clone = Tenant(
            name=name,
            slug=_slug(name),
            entra_tenant_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            client_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            client_secret_encrypted=source.client_secret_encrypted,
            secret_expires_on=source.secret_expires_on,
            api_url=source.api_url,
            point_app_id=source.point_app_id,
            provider=source.provider,
        )
        clone.save()
        tenants.append(clone)
    return tenants[:total]


def ensure_templates(tenants: list[Tenant]) -> None:
    """Every tenant gets templates: a clone's are copied from its source kind's first tenant
    that has some; a tenant with none at all (Point without a catalogue sync) gets copies of
    any tenant's (the upstream id marks them as the bench's)."""
    from provisioning.models import Template

    have: dict[int, list[Template]] = {}
    for template in Template.objects.order_by("pk"):
        have.setdefault(template.tenant_id, []).append(template)
    donors: dict[str, list[Template]] = {}
    for tenant in tenants:
        if have.get(tenant.pk):
            donors.setdefault(tenant.provider, have[tenant.pk])
    fallback = next(iter(have.values()), [])
    if not fallback:
        raise RuntimeError("No template anywhere: run `manage.py seed_demo` first.")
    new: list[Template] = []
    for tenant in tenants:
        if have.get(tenant.pk):
            continue
        source = donors.get(tenant.provider, fallback)
        own_kind = tenant.provider in donors
        for number, t in enumerate(source, start=1):
            new.append(
                Template(
                    tenant=tenant,
                    upstream_id=t.upstream_id if own_kind else f"bench-{number}",
                    workload=t.workload,
                    name=t.name,
                    description=t.description,
                    approval=t.approval,
                    definition=t.definition,
                    rules=t.rules,
                    content_hash=t.content_hash,
                    synced_at=t.synced_at,
                    changed_at=t.changed_at,
                )
            )
    Template.objects.bulk_create(new, batch_size=BATCH)


def _role_of(claims: list[str]) -> str:
    from core.roles import entra_role_names

    names = entra_role_names()
    ranked = ["requester", "it_staff", "admin", "operator"]
    found = [str(names[c]) for c in claims if c in names]
    return max(found, key=ranked.index) if found else ""


def ensure_people(tenants: list[Tenant], per_tenant: int = 25) -> None:
    """The demo fixture's people of each real tenant (keyed on tid + oid, with their portal
    role: Grady Archie is Contoso's operator) and made-up requesters, two IT staff and an
    admin per tenant, up to ``per_tenant`` people each."""
    from portal.models import User

    fixture = _fixture()
    rng = random.Random(7)
    existing = set(User.objects.values_list("username", flat=True))
    new: list[User] = []
    for tenant in tenants:
        data = fixture.get(tenant.slug)
        count = 0
        if data is not None:
            for person in data["users"]:
                first, _, last = person["name"].partition(" ")
                User.objects.update_or_create(
                    entra_tenant_id=data["id"],
                    entra_object_id=person["oid"],
                    defaults={
                        "username": f"{person['oid']}@{data['id']}",
                        "home_tenant": tenant,
                        "upn": person["upn"].lower(),
                        "email": person["mail"],
                        "first_name": first,
                        "last_name": last,
                        "role": _role_of(person.get("roles", [])),
                    },
                )
                count += 1
        domain = (data or {}).get("domain") or f"{tenant.slug.replace('-', '')}.onmicrosoft.com"
        used: set[str] = set()
        while count < per_tenant:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            upn = f"{first}.{last}@{domain}".lower()
            if upn in used:
                continue
            used.add(upn)
            oid = uuid.UUID(int=rng.getrandbits(128), version=4)
            username = f"{oid}@{tenant.entra_tenant_id}"
            role = "it_staff" if count % 12 == 1 else "admin" if count % 12 == 2 else "requester"
            if username not in existing:
                new.append(
                    User(
                        username=username,
                        password="!",  # no local password: people sign in through Entra
                        entra_tenant_id=tenant.entra_tenant_id,
                        entra_object_id=oid,
                        home_tenant=tenant,
                        upn=upn,
                        email=upn,
                        first_name=first,
                        last_name=last,
                        role=role,
                    )
                )
            count += 1
    User.objects.bulk_create(new, batch_size=BATCH)


def prepare(tenants: int = 20, *, people_per_tenant: int = 25, seed: int = 1) -> World:
    """Tenants, templates and people for ``tenants`` tenants; what seeding needs of them."""
    from portal.models import User
    from provisioning.models import Template

    rows = clone_tenants(tenants)
    ensure_templates(rows)
    ensure_people(rows, people_per_tenant)
    fixture = _fixture()
    world = World(tenants=[], rng=random.Random(seed), seed=seed)
    for index, tenant in enumerate(rows):
        people = [
            Person(
                pk=u.pk,
                upn=u.upn or u.email,
                label=f"{u.get_full_name() or u.username} <{u.email}>" if u.email else u.username,
                role=u.role,
            )
            for u in User.objects.filter(home_tenant=tenant).order_by("pk")
        ]
        templates = []
        for t in Template.objects.filter(tenant=tenant, hidden=False, removed_upstream=False):
            prefix = (t.template_rules.naming.prefix or "") if t.rules else ""
            templates.append((t.pk, t.workload, t.name, prefix))
        data = fixture.get(tenant.slug)
        world.tenants.append(
            TenantWorld(
                tenant_id=tenant.pk,
                name=tenant.name,
                domain=(data or {}).get("domain") or f"{tenant.slug}.onmicrosoft.com",
                provider=tenant.provider,
                templates=sorted(templates),
                requesters=[p for p in people if p.role],
                staff=[p for p in people if p.role in ("it_staff", "admin", "operator")]
                or [p for p in people if p.role],
                # Some organisations ask for much more than others.
                weight=1.0 + (index * 7 % 5) * 0.5,
            )
        )
    return world


# --- Requests ------------------------------------------------------------------------------------


class Table:
    """Rows of one table written with COPY (PostgreSQL) or multi-row INSERTs, ids given: bulk_create compiles every
    value through the ORM's insert compiler, which made seeding ten times slower than the
    database's own work. Values go through each field's get_db_prep_save (as bulk_create's
    do, auto_now aside: times are as given); a field a row leaves out takes its default."""

    def __init__(self, model: type[Model]) -> None:
        from django.db import connection

        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.rows: list[dict[str, Any]] = []
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT MAX(id) FROM {table}")
            self.last_id = int(cursor.fetchone()[0] or 0)

    def add(self, **values: Any) -> int:
        """A row by attribute name (``tenant_id``...); its id."""
        self.last_id += 1
        values["id"] = self.last_id
        self.rows.append(values)
        return self.last_id

    def write(self) -> None:
        from django.db import connection

        if not self.rows:
            return
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in self.fields)
        row_marks = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        insert = f"INSERT INTO {quote(self.model._meta.db_table)} ({columns}) VALUES "
        # SQLite: many rows per statement, within its limit of 32,766 parameters.
        per_statement = max(1, min(BATCH, 30000 // len(self.fields)))
        defaults = {f.attname: f.get_default() for f in self.fields if not callable(f.default)}
        prepared = [
            tuple(
                f.get_db_prep_save(
                    row[f.attname]
                    if f.attname in row
                    else defaults.get(f.attname, f.get_default()),
                    connection,
                )
                for f in self.fields
            )
            for row in self.rows
        ]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # COPY: no SQL text to build or parse
                table = quote(self.model._meta.db_table)
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in prepared:
                        copy.write_row(row)
            else:
                for start in range(0, len(prepared), per_statement):
                    chunk = prepared[start : start + per_statement]
                    params = [value for row in chunk for value in row]
                    cursor.execute(insert + ", ".join([row_marks] * len(chunk)), params)
        self.rows.clear()


def _reset_sequences(models: list[type[Model]]) -> None:
    """PostgreSQL's id sequences past the ids given (SQLite's AUTOINCREMENT follows itself)."""
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _workspace_name(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.04:
        return f"Project {rng.choice(CODE_NAMES)} {rng.choice(YEAR_WORDS)}"
    if shape < 0.5:
        return f"{rng.choice(DEPARTMENTS)} {rng.choice(TOPICS)}"
    if shape < 0.8:
        return f"{rng.choice(DEPARTMENTS)} {rng.choice(TOPICS)} {rng.choice(YEAR_WORDS)}"
    return f"{rng.choice(TOPICS).capitalize()} {rng.choice(CODE_NAMES)}"


def _pick_weighted[T](rng: random.Random, items: list[T], skew: float = 0.8) -> T:
    """Earlier items more often (a few people ask for most workspaces)."""
    weights = [1 / (rank + 1) ** skew for rank in range(len(items))]
    return rng.choices(items, weights)[0]


def _audit(action: str, who: Person, at: datetime, detail: str = "") -> dict[str, Any]:
    """One audit entry's columns about a person (the tenant and address are added by the caller)."""
    return {
        "action": action,
        "created_at": at,
        "user_id": who.pk,
        "person": who.label,
        "actor_role": who.role,
        "detail": detail,
    }


def grow_to(world: World, total: int) -> int:
    """Add requests until the database holds ``total``; returns how many were added."""
    from provisioning.models import ProvisioningRequest

    existing = ProvisioningRequest.objects.count()
    missing = total - existing
    if missing > 0:
        # Deterministic for a given database size, whichever process grows it.
        world.rng.seed(f"{world.seed}:{existing}")
        seed_requests(world, missing)
    return max(missing, 0)


def seed_requests(world: World, count: int, *, now: datetime | None = None) -> None:
    """``count`` more requests spread over the world's tenants, with their owners and members,
    timeline events and audit entries, in batches."""
    from django.db import transaction
    from django.utils import timezone

    from audit.models import AuditEvent
    from provisioning.models import (
        PortalApproval,
        ProvisioningRequest,
        RequestEvent,
        RequestPerson,
    )

    now = now or timezone.now()
    done = 0
    while done < count:
        size = min(BATCH * 5, count - done)
        with transaction.atomic():
            _seed_batch(world, size, now)
        done += size
    _reset_sequences([ProvisioningRequest, RequestEvent, RequestPerson, PortalApproval, AuditEvent])


def _seed_batch(world: World, count: int, now: datetime) -> None:
    from audit.models import AuditAction, AuditEvent
    from provisioning.models import (
        PortalApproval,
        ProvisioningRequest,
        RequestEvent,
        RequestPerson,
    )

    rng = world.rng
    states = list(STATE_WEIGHTS)
    state_weights = list(STATE_WEIGHTS.values())
    tenant_weights = [t.weight for t in world.tenants]
    plans: list[tuple[dict[str, Any], TenantWorld, Person, str, list[str], list[datetime]]] = []
    for _ in range(count):
        tw = rng.choices(world.tenants, tenant_weights)[0]
        state = rng.choices(states, state_weights)[0]
        requester = _pick_weighted(rng, tw.requesters)
        template_pk, workload, template_name, prefix = rng.choice(tw.templates)
        if state in FINAL:
            created = now - timedelta(seconds=rng.uniform(600, world.days * 86400))
        else:
            created = now - timedelta(seconds=rng.uniform(30, 3 * 86400))
        display = _workspace_name(rng)
        colleagues = [p for p in tw.requesters if p.pk != requester.pk]
        owners = [requester.upn]
        if colleagues and rng.random() < 0.5:
            owners.append(rng.choice(colleagues).upn)
        members = sorted({rng.choice(colleagues).upn for _ in range(rng.randint(0, 3))})
        alias = "".join(c for c in display.lower() if c.isalnum())[:40]
        path = ["submitted", *rng.choice(PATHS[state])]
        item: dict[str, Any] = {
            "tenant_id": tw.tenant_id,
            "template_id": template_pk,
            "requested_by_id": requester.pk,
            "workload": workload,
            "display_name": display,
            "final_name": f"{prefix}{display}",
            "form_data": {
                "display_name": display,
                "description": f"Workspace for {display.lower()}.",
                "desired_url": "",
                "is_private": rng.random() < 0.6,
                "owners": owners,
                "members": members,
                "metadata": {},
                "comment": "",
            },
            "idempotency_key": uuid.UUID(int=rng.getrandbits(128), version=4),
            "state": state,
            "created_at": created,
        }
        step = created
        times = []
        for _ in path:
            times.append(step)
            step += timedelta(seconds=rng.uniform(2, 3600 if state in FINAL else 600))
        times = [min(t, now) for t in times]
        last = times[-1]
        item["updated_at"] = last
        if state in SENT or state == "confirming":
            item["send_attempts"] = 1
            item["send_started_at"] = times[1] if len(times) > 1 else created
        if state in SENT:
            item["upstream_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            item["upstream_status"] = UPSTREAM_STATUS[state]
            item["last_polled_at"] = last
        if state == "completed":
            item["progress"] = 100
            host = tw.domain.split(".")[0]
            item["workspace_url"] = f"https://{host}.sharepoint.com/sites/{alias}"
            item["workspace_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        elif state == "in_progress":
            item["progress"] = rng.choice([10, 25, 50, 75, 90])
        if state == "failed":
            kind, message = rng.choice(FAILURES)
            item["failure_kind"], item["error_message"] = kind, message
        if state in FINAL:
            item["finished_at"] = last
        elif state in ("in_progress", "waiting_approval", "approved"):
            item["poll_interval"] = rng.choice([10, 20, 40, 80, 160, 300])
            item["next_poll_at"] = now + timedelta(seconds=rng.uniform(60, 300))
        plans.append((item, tw, requester, state, path, times))

    plans.sort(key=lambda p: p[0]["created_at"])  # ids grow with time, as they do in use
    items = Table(ProvisioningRequest)
    events = Table(RequestEvent)
    people = Table(RequestPerson)
    approvals = Table(PortalApproval)
    audit = Table(AuditEvent)
    for item, tw, requester, state, path, times in plans:
        pk = items.add(**item)
        world.by_state[state] = world.by_state.get(state, 0) + 1
        previous = ""
        for to_state, at in zip(path, times, strict=True):
            person_step = to_state in ("submitted", "cancelled")
            events.add(
                request_id=pk,
                at=at,
                source="portal" if person_step else rng.choice(["poll", "poll", "webhook"]),
                from_state=previous,
                to_state=to_state,
                detail=f"Submitted with the template {item['template_id']}."
                if to_state == "submitted"
                else EVENT_WORDS.get(to_state, ""),
                actor_id=requester.pk if person_step else None,
            )
            previous = to_state
        for role, upns in (
            ("owner", item["form_data"]["owners"]),
            ("member", item["form_data"]["members"]),
        ):
            for upn in dict.fromkeys(upns):
                people.add(request_id=pk, upn=upn, role=role)
        if "portal_approval" in path:
            decided = state != "portal_approval"
            approver = rng.choice(tw.staff)
            approvals.add(
                request_id=pk,
                stage=1,
                kind="it_staff",
                decision=("rejected" if state == "rejected" else "approved")
                if decided and state != "cancelled"
                else ("pending" if state == "cancelled" else "waiting"),
                decided_by_id=approver.pk if decided and state != "cancelled" else None,
                waiting_since=item["created_at"],
                decided_at=item["updated_at"] if decided else None,
            )
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        about = f"Request {pk}: {item['final_name']}"
        where = {"tenant_id": tw.tenant_id, "tenant_name": tw.name, "source_ip": ip}
        audit.add(
            **_audit(AuditAction.REQUEST_SUBMITTED, requester, item["created_at"], about), **where
        )
        if rng.random() < 0.6:  # people sign in more often than they ask for workspaces
            at = item["created_at"] - timedelta(seconds=rng.uniform(5, 600))
            audit.add(
                **_audit(AuditAction.SIGN_IN, _pick_weighted(rng, tw.requesters), at), **where
            )
        if state == "cancelled":
            audit.add(
                **_audit(AuditAction.REQUEST_CANCELLED, requester, item["updated_at"], about),
                **where,
            )
    for table in (items, events, people, approvals, audit):
        table.write()
    world.added += len(plans)


def analyze() -> None:
    """Planner statistics (and PostgreSQL's visibility map) for the new rows, as autovacuum
    or SQLite's periodic `PRAGMA optimize` would leave them in a database that grew over
    months."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def counts() -> dict[str, int]:
    """Rows per table the seed writes, for a bench's report."""
    from audit.models import AuditEvent
    from portal.models import User
    from provisioning.models import ProvisioningRequest, RequestEvent, RequestPerson
    from tenants.models import Tenant

    return {
        "tenants": Tenant.objects.count(),
        "users": User.objects.count(),
        "requests": ProvisioningRequest.objects.count(),
        "events": RequestEvent.objects.count(),
        "people": RequestPerson.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def user_for(upn: str) -> User:
    """A seeded person by UPN (the demo fixture's keep theirs: adele.vance@contoso...)."""
    from portal.models import User

    return User.objects.get(upn=upn.lower())
