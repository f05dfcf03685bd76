"""GT365 (atwork's ``ProvisionGroup`` API) behind the neutral upstream contract.

- ``provider``: ``Gt365Provider``: one synchronous call that creates a Microsoft 365 group
  (and optionally its team); everything else GT365 cannot do raises NotSupported.
- ``wire``: the only module that knows GT365's JSON: the request body, the wrapped .NET
  HttpResponseMessage or a bare group, and its errors (Graph-style, ``{"Message"}``, or plain
  text), read tolerantly (docs/gt365-contract.md).
- ``transport``: HTTP on a Connection through ``upstreams.http`` with GT365's errors.

Nothing here imports Django or the portal.
"""

from __future__ import annotations
