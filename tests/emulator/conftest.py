"""Fixtures for the emulator's contract tests: a clean emulator per test, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.server import RunningEmulator, start_background


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """A fresh emulator on a free port, from the demo fixture, with no state file.

    Yields an object with ``.url``, ``.state``, ``.control(path, **json) -> dict`` (POST to
    /_control/<path>) and ``.control_get(path)``; stopped after the test.
    """
    running = start_background()
    try:
        yield running
    finally:
        running.stop()
