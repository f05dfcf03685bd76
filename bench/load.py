"""Page load with wrk for bench/pages.py, bench/slow_upstream.py and bench/scaleout.py: finding
(or installing) wrk, one run's command line, its figures from one Lua `done` hook (wrk's own
summary has no p95), and warming pages up before a load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

# Printed once at the end of a run, from wrk's full latency histogram (µs).
REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "mean_us": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}\\n',
    summary.requests, summary.duration, math.floor(latency.mean), latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max, e.connect, e.read, e.write,
    e.status, e.timeout))
end
"""

# A request function taking the paths in turn; a path ending in /status is asked for as htmx
# does (the live fragment of an open request page).
ROTATION = """
local paths = {%(paths)s}
local i = 0
local plain = {["Cookie"] = %(cookie)s}
local htmx = {["Cookie"] = %(cookie)s, ["HX-Request"] = "true"}
request = function()
  i = i %% #paths + 1
  local path = paths[i]
  return wrk.format("GET", path, path:sub(-7) == "/status" and htmx or plain)
end
"""


def wrk_path(indent: str = "") -> str | None:
    """wrk, installed from Debian's package when missing and this runs as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        print(f"{indent}wrk is missing: apt-get install -y wrk...")
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, capture_output=True).returncode:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(install, capture_output=True)
        return shutil.which("wrk")
    return None


def write_script(path: Path, paths: Sequence[str] = (), cookie: str = "") -> Path:
    """A wrk script at ``path``: the report hook, and with ``paths`` a request function that
    takes them in turn with ``cookie``."""
    rotation = ""
    if paths:
        quoted = ", ".join(json.dumps(p) for p in paths)
        rotation = ROTATION % {"paths": quoted, "cookie": json.dumps(cookie)}
    path.write_text(rotation + REPORT)
    return path


@dataclass
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, timeouts and answers with a status over 399

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse(output: str) -> WrkResult | None:
    """The figures of the report hook's line in wrk's output; None when it has none."""
    line = next((ln for ln in output.splitlines() if ln.startswith("WRK ")), None)
    if line is None:
        return None
    data = json.loads(line[4:])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        mean_ms=data["mean_us"] / 1000,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=sum(data[k] for k in ("connect", "read", "write", "status", "timeout")),
    )


class WrkRun:
    """A wrk run under way; its output goes to a pipe, or to a file kept for a look."""

    def __init__(self, process: subprocess.Popen[str], url: str, out: Path | None) -> None:
        self.process = process
        self.url = url
        self.out = out

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def result(self, timeout: float | None = None) -> WrkResult:
        """Its figures, once it ends; RuntimeError when it failed."""
        stdout, stderr = self.process.communicate(timeout=timeout)
        output = self.out.read_text(errors="replace") if self.out else stdout + stderr
        found = parse(output)
        if self.process.returncode or found is None:
            raise RuntimeError(f"wrk on {self.url} failed: {output.strip()[-500:]}")
        return found


@dataclass
class Wrk:
    """How a bench runs wrk: its script, connections, threads, timeout and headers."""

    path: str
    script: Path
    connections: int
    threads: int = 1
    # A starved request is measured, not dropped as a wrk timeout (2 s); None: wrk's 2 s.
    timeout: str | None = "30s"
    headers: tuple[str, ...] = ()

    def command(self, url: str, seconds: int, headers: Sequence[str] = ()) -> list[str]:
        command = [self.path, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s"]
        if self.timeout:
            command += ["--timeout", self.timeout]
        command += ["-s", str(self.script)]
        for header in (*self.headers, *headers):
            command += ["-H", header]
        return [*command, url]

    def start(
        self, url: str, seconds: int, headers: Sequence[str] = (), out: Path | None = None
    ) -> WrkRun:
        """wrk loading ``url`` for ``seconds`` s, in the background."""
        command = self.command(url, seconds, headers)
        if out is None:
            pipe = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            return WrkRun(pipe, url, None)
        with out.open("w") as handle:
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, text=True)
        return WrkRun(process, url, out)

    def run(self, url: str, seconds: int, headers: Sequence[str] = ()) -> WrkResult:
        """wrk loading ``url`` for ``seconds`` s; its figures."""
        return self.start(url, seconds, headers).result(timeout=seconds + 90)


def warm(
    urls: Sequence[str], cookie: str, times: int = 1, workers: int = 1, htmx: bool = False
) -> str:
    """Each URL asked ``times`` times (``workers`` at once) with the session cookie, so that
    every gunicorn worker has it warm; what went wrong (not 200: a sign-in redirect, an error),
    or ""."""
    headers = {"Cookie": cookie, **({"HX-Request": "true"} if htmx else {})}

    def get(url: str) -> str:
        answer = requests.get(url, headers=headers, allow_redirects=False, timeout=60)
        if answer.status_code == 200:
            return ""
        return f"{url} answered {answer.status_code} {answer.headers.get('Location', '')}".strip()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for url in urls:
            problems = [p for p in pool.map(get, [url] * times) if p]
            if problems:
                return problems[0]
    return ""
