"""Run the background worker: `manage.py qcluster`, replaced when it dies or wedges."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.worker import Supervisor


class Command(BaseCommand):
    help = (
        "Run the django-q2 cluster (manage.py qcluster) as a child, check it every "
        "WORKER_CHECK_INTERVAL seconds and replace it when it exits, dies or wedges "
        "(django-q2 bug #23; see docs/operations.md). Stops it on SIGTERM or SIGINT."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        manage_py = Path(settings.BASE_DIR) / "manage.py"
        supervisor = Supervisor(
            [sys.executable, str(manage_py), "qcluster"], interval=settings.WORKER_CHECK_INTERVAL
        )
        supervisor.run()
