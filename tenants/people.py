"""The people of a tenant the portal knows: for the people picker and the owner and member
checks of the request form.

Sources: the directory's reports (members, owners and permissions name people: the
directory app calls `remember` when a report succeeds) and the people who sign in. Point has no
user list; an upstream that has one (Microsoft Graph, issue 16) will feed `remember` too. What
is not known is flagged, not refused: a snapshot can be older than a new colleague.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from tenants.models import KnownPerson, Tenant

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


def _signed_in(tenant: Tenant) -> Q:
    return Q(home_tenant=tenant, is_active=True)


def search(tenant: Tenant, text: str, *, limit: int = 8) -> list[Person]:
    """People of the tenant whose name or UPN contains ``text`` (at least 2 characters)."""
    needle = text.strip()
    if len(needle) < 2:
        return []
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
