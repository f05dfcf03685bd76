"""The Syskit Point side of the emulator.

One Point instance per tenant, reached at ``/point/{tenant slug}/v1.0/...``. The modules:

- ``shapes``: every response/request shape and enum (documented or proposed) in one place;
- ``auth``: bearer validation and the documented permission matrix;
- ``catalogue``: the provisioning templates;
- ``directory``: users, generated groups and sites (deterministic, never stored);
- ``provisioning``: request validation and the request lifecycle;
- ``jobs``: the async "generate" requests and their reports;
- ``webhooks``: endpoint registration, the options key and signed delivery;
- ``dialects``: other plausible shapes of the same answers, per tenant (issue 13);
- ``routes``: the HTTP handlers, the control endpoints and the ticker.
"""

from __future__ import annotations
