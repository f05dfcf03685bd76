"""Which provider serves which kind of upstream (Tenant.provider names the kind).

Adding an upstream is a new package under upstreams/ and one line here (ARCHITECTURE.md,
"Adding an upstream"). Providers are imported on first use, so a tenant on Point never loads
another upstream's code.
"""

from __future__ import annotations

from importlib import import_module
from typing import cast

from upstreams.contract import Capabilities, Connection, PushReader, Upstream

# kind -> (what people call it, "module:factory"); the factory takes a Connection and returns
# an Upstream.
PROVIDERS: dict[str, tuple[str, str]] = {
    "point": ("Point", "upstreams.point.provider:PointProvider"),
    "gt365": ("GT365", "upstreams.gt365.provider:Gt365Provider"),
    "graph": ("Microsoft Graph", "upstreams.graph.provider:GraphProvider"),
}


class UnknownUpstream(ValueError):
    """A tenant names an upstream kind the portal does not have."""


def create(kind: str, connection: Connection) -> Upstream:
    """The provider of ``kind`` bound to ``connection``."""
    provider: Upstream = cast(type, _factory(kind))(connection)
    return provider


def _factory(kind: str) -> object:
    if kind not in PROVIDERS:
        raise UnknownUpstream(f"The portal has no upstream of kind {kind!r}.")
    module, factory = PROVIDERS[kind][1].split(":")
    return getattr(import_module(module), factory)


def push_reader(kind: str) -> PushReader:
    """What verifies and reads the events an upstream of ``kind`` pushes: no Connection, no
    call (the provider's static methods)."""
    return cast(PushReader, _factory(kind))


def label(kind: str) -> str:
    """What people call an upstream of ``kind`` in messages ("Point"); the kind if unknown."""
    return PROVIDERS[kind][0] if kind in PROVIDERS else kind


def capabilities(kind: str) -> Capabilities:
    """What an upstream of ``kind`` can do, without a connection (the provider class says)."""
    found = getattr(_factory(kind), "capabilities", None)
    return found if isinstance(found, Capabilities) else Capabilities()
