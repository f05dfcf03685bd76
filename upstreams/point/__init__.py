"""Syskit Point behind the neutral upstream contract (upstreams.contract).

- ``provider``: ``PointProvider``, the Upstream of one tenant's Point on a Connection: which
  endpoint and permission serve each operation (seed 000; docs/point-contract.md §2), and the
  work Point may not do itself (search, paging, finding a workspace).
- ``wire``: the only module that knows Point's JSON: templates, request bodies and statuses,
  groups, sites, report jobs and rows, error bodies (to neutral field names), read tolerantly
  (docs/point-contract.md §10).
- ``transport``: HTTP on a Connection: timeouts, the bearer token (renewed once on a 401),
  bounded retries with back-off and Retry-After, neutral errors, paging on the same origin.

Nothing here imports Django or the portal: only the standard library, requests, urllib3 and
upstreams.contract.
"""

from __future__ import annotations
