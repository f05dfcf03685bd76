"""Time to green: how long after the worker and web server start does /healthz answer 200.

/healthz is green once the database and the queue answer and a worker heartbeat is recent.
`manage.py worker` queues a heartbeat as it starts its cluster (portal/worker.py), so the first
one does not wait for the minute's schedule or the supervisor's first check. One run migrates
and seeds a fresh SQLite database once, then, for each round, starts `manage.py worker` and
gunicorn together and polls /healthz every 0.1 s until it is 200; the heartbeat row is cleared
between rounds, so each round is a fresh start as far as /healthz can tell. Figures go to stdout
and to this script's section of docs/performance.md.

    .venv/bin/python bench/startup.py [--rounds 3] [--no-docs]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from devtools.stack import DATABASE_FILE, HOST, Services, stack_env, web_command  # noqa: E402

WORK = ROOT / "var" / "bench" / "startup"
TARGET = 5.0  # seconds (issue 18)
PORT = 8111


def green_after(services: Services, url: str, limit: float = 120) -> tuple[float, float]:
    """Seconds from starting the worker and web server to the web port answering and to
    /healthz answering 200."""
    began = time.monotonic()
    services.start("worker", sys.executable, "manage.py", "worker")
    name, command = web_command("gunicorn", PORT)
    services.start(name, *command)
    listening = None
    while time.monotonic() - began < limit:
        services.check_alive()
        try:
            answer = requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.1)
            continue
        listening = listening or time.monotonic() - began
        if answer.status_code == 200:
            return listening, time.monotonic() - began
        time.sleep(0.1)
    raise RuntimeError(f"/healthz not green within {limit:.0f} s")


def run(rounds: int) -> list[tuple[float, float]]:
    WORK.mkdir(parents=True, exist_ok=True)
    common.fresh_sqlite(WORK / DATABASE_FILE)
    # No emulator: /healthz looks at the database, the queue and the heartbeat only.
    services = Services(stack_env(WORK, PORT, 8112), WORK)
    python = sys.executable
    results = []
    try:
        services.run("migrate", python, "manage.py", "migrate", "--noinput")
        for number in range(1, rounds + 1):
            forget = "from portal.models import Heartbeat; Heartbeat.objects.all().delete()"
            services.run("forget", python, "manage.py", "shell", "-c", forget)
            result = green_after(services, f"http://{HOST}:{PORT}/healthz")
            print(
                f"round {number}: web answers after {result[0]:.2f} s, green after {result[1]:.2f} s"
            )
            results.append(result)
            services.stop_all()
    finally:
        services.stop_all()
    return results


def section(results: list[tuple[float, float]]) -> str:
    greens = [green for _, green in results]
    worst = max(greens)
    rows = "\n".join(
        f"| {n} | {listen:.2f} s | {green:.2f} s |"
        for n, (listen, green) in enumerate(results, start=1)
    )
    return f"""## Time to a green /healthz after a start

{common.written_by("startup.py")}

Machine: {common.machine()}.

Method: a migrated SQLite database; each round clears the worker heartbeat, starts `manage.py
worker` (the ORM broker) and gunicorn at the same moment, and asks /healthz every 0.1 s. The
supervisor queues a heartbeat as it starts its cluster, so green does not wait for the
scheduled heartbeat (a minute) or the supervisor's first check (15 s).

| Round | Web server answers | /healthz green |
|---|---|---|
{rows}

Median {statistics.median(greens):.2f} s, worst {worst:.2f} s. Target within {TARGET:.0f} s of a
fresh start: {"met" if worst <= TARGET else "missed"}."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()
    common.stop_on_signals()  # unwinds through run(), which stops every process
    common.publish("startup", section(run(args.rounds)), not args.no_docs)
    return 0


if __name__ == "__main__":
    common.run_main(main, "startup.py")
