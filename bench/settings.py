"""Settings of bench/pages.py's measuring processes: the portal's own, with two baseline views
(bench/urls.py) and as production serves pages: DEBUG off (no query log, no template debug
information), whatever PORTAL_ENV says. Databases, cache and the rest come from the same
environment variables as the portal's.
"""

from __future__ import annotations

from portal.settings import *  # noqa: F403
from portal.settings import ALLOWED_HOSTS

ROOT_URLCONF = "bench.urls"
DEBUG = False
# django.test.Client's host, for the in-process measurements.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
