"""The people of a tenant: for the people picker and the owner and member checks of the
request form.

Where the tenant's app holds Microsoft Graph's User.Read.All (whatever the tenant provisions
through), Graph's /users answers: the picker offers enabled, licensed members of the
organisation, and a person the directory does not have is refused. Where it does not (or Graph
fails), the portal falls back to the people it has seen: the directory's reports (members,
owners and permissions name people: the directory app calls `remember` when a report succeeds)
and the people who sign in. What a snapshot does not know is flagged, not refused: it can be
older than a new colleague. People Graph returns are remembered too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from tenants import upstream
from tenants.models import KnownPerson, Tenant
from upstreams import contract
from upstreams.contract import PeopleDirectory, PermissionMissing, UpstreamError

logger = logging.getLogger(__name__)

# A tenant whose app lacks User.Read.All is not asked again for this long (s): the picker
# must not pay a refused call per keystroke. A connection check shows the missing permission.
GRAPH_REFUSED_FOR = 600
GRAPH_FAILED_FOR = 60  # s: likewise after Graph failed (unreachable, 5xx, no token)
# The most people one owner/member check looks up in Graph, one call each.
GRAPH_CHECK_MAX = 25

GUEST_MARK = "#ext#"


def is_guest(upn: str) -> bool:
    """Entra guest accounts carry #EXT# in their UPN."""
    return GUEST_MARK in upn.lower()


def names_of(user: Any) -> set[str]:
    """How a request may name the person: their UPN and e-mail, lower-cased."""
    return {n.strip().lower() for n in (user.upn, user.email) if n and n.strip()}


def domain_of(upn: str) -> str:
    return upn.rpartition("@")[2].lower()


def remember(tenant: Tenant, people: Iterable[tuple[str, str, str]]) -> int:
    """Upsert (upn, name, kind) triples seen in the tenant; kind is "user" or "guest". The
    number stored."""
    now = timezone.now()
    rows: dict[str, KnownPerson] = {}
    for upn, name, kind in people:
        key = upn.strip().lower()
        if "@" not in key or len(key) > 254:
            continue
        guest = kind == KnownPerson.Kind.GUEST or is_guest(key)
        rows[key] = KnownPerson(
            tenant=tenant,
            upn=key,
            name=name.strip()[:256],
            kind=KnownPerson.Kind.GUEST if guest else KnownPerson.Kind.USER,
            seen_at=now,
        )
    KnownPerson.objects.bulk_create(
        rows.values(),
        update_conflicts=True,
        unique_fields=["tenant", "upn"],
        update_fields=["name", "kind", "seen_at"],
        batch_size=500,
    )
    return len(rows)


@dataclass(frozen=True)
class Person:
    upn: str
    name: str = ""
    guest: bool = False


def _refused_key(tenant: Tenant) -> str:
    return f"people:graph-refused:{tenant.pk}"


def _from_graph[T](tenant: Tenant, call: Callable[[PeopleDirectory], T]) -> T | None:
    """``call`` on the tenant's Graph people directory; None where the tenant does not grant
    User.Read.All (remembered for a while) or Graph fails: the caller uses the snapshots."""
    if not settings.PEOPLE_FROM_GRAPH or cache.get(_refused_key(tenant)):
        return None
    try:
        return call(upstream.graph_for(tenant))
    except PermissionMissing:
        cache.set(_refused_key(tenant), True, GRAPH_REFUSED_FOR)
        logger.info("tenant %s: no User.Read.All; people from the snapshots", tenant.slug)
    except UpstreamError as error:
        # Not asked again for a minute: a form must not wait out Graph's timeouts per keystroke.
        cache.set(_refused_key(tenant), True, GRAPH_FAILED_FOR)
        logger.warning("tenant %s: Graph people unavailable: %s", tenant.slug, error.message)
    return None


def _remember_graph(tenant: Tenant, found: Iterable[contract.Person]) -> None:
    """Keep what Graph said of people (the snapshot the portal falls back to)."""
    now = timezone.now()
    rows = [
        KnownPerson(
            tenant=tenant,
            upn=p.upn.strip().lower(),
            name=p.name.strip()[:256],
            kind=KnownPerson.Kind.GUEST if p.guest or is_guest(p.upn) else KnownPerson.Kind.USER,
            enabled=p.enabled,
            licensed=p.licensed,
            seen_at=now,
        )
        for p in found
        if "@" in p.upn and len(p.upn) <= 254
    ]
    KnownPerson.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["tenant", "upn"],
        update_fields=["name", "kind", "enabled", "licensed", "seen_at"],
    )


def _pickable(person: contract.Person) -> bool:
    """Offered by the picker: enabled, licensed (where Graph says), a member, not a guest."""
    return person.enabled is not False and person.licensed is not False and not person.guest


def _search_graph(tenant: Tenant, needle: str, limit: int) -> list[Person] | None:
    found = _from_graph(tenant, lambda graph: graph.search_people(needle, limit=limit * 2))
    if found is None:
        return None
    _remember_graph(tenant, found)
    return [Person(p.upn.lower(), p.name) for p in found if _pickable(p)][:limit]


def _signed_in(tenant: Tenant) -> Q:
    return Q(home_tenant=tenant, is_active=True)


def search(tenant: Tenant, text: str, *, limit: int = 8) -> list[Person]:
    """People of the tenant whose name or UPN contains ``text`` (at least 2 characters): from
    Graph (names or addresses starting so) where granted, else from the snapshots."""
    needle = text.strip()
    if len(needle) < 2:
        return []
    from_graph = _search_graph(tenant, needle, limit)
    if from_graph is not None:
        return from_graph
    found: dict[str, Person] = {}
    known = KnownPerson.objects.filter(tenant=tenant).filter(
        Q(upn__icontains=needle) | Q(name__icontains=needle)
    )
    for row in known.order_by("name", "upn")[:limit]:
        found[row.upn] = Person(row.upn, row.name, row.kind == KnownPerson.Kind.GUEST)
    users = (
        get_user_model()
        .objects.filter(_signed_in(tenant))
        .filter(
            Q(upn__icontains=needle)
            | Q(email__icontains=needle)
            | Q(first_name__icontains=needle)
            | Q(last_name__icontains=needle)
        )
    )
    for user in users.order_by("last_name", "first_name")[:limit]:
        upn = str(user.upn or user.email).lower()
        found.setdefault(upn, Person(upn, user.get_full_name(), is_guest(upn)))
    return sorted(found.values(), key=lambda p: (p.name or p.upn).casefold())[:limit]


@dataclass(frozen=True)
class Finding:
    """Why a person named on a request needs a second look. ``blocking``: the request would
    fail (or must not be made); else a warning."""

    upn: str
    reason: str
    blocking: bool


def _domains(people: Q, users: Q) -> set[str]:
    known = KnownPerson.objects.filter(people, kind=KnownPerson.Kind.USER)
    domains = {domain_of(u) for u in known.values_list("upn", flat=True)[:5000]}
    signed_in = get_user_model().objects.filter(users, is_active=True)
    domains |= {domain_of(str(u)) for u in signed_in.values_list("upn", flat=True)[:5000] if u}
    return {d for d in domains if d}


def tenant_domains(tenant: Tenant) -> set[str]:
    """The e-mail domains of the tenant's own (not guest) people the portal knows."""
    return _domains(Q(tenant=tenant), Q(home_tenant=tenant))


def other_domains(tenant: Tenant) -> set[str]:
    """Domains of the other organisations the portal serves (never this tenant's)."""
    theirs = _domains(~Q(tenant=tenant), Q(home_tenant__isnull=False) & ~Q(home_tenant=tenant))
    return theirs - tenant_domains(tenant)


def check(tenant: Tenant, upns: Iterable[str], *, owners: bool) -> list[Finding]:
    """What to flag about the people named as owners (``owners``) or members:

    - a guest as owner: refused (Point and Microsoft 365 refuse guests as owners);
    - an account of another organisation the portal serves (its domain is theirs, never this
      tenant's): refused, they must be invited as guests first;
    - a disabled account (where a source says): refused;
    - an address in a domain not seen in this tenant, or a person not seen yet: a warning
      (a tenant can have several domains; the snapshots may be old).
    Nothing is flagged while the portal knows nobody in the tenant.
    """
    wanted = [u.strip().lower() for u in upns if u.strip()]
    if not wanted:
        return []
    from_graph = _check_graph(tenant, wanted, owners=owners)
    if from_graph is not None:
        return from_graph
    domains = tenant_domains(tenant)
    foreign = other_domains(tenant) if domains else set()
    known = {p.upn: p for p in KnownPerson.objects.filter(tenant=tenant, upn__in=wanted)}
    signed_in = {
        str(u).lower()
        for u in get_user_model()
        .objects.filter(_signed_in(tenant), upn__in=wanted)
        .values_list("upn", flat=True)
    }
    findings = []
    for upn in wanted:
        person = known.get(upn)
        guest = is_guest(upn) or (person is not None and person.kind == KnownPerson.Kind.GUEST)
        if guest and owners:
            findings.append(Finding(upn, "a guest cannot be an owner", True))
        elif person is not None and person.enabled is False:
            findings.append(Finding(upn, "this account is disabled", True))
        elif not guest and domain_of(upn) in foreign:
            findings.append(
                Finding(upn, "belongs to another organisation: invite them as a guest first", True)
            )
        elif not guest and domains and domain_of(upn) not in domains:
            findings.append(
                Finding(
                    upn,
                    f"{domain_of(upn)} is not a domain seen in this organisation: check the "
                    "address, or invite them as a guest",
                    False,
                )
            )
        elif person is None and upn not in signed_in and domains:
            findings.append(Finding(upn, "not seen in this tenant yet: check the spelling", False))
    return findings


def _check_graph(tenant: Tenant, wanted: list[str], *, owners: bool) -> list[Finding] | None:
    """The checks against Graph's /users: not found, a guest owner and a disabled account are
    refused; no licence is a warning. None when Graph cannot answer (or too many are named)."""
    if len(wanted) > GRAPH_CHECK_MAX:
        return None

    def look_up(graph: PeopleDirectory) -> dict[str, contract.Person | None]:
        return {upn: graph.get_person(upn) for upn in wanted}

    found = _from_graph(tenant, look_up)
    if found is None:
        return None
    _remember_graph(tenant, [p for p in found.values() if p is not None])
    findings = []
    for upn, person in found.items():
        if person is None:
            reason = "not found in the organisation's directory: check the spelling"
            findings.append(Finding(upn, reason, True))
        elif owners and (person.guest or is_guest(upn)):
            findings.append(Finding(upn, "a guest cannot be an owner", True))
        elif person.enabled is False:
            findings.append(Finding(upn, "this account is disabled", True))
        elif person.licensed is False:
            findings.append(
                Finding(upn, "has no Microsoft 365 licence: they cannot use the workspace", False)
            )
    return findings
