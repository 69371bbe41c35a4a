"""Load windows with wrk (the HTTP load generator, taken from PATH; Debian/Ubuntu: `apt-get install wrk`, macOS:
`brew install wrk`): one GraphQL request sent on every connection, every answer compared byte for byte with a checked
reference answer by bench/wrk.lua, and the CPU that processes outside the benchmark took meanwhile.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from bench.gateway_servers import Gateway
from bench.harness import ROOT, BenchError, Processes

__all__ = ["SCRIPT", "Window", "Wrk", "run_window"]

SCRIPT = ROOT / "bench" / "wrk.lua"
TIMEOUT_S = 20
FAILURES = ("status_errors", "mismatched", "connect_errors", "read_errors", "write_errors", "timeouts")


@dataclass(frozen=True)
class Wrk:
    binary: str
    version: str

    @classmethod
    def find(cls) -> Wrk:
        """wrk on PATH, or a BenchError that says what to install."""
        binary = shutil.which("wrk")
        if binary is None:
            raise BenchError(
                "wrk (the HTTP load generator) is not on PATH: install it (Debian/Ubuntu: `sudo apt-get install "
                "wrk`; macOS: `brew install wrk`; or build it from https://github.com/wg/wrk) and run again"
            )
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        said = done.stdout + done.stderr
        if not said.startswith("wrk "):
            raise BenchError(f"{binary} does not run as wrk: {said.strip()[:400]}")
        return cls(binary, said.splitlines()[0].split(" Copyright")[0])


@dataclass(frozen=True)
class Window:
    gateway: str
    index: int  # 0 for the warm-up
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    failures: dict[str, int]
    other_cpu_share: float  # busy CPU of processes outside the benchmark, as a share of the machine's cores


def run_window(
    procs: Processes,
    wrk: Wrk,
    gateway: Gateway,
    body: Path,
    seconds: int,
    index: int,
    *,
    connections: int,
    threads: int = 1,
    script: Path = SCRIPT,
) -> Window:
    """wrk on the gateway for `seconds` with `body` (a JSON file) as every request; `script` may extend wrk.lua."""
    argv = [wrk.binary, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", f"{TIMEOUT_S}s",
            "-s", str(script), gateway.url, "--", str(body), str(gateway.reference)]  # fmt: skip
    name = f"wrk-{gateway.name}-{index}"
    sessions = [p.pid for _, p in procs.children]
    busy, own, started = _busy_cpu_s(), _own_cpu_s(sessions), time.monotonic()
    process = procs.start(name, argv, capture=True)
    try:
        out, _ = process.communicate(timeout=seconds + TIMEOUT_S + 30)
    finally:
        procs.stop(process)
        procs.children.remove((name, process))
    other = (_busy_cpu_s() - busy) - (_own_cpu_s(sessions) - own)
    other_share = round(max(other, 0.0) / ((time.monotonic() - started) * (os.cpu_count() or 1)), 3)
    line = next((ln for ln in out.decode().splitlines() if ln.startswith("BENCH ")), None)
    if process.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({process.returncode}): {out.decode()[-400:]}\n{procs.log_tail(name)}")
    figures = json.loads(line.removeprefix("BENCH "))
    lat = figures["latency_us"]
    duration = figures["duration_us"] / 1e6

    def ms(us: float) -> float:
        return round(us / 1000, 2)

    return Window(
        gateway.name, index, duration, figures["requests"], figures["requests"] / duration,
        ms(lat["p50"]), ms(lat["p90"]), ms(lat["p95"]), ms(lat["p99"]), ms(lat["max"]),
        {k: int(figures[k]) for k in FAILURES}, other_share,
    )  # fmt: skip


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores; /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s(sessions: Sequence[int]) -> float:
    """CPU seconds of this process, its reaped children, and the live processes of the sessions it started."""
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(sum(resource.getrusage(who)[:2]) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    wanted = set(sessions)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) in wanted:
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total
