"""What every benchmark suite shares: its size (`BENCH_SCALE`) and integer settings from the environment, writing its
figures to bench/results/<name>.json and printing them, timing sequential calls (GraphQL requests among them) and
their percentiles, and starting and stopping child processes (SIGTERM, then SIGKILL after a grace period).

A suite imports these public names only; what is particular to one benchmark stays in its own module.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import orjson

__all__ = [
    "RESULTS",
    "ROOT",
    "STOP_GRACE_S",
    "WORK",
    "BenchError",
    "Processes",
    "env_int",
    "exit_on_signals",
    "graphql",
    "now",
    "p50_p95_ms",
    "percentile",
    "print_summary",
    "run_label",
    "scale",
    "session_members",
    "stop",
    "stop_group",
    "timed",
    "timed_async",
    "write_results",
]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / ".work"  # logs and scratch files of the suites that keep them (ignored by git)
STOP_GRACE_S = 10.0


class BenchError(Exception):
    """The benchmark cannot run, or what it measured is wrong: the message says what and where."""


# -- settings --------------------------------------------------------------------------------------------------------


def scale() -> float:
    """BENCH_SCALE (1 by default): the share of a full run's data a suite generates (0.05 for a quick run)."""
    raw = os.environ.get("BENCH_SCALE", "1")
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"BENCH_SCALE must be a number, not {raw!r}") from None


def env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise BenchError(f"{name} must be at least {minimum}, not {value}")
    return value


def run_label(shortfalls: Sequence[str]) -> str:
    """The `run` figure: "full", or how a shorter run falls short of a measurement."""
    return "full" if not shortfalls else f"QUICK RUN, not a measurement ({'; '.join(shortfalls)})"


def now() -> str:
    """The time of a run as the results record it (UTC, seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# -- results ---------------------------------------------------------------------------------------------------------


def write_results(path: Path, figures: Mapping[str, Any]) -> None:
    """The figures as indented JSON (the committed results are compared from run to run: keep their keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")


def print_summary(figures: Mapping[str, Any]) -> None:
    """`name: value` lines for the figures that are single values (lists and objects stay in the JSON)."""
    for name, value in figures.items():
        if not isinstance(value, list | dict):
            print(f"{name}: {value}")


# -- timing ----------------------------------------------------------------------------------------------------------


def timed(call: Callable[[], object], *, warmup: int, times: int) -> list[float]:
    """Seconds of `times` sequential calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


async def timed_async(call: Callable[[], Awaitable[object]], *, warmup: int, times: int) -> list[float]:
    """`timed` for a coroutine function (awaited one call at a time)."""
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def graphql(client: httpx.Client, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One GraphQL request to the client's `/graphql`; a RuntimeError unless it answers 200 without errors."""
    body = orjson.dumps({"query": query, "variables": variables or {}})
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    answer: dict[str, Any] = response.json()
    if response.status_code != 200 or answer.get("errors"):
        raise RuntimeError(f"GraphQL call failed ({response.status_code}): {str(answer)[:400]}")
    return answer


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (inclusive method); the value itself for a single one."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def p50_p95_ms(samples: Sequence[float], digits: int = 2) -> tuple[float, float]:
    """(median, p95) of samples in seconds, in milliseconds rounded to `digits`."""
    return round(statistics.median(samples) * 1000, digits), round(percentile(samples, 95) * 1000, digits)


# -- processes -------------------------------------------------------------------------------------------------------


def stop(process: subprocess.Popen[Any], grace: float = STOP_GRACE_S) -> bool:
    """SIGTERM, then SIGKILL if it has not exited after `grace` seconds; True if it ended on SIGTERM (or before)."""
    if process.poll() is not None:
        return True
    process.terminate()
    try:
        process.wait(timeout=grace)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False


def stop_group(process: subprocess.Popen[Any], grace: float = STOP_GRACE_S) -> None:
    """`stop` for a child started in its own session (`start_new_session=True`): the signals go to its whole group,
    and SIGKILL also when the child is gone but workers or helpers of its session are not."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    if session_members(process.pid):
        _signal_group(process, signal.SIGKILL)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        print(f"process {process.pid} did not stop after SIGKILL", file=sys.stderr)


def session_members(sid: int) -> list[int]:
    """Live processes of the session a child started (its pid is the session and group id)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp session ...
            if fields[0] != "Z" and int(fields[2]) == sid and int(fields[3]) == sid:
                members.append(int(stat.parent.name))
    return members


def _signal_group(process: subprocess.Popen[Any], signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)  # start_new_session: the group id is the child's pid


class Processes:
    """Child processes, each in its own session (process group) with its output in `logs/<name>.log`, all stopped
    on leaving (`stop_group`). Used as a context manager around a whole run, so exceptions, Ctrl-C and SIGTERM
    (turned into SystemExit by `exit_on_signals`) all end every child, workers included."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        capture: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Starts argv; its stderr (and stdout unless `capture`, then a pipe) goes to the log."""
        log = (self.logs / f"{name}.log").open("wb")
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture else log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()  # the child holds its own descriptor
        self.children.append((name, process))
        return process

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        stop_group(process)
        if process.stdout is not None:
            process.stdout.close()

    def stop_all(self) -> None:
        while self.children:
            _, process = self.children.pop()
            self.stop(process)


def exit_on_signals() -> None:
    """SIGTERM and SIGHUP end the run as SystemExit does, so that `finally` blocks and `Processes` clean up."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)
