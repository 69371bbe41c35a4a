"""Gateway speed benchmark (`make bench-gateway`, or `python -m bench.gateway` from the repository root).

The public federation gateway benchmark's scenario (bench/scenario.py: supergraph, the query `TestQuery`, the
subgraphs' data and rules; its files are in the repository), run on this machine for our gateway and for Apollo
Gateway side by side:
1. the four subgraphs, implemented once in Node (bench/node/subgraphs.mjs), on one free loopback port;
2. `demimas-gateway serve` and Apollo Gateway (bench/node/apollo-gateway.mjs: @apollo/gateway 2.14 on
   @apollo/server 5, benchmark only, Elastic-2.0) over those same subgraphs, with the same number of worker processes;
3. one answer of each gateway compared exactly (values and field order) with the answer computed here in Python from
   data.json and the scenario's rules; then every answer under load compared byte for byte with that checked answer;
4. wrk, 50 connections, a warm-up per gateway, then windows that alternate between the gateways (A B B A A B ...);
   medians of the windows' requests/s and p95 latencies;
5. `gateway_overhead_p50_ms`: a query over two subgraphs (`{ topProducts { upc name inStock } }`: products, then
   inventory's `_entities`) through our gateway, minus the same two fetches made directly one after the other
   (p50 of sequential requests over keep-alive connections, the two kinds interleaved).
Results go to bench/results/gateway.json (a run with shorter settings than the defaults says so in `run`). Each
window also records `other_cpu_share`: the CPU that processes outside the benchmark took meanwhile, as a share of the
machine's cores (the machine may be shared; windows with much of it are disturbed, and the run says so).

Environment: BENCH_GATEWAY_WORKERS (2), BENCH_GATEWAY_WINDOWS (5), BENCH_GATEWAY_WINDOW_S (30),
BENCH_GATEWAY_WARMUP_S (10), BENCH_GATEWAY_CONNECTIONS (50), BENCH_GATEWAY_WRK_THREADS (1),
BENCH_GATEWAY_OVERHEAD_REQUESTS (500), BENCH_GATEWAY_ONLY (apollo or demimas: one gateway alone),
BENCH_GATEWAY_SCENARIO (another scenario folder), BENCH_GATEWAY_RESULTS (the results file).
Our gateway runs with its rate limits switched off explicitly (`NO_RATE_LIMITS`): wrk drives one caller far over
the default 50 requests/s per agency, and this benchmark measures speed, not the limits.
Needs Node 20+ with the benchmark's packages (`make bench-node`, which `make bench-gateway` runs) and wrk on PATH.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.gateway_servers import (
    NO_RATE_LIMITS,
    Gateway,
    check_answer,
    client,
    demimas_binary,
    node_package_version,
    node_ready,
    start_apollo,
    start_demimas,
    start_subgraphs,
)
from bench.harness import (
    RESULTS,
    ROOT,
    WORK,
    BenchError,
    Processes,
    env_int,
    exit_on_signals,
    now,
    print_summary,
    run_label,
    write_results,
)
from bench.scenario import Scenario, expected_answer, expected_executor, request_body
from bench.wrk import Window, Wrk, run_window
from demimas_common.devstack.ports import free_port

GATEWAYS = ("demimas", "apollo")
RESULT_KEY = {"demimas": "gateway", "apollo": "apollo_gateway"}
OVERHEAD_QUERY = "{ topProducts { upc name inStock } }"
DIRECT_PRODUCTS = "{ topProducts { __typename upc name } }"
DIRECT_INVENTORY = (
    "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { inStock } } }"
)
DISTURBED = 0.1  # a window in which other processes took more than this share of the CPUs
FULL = {"windows": 3, "window_s": 30, "warmup_s": 10, "connections": 50}


# -- settings ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    workers: int
    windows: int
    window_s: int
    warmup_s: int
    connections: int
    wrk_threads: int
    overhead_requests: int
    gateways: tuple[str, ...]
    scenario: Scenario
    results: Path

    @classmethod
    def from_env(cls) -> Settings:
        only = os.environ.get("BENCH_GATEWAY_ONLY", "").strip()
        if only and only not in GATEWAYS:
            raise BenchError(f"BENCH_GATEWAY_ONLY must be one of {', '.join(GATEWAYS)}, not {only!r}")
        return cls(
            workers=env_int("BENCH_GATEWAY_WORKERS", 2),
            windows=env_int("BENCH_GATEWAY_WINDOWS", 5),
            window_s=env_int("BENCH_GATEWAY_WINDOW_S", 30),
            warmup_s=env_int("BENCH_GATEWAY_WARMUP_S", 10, minimum=0),
            connections=env_int("BENCH_GATEWAY_CONNECTIONS", 50),
            wrk_threads=env_int("BENCH_GATEWAY_WRK_THREADS", 1),
            overhead_requests=env_int("BENCH_GATEWAY_OVERHEAD_REQUESTS", 500, minimum=0),
            gateways=(only,) if only else GATEWAYS,
            scenario=Scenario.from_env(),
            results=Path(os.environ.get("BENCH_GATEWAY_RESULTS", RESULTS / "gateway.json")),
        )

    @property
    def shortfalls(self) -> list[str]:
        """How this run falls short of a full measurement (empty for a full one)."""
        out = []
        if self.windows < FULL["windows"]:
            out.append(f"{self.windows} windows < {FULL['windows']}")
        if self.window_s < FULL["window_s"]:
            out.append(f"{self.window_s} s windows < {FULL['window_s']} s")
        if self.warmup_s < FULL["warmup_s"]:
            out.append(f"{self.warmup_s} s warm-up < {FULL['warmup_s']} s")
        if self.connections != FULL["connections"]:
            out.append(f"{self.connections} connections, not {FULL['connections']}")
        if len(self.gateways) < len(GATEWAYS):
            out.append(f"{self.gateways[0]} gateway only")
        return out


# -- load ------------------------------------------------------------------------------------------------------------


def _window(
    procs: Processes, wrk: Wrk, settings: Settings, gateway: Gateway, body: Path, seconds: int, index: int
) -> Window:
    window = run_window(procs, wrk, gateway, body, seconds, index, connections=settings.connections,
                        threads=settings.wrk_threads)  # fmt: skip
    extra = {k: v for k, v in window.failures.items() if v}
    print(
        f"{window.gateway} {f'window {index}' if index else 'warm-up'}: {window.rps:.1f} requests/s, "
        f"p50 {window.p50_ms} ms, p95 {window.p95_ms} ms, other processes {window.other_cpu_share:.0%} of the CPUs"
        + (f", FAILURES {extra}" if extra else ""),
        file=sys.stderr,
    )
    return window


def _window_json(w: Window) -> dict[str, Any]:
    return {
        "gateway": RESULT_KEY[w.gateway], "window": w.index, "seconds": round(w.seconds, 2),
        "requests": w.requests, "rps": round(w.rps, 1), "p50_ms": w.p50_ms, "p90_ms": w.p90_ms,
        "p95_ms": w.p95_ms, "p99_ms": w.p99_ms, "max_ms": w.max_ms,
        "other_cpu_share": w.other_cpu_share, **{k: v for k, v in w.failures.items() if v},
    }  # fmt: skip


# -- overhead --------------------------------------------------------------------------------------------------------


def _overhead(gateway: Gateway, subgraph_port: int, requests: int) -> dict[str, float]:
    """p50 of the two-subgraph query through the gateway, of the same two fetches made directly, and the difference."""
    through_body = request_body(OVERHEAD_QUERY)
    products_body = request_body(DIRECT_PRODUCTS)
    through: list[float] = []
    direct: list[float] = []
    with client(gateway.port) as via, client(subgraph_port) as sub:

        def once_through() -> None:
            status, body = via.post(gateway.path, through_body)
            if status != 200 or b'"errors"' in body:
                raise BenchError(f"{gateway.name}: {OVERHEAD_QUERY} failed ({status}): {body[:300]!r}")

        def once_direct() -> None:
            status, body = sub.post("/products", products_body)
            top = orjson.loads(body)["data"]["topProducts"]
            representations = [{"__typename": "Product", "upc": p["upc"]} for p in top]
            entities = request_body(DIRECT_INVENTORY, {"representations": representations})
            status2, body2 = sub.post("/inventory", entities)
            if status != 200 or status2 != 200 or b'"errors"' in body2:
                raise BenchError(f"direct fetches failed ({status}, {status2}): {body2[:300]!r}")

        for _ in range(max(requests // 10, 20)):  # warm-up
            once_through()
            once_direct()
        for _ in range(requests):  # interleaved, so that drift touches both alike
            started = time.perf_counter()
            once_through()
            through.append(time.perf_counter() - started)
            started = time.perf_counter()
            once_direct()
            direct.append(time.perf_counter() - started)
    through_p50, direct_p50 = statistics.median(through) * 1000, statistics.median(direct) * 1000
    return {
        "through_p50_ms": round(through_p50, 3),
        "direct_p50_ms": round(direct_p50, 3),
        "overhead_p50_ms": round(through_p50 - direct_p50, 3),
    }


# -- results ---------------------------------------------------------------------------------------------------------


def _machine(node: str, wrk: Wrk) -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
             if ln.startswith("model name")), "",
        )  # fmt: skip
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "node": node,
        "wrk": wrk.version,
        "apollo_gateway": node_package_version("@apollo/gateway"),
        "apollo_server": node_package_version("@apollo/server"),
        "subgraphs": f"@apollo/subgraph {node_package_version('@apollo/subgraph')} + graphql-jit "
        f"{node_package_version('graphql-jit')}, one Node process",
        "commit": git("rev-parse", "--short", "HEAD"),
        "gateway_uncommitted_changes": bool(git("status", "--porcelain", "services/gateway")),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _spread(values: list[float]) -> float:
    """(max - min) / median."""
    return round((max(values) - min(values)) / statistics.median(values), 3) if values else 0.0


def _summarise(settings: Settings, windows: list[Window], overheads: dict[str, dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in settings.gateways:
        key = RESULT_KEY[name]
        timed = [w for w in windows if w.gateway == name and w.index > 0]
        rps = [round(w.rps, 1) for w in timed]
        p95 = [w.p95_ms for w in timed]
        out[f"{key}_rps"] = round(statistics.median(rps), 1)
        out[f"{key}_p95_ms"] = round(statistics.median(p95), 2)
        out[f"{key}_p50_ms"] = round(statistics.median(w.p50_ms for w in timed), 2)
        out[f"{key}_rps_windows"] = rps
        out[f"{key}_p95_ms_windows"] = p95
        out[f"{key}_rps_spread"] = _spread(rps)
        out[f"{key}_other_cpu_share_windows"] = [w.other_cpu_share for w in timed]
    if "demimas" in settings.gateways and "apollo" in settings.gateways:
        out["gateway_rps_vs_apollo_gateway"] = round(out["gateway_rps"] / out["apollo_gateway_rps"], 3)
    for name, figures in overheads.items():
        key = RESULT_KEY[name]
        out[f"{key}_overhead_p50_ms"] = figures["overhead_p50_ms"]
        out[f"{key}_two_subgraph_query_p50_ms"] = figures["through_p50_ms"]
    if overheads:
        out["direct_two_fetches_p50_ms"] = round(statistics.median(f["direct_p50_ms"] for f in overheads.values()), 3)
    return out


# -- main ------------------------------------------------------------------------------------------------------------


def run(settings: Settings) -> dict[str, Any]:
    node = node_ready()
    wrk = Wrk.find()
    if "demimas" in settings.gateways:
        demimas_binary()
    scenario = settings.scenario
    query = scenario.query.read_text()
    schema = expected_executor(scenario)
    expected = expected_answer(schema, query)
    expected_overhead = expected_answer(schema, OVERHEAD_QUERY)
    machine = _machine(node, wrk)

    logs = WORK / "gateway-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-", dir=WORK) as tmp, Processes(logs) as procs:
        work = Path(tmp)
        subgraph_port = free_port()
        supergraph = work / "supergraph.graphql"
        supergraph.write_text(scenario.supergraph_at(subgraph_port))
        body = work / "body.json"
        body.write_bytes(request_body(query))
        start_subgraphs(procs, subgraph_port, scenario)

        gateways: list[Gateway] = []
        for name in settings.gateways:
            if name == "demimas":
                gateway = start_demimas(procs, supergraph, settings.workers, NO_RATE_LIMITS)
            else:
                gateway = start_apollo(procs, supergraph, settings.workers)
            gateway.reference = work / f"{name}.expected"
            gateway.reference.write_bytes(check_answer(gateway, query, expected))
            check_answer(gateway, OVERHEAD_QUERY, expected_overhead)
            print(f"{name}: answers as expected ({gateway.reference.stat().st_size} bytes)", file=sys.stderr)
            gateways.append(gateway)

        windows: list[Window] = []
        for gateway in gateways:
            if settings.warmup_s:
                windows.append(_window(procs, wrk, settings, gateway, body, settings.warmup_s, 0))
        overheads: dict[str, dict[str, float]] = {}
        if settings.overhead_requests:
            for gateway in gateways:
                overheads[gateway.name] = _overhead(gateway, subgraph_port, settings.overhead_requests)
                print(f"{gateway.name} overhead: {overheads[gateway.name]}", file=sys.stderr)
        for index in range(1, settings.windows + 1):
            order = gateways if index % 2 else gateways[::-1]  # A B, B A, A B, ...
            for gateway in order:
                windows.append(_window(procs, wrk, settings, gateway, body, settings.window_s, index))
        for gateway in gateways:  # still answering correctly after the load
            check_answer(gateway, query, expected)

    failures = {f"{RESULT_KEY[w.gateway]} window {w.index}": {k: v for k, v in w.failures.items() if v}
                for w in windows if any(w.failures.values())}  # fmt: skip
    disturbed = [w for w in windows if w.index > 0 and w.other_cpu_share > DISTURBED]
    if disturbed:
        print(
            f"warning: in {len(disturbed)} of {settings.windows * len(gateways)} windows other processes took more "
            f"than {DISTURBED:.0%} of the CPUs (up to {max(w.other_cpu_share for w in disturbed):.0%}): "
            "the figures are disturbed; run again on a quiet machine",
            file=sys.stderr,
        )
    results: dict[str, Any] = {
        "run": run_label(settings.shortfalls),
        **_summarise(settings, windows, overheads),
        "gateway_workers": settings.workers,
        "responses_checked": sum(w.requests for w in windows),
        "responses_failed": failures,
        "disturbed_windows": len(disturbed),
        "windows": [_window_json(w) for w in windows],
        "settings": {
            "connections": settings.connections,
            "wrk_threads": settings.wrk_threads,
            "warmup_s": settings.warmup_s,
            "window_s": settings.window_s,
            "windows": settings.windows,
            "order": "alternating A B, B A, ...",
            "overhead_requests": settings.overhead_requests,
            "overhead_query": OVERHEAD_QUERY,
            "query": scenario.query_label,
        },
        "machine": machine | {"load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "date": now(),
    }
    write_results(settings.results, results)
    if failures:
        raise BenchError(f"responses failed under load (see {settings.results}): {failures}")
    return results


def main() -> int:
    exit_on_signals()
    try:
        results = run(Settings.from_env())
    except BenchError as exc:
        print(f"bench-gateway: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench-gateway: interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    print_summary(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
