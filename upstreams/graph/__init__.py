"""Microsoft Graph behind the neutral upstream contract (upstreams.contract), for organisations
that provision straight through Graph (groups, teams, SharePoint sites, Viva Engage communities),
and for every tenant's people picker and provisioning-job credentials.

- ``provider``: ``GraphProvider``, the Upstream, PeopleDirectory and ProvisioningJobs of one
  tenant's Graph on a Connection; the request ids it hands out (``group:``, ``team:``,
  ``site:``, ``siteurl:``, ``community:``) say what to poll.
- ``wire``: the only module that knows Graph's JSON, read in any key case and enum spelling.
- ``transport``: HTTP on a Connection (upstreams.http) with Graph's errors, and
  ``@odata.nextLink`` paging on the base URL's origin.

Nothing here imports Django, the portal or another upstream package (docs/graph-contract.md).
"""

from __future__ import annotations
