"""Upstreams: the systems that create workspaces (Syskit Point first), behind one contract.

Nothing here knows Django's ORM or any portal model: a provider is built from a
`contract.Connection` (base URL, a token source, timeouts) and speaks only the neutral types
of `upstreams.contract`. See ARCHITECTURE.md, "Adding an upstream".
"""
