"""``python -m emulator``: serve the emulator until SIGINT or SIGTERM (demo mode)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from emulator.point.dialects import NAMES
from emulator.server import start_background
from emulator.state import DEFAULT_DIALECT, DEFAULT_FIXTURE, DEFAULT_ISSUER_HOST


def _parse(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="Entra ID and Syskit Point API emulator."
    )
    parser.add_argument("--host", default=env("EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("EMULATOR_PORT", "8001")))
    parser.add_argument(
        "--state-file",
        default=env("EMULATOR_STATE_FILE", "var/emulator-state.json"),
        help="where state survives restarts; pass an empty string to keep state in memory only",
    )
    parser.add_argument("--fixture", default=env("EMULATOR_FIXTURE", DEFAULT_FIXTURE))
    parser.add_argument(
        "--issuer-host",
        default=env("EMULATOR_ISSUER_HOST", DEFAULT_ISSUER_HOST),
        help="host used in token issuers and the token endpoint (the portal rewrites it to this emulator)",
    )
    parser.add_argument(
        "--dialect",
        default=env("EMULATOR_DIALECT", DEFAULT_DIALECT),
        choices=NAMES,
        help="the shape every Point instance answers in (docs/emulator.md, 'Dialects')",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    running = start_background(
        fixture_path=args.fixture,
        state_file=args.state_file or None,
        host=args.host,
        port=args.port,
        issuer_host=args.issuer_host,
        log_requests=not args.quiet,
        dialect=args.dialect,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    where = f"state in {args.state_file}" if args.state_file else "state in memory only"
    print(
        f"emulator: serving on {running.url} ({where}, Point dialect {args.dialect}); "
        "Ctrl+C stops it",
        file=sys.stderr,
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    print("emulator: stopping", file=sys.stderr, flush=True)
    running.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
