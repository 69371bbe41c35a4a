"""Gateway security benchmark (`python -m bench.security` from the repository root; `make bench-security`).

Two figures, on the public gateway benchmark's scenario and tools (bench/scenario.py, bench/gateway_servers.py,
bench/wrk.py: the Node subgraphs, wrk, the checked answer byte for byte), with the gateway as `demimas-gateway serve`
runs it (every security default on but the rate limits, switched off explicitly with
`bench.gateway_servers.NO_RATE_LIMITS`: wrk and the abusive client each send
one caller's requests far faster than the default 50/s per agency and 5/s per anonymous address, and the figures are
about the other guards; the rate limits have their own tests):

- `gateway_p95_under_abuse_ratio`: p95 latency of the benchmark query (wrk, 50 connections) while a second client
  sends 200 abusive requests per second from the abuse corpus (`bench/abuse.py`: depth and fragment bombs,
  10,000 aliases, directive flooding, nested lists, huge variables, batches, oversized bodies, malformed JSON, wrong
  content types, ...), divided by the p95 without it; windows with and without abuse alternate in the same run and
  the medians are compared. Every abusive answer is checked (status and code). Goal: <= 1.5.
- `gateway_auth_overhead_ratio`: requests/s of the benchmark query through a gateway whose supergraph carries
  `@requiresScopes` on every field with a `@join__field` (and `@authenticated` on the root fields), divided by the
  same gateway on the plain supergraph; both get the same valid token, so the figure is the cost of enforcing the
  directives alone. Alternating windows. Goal: >= 0.9.

Environment: BENCH_SECURITY_WINDOWS (3 per variant), BENCH_SECURITY_WINDOW_S (20), BENCH_SECURITY_WARMUP_S (5),
BENCH_SECURITY_ABUSE_RPS (200), BENCH_GATEWAY_WORKERS (2), BENCH_GATEWAY_CONNECTIONS (50), BENCH_GATEWAY_SCENARIO.
Results: bench/results/security.json (a run shorter than the defaults says so in `run`). Needs Node 20+ with the
benchmark's packages (`make bench-node`, which `make bench-security` runs) and wrk on PATH.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.abuse import AbuseCase, corpus
from bench.gateway_servers import (
    NO_RATE_LIMITS,
    Gateway,
    check_answer,
    demimas_binary,
    node_ready,
    start_demimas,
    start_subgraphs,
)
from bench.harness import (
    RESULTS,
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
from bench.wrk import SCRIPT, Window, Wrk, run_window
from demimas_common.auth.keys import ensure_dev_keys, mint_token
from demimas_common.devstack.ports import free_port

ISSUER, AUDIENCE = "https://auth.bench.test", "demimas"
GUARD = ' @requiresScopes(scopes: [["registry:read"]])'
FIELD_LINE = re.compile(r"^(  \w+(\([^)]*\))?: [\w\[\]!]+ @join__field\(.*\))$", re.MULTILINE)
ROOT_FIELD = re.compile(r"^(  (users|topProducts|me|user)\b.*)$", re.MULTILINE)
SECURITY_PRELUDE = (
    "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE"
    " | SCALAR | ENUM\nscalar requiresScopes__Scope\n"
    "directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n"
)


@dataclass(frozen=True)
class Options:
    windows: int
    window_s: int
    warmup_s: int
    abuse_rps: int
    workers: int
    connections: int
    scenario: Scenario

    @classmethod
    def from_env(cls) -> Options:
        return cls(
            windows=env_int("BENCH_SECURITY_WINDOWS", 3),
            window_s=env_int("BENCH_SECURITY_WINDOW_S", 20),
            warmup_s=env_int("BENCH_SECURITY_WARMUP_S", 5, minimum=0),
            abuse_rps=env_int("BENCH_SECURITY_ABUSE_RPS", 200),
            workers=env_int("BENCH_GATEWAY_WORKERS", 2),
            connections=env_int("BENCH_GATEWAY_CONNECTIONS", 50),
            scenario=Scenario.from_env(),
        )

    @property
    def shortfalls(self) -> list[str]:
        out = []
        if self.windows < 3:
            out.append(f"{self.windows} windows < 3")
        if self.window_s < 20:
            out.append(f"{self.window_s} s windows < 20 s")
        if self.connections != 50:
            out.append(f"{self.connections} connections, not 50")
        if self.abuse_rps != 200:
            out.append(f"{self.abuse_rps} abusive requests/s, not 200")
        return out


def guarded(supergraph: str) -> tuple[str, int]:
    """The supergraph with `@requiresScopes` on every field resolved by a subgraph and `@authenticated` on the root
    fields; returns it and how many fields it guards."""
    linked = supergraph.replace(
        '@link(url: "https://specs.apollo.dev/link/v1.0")',
        '@link(url: "https://specs.apollo.dev/link/v1.0")'
        ' @link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)'
        ' @link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)',
        1,
    )
    if linked == supergraph:
        raise BenchError("the scenario's supergraph has no @link to the link spec to extend")
    guarded_text, count = FIELD_LINE.subn(lambda m: m.group(1) + GUARD, linked)
    guarded_text, roots = ROOT_FIELD.subn(lambda m: m.group(1) + " @authenticated", guarded_text)
    if count == 0:
        raise BenchError("no field of the scenario's supergraph matched: the guard pattern needs updating")
    return SECURITY_PRELUDE + guarded_text, count + roots


class Abuser:
    """Sends the abuse corpus at a fixed total rate from `lanes` threads, each with its own keep-alive connection
    and its share of the rate (one connection alone falls behind when the gateway is saturated), and checks every
    answer's status and code."""

    def __init__(self, port: int, cases: list[AbuseCase], rate: int, lanes: int = 16) -> None:
        self.port, self.cases, self.rate, self.lanes = port, cases, rate, lanes
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.sent = self.wrong = self.failed = 0
        self.wrong_cases: set[str] = set()
        self.threads = [threading.Thread(target=self._lane, args=(i,), daemon=True) for i in range(lanes)]
        self.started_at = self.stopped_at = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join()
        self.stopped_at = time.monotonic()

    def _lane(self, lane: int) -> None:
        interval = self.lanes / self.rate
        conn: http.client.HTTPConnection | None = None
        index = lane
        due = time.monotonic() + lane * interval / self.lanes
        while not self.halt.is_set():
            pause = due - time.monotonic()
            if pause > 0 and self.halt.wait(pause):
                break
            due += interval
            case = self.cases[index % len(self.cases)]
            index += self.lanes
            sent = wrong = failed = 0
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request(case.method, case.path, body=case.body or None, headers=case.headers)
                response = conn.getresponse()
                body = response.read()
                code = orjson.loads(body)["errors"][0]["extensions"]["code"]
                sent = 1
                if (response.status, code) != (case.status, case.code):
                    wrong = 1
                    with self.lock:
                        self.wrong_cases.add(f"{case.name}: {response.status} {code}")
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError):
                failed = 1  # the gateway may close a connection after refusing an oversized body
                if conn is not None:
                    conn.close()
                conn = None
            with self.lock:
                self.sent += sent
                self.wrong += wrong
                self.failed += failed
        if conn is not None:
            conn.close()

    @property
    def achieved_rps(self) -> float:
        return (self.sent + self.failed) / max(self.stopped_at - self.started_at, 1e-9)


def _wrk_script(work: Path, token: str | None) -> Path:
    """bench/wrk.lua, plus an Authorization header when a token is given."""
    script = work / ("wrk-token.lua" if token else "wrk.lua")
    text = f'dofile("{SCRIPT}")\n'
    if token:
        text += (
            "local base_init = init\nfunction init(args)\n  base_init(args)\n"
            f'  wrk.headers["Authorization"] = "Bearer {token}"\nend\n'
        )
    script.write_text(text)
    return script


def _window(
    procs: Processes, wrk: Wrk, options: Options, gateway: Gateway, body: Path, script: Path, seconds: int, index: int
) -> Window:
    return run_window(procs, wrk, gateway, body, seconds, index, connections=options.connections, script=script)


def run(options: Options) -> dict[str, Any]:
    node_ready()
    wrk = Wrk.find()
    demimas_binary()
    scenario = options.scenario
    query = scenario.query.read_text()
    expected = expected_answer(expected_executor(scenario), query)
    logs = WORK / "security-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="bench-security-", dir=WORK) as tmp, Processes(logs) as procs:
        work = Path(tmp)
        keys = ensure_dev_keys(work / "keys")
        token = mint_token(keys, issuer=ISSUER, audience=AUDIENCE, agency="KP2MI", ttl=dt.timedelta(hours=2))
        env = {
            "DEMIMAS_JWKS_PATH": str(keys.jwks_path),
            "DEMIMAS_JWT_ISSUER": ISSUER,
            "DEMIMAS_JWT_AUDIENCE": AUDIENCE,
            "DEMIMAS_GATEWAY_INTROSPECTION": "false",
        } | NO_RATE_LIMITS
        subgraph_port = free_port()
        plain_text = scenario.supergraph_at(subgraph_port)
        plain, secured = work / "plain.graphql", work / "secured.graphql"
        plain.write_text(plain_text)
        secured_text, guards = guarded(plain_text)
        secured.write_text(secured_text)
        body = work / "body.json"
        body.write_bytes(request_body(query))
        start_subgraphs(procs, subgraph_port, scenario)

        # -- abuse: one gateway, windows with and without the abusive client ------------------------------------
        gateway = start_demimas(procs, plain, options.workers, env, name="gateway-plain")
        gateway.reference = work / "plain.expected"
        gateway.reference.write_bytes(check_answer(gateway, query, expected))
        script = _wrk_script(work, None)
        cases = corpus()
        if options.warmup_s:
            _window(procs, wrk, options, gateway, body, script, options.warmup_s, 0)
        quiet: list[Window] = []
        abused: list[Window] = []
        abusers: list[Abuser] = []
        for index in range(1, options.windows + 1):
            for attacked in (False, True) if index % 2 else (True, False):
                if not attacked:
                    quiet.append(_window(procs, wrk, options, gateway, body, script, options.window_s, index))
                    print(f"quiet window {index}: p95 {quiet[-1].p95_ms} ms, {quiet[-1].rps:.0f}/s", file=sys.stderr)
                    continue
                abuser = Abuser(gateway.port, cases, options.abuse_rps)
                abuser.start()
                try:
                    abused.append(_window(procs, wrk, options, gateway, body, script, options.window_s, index))
                finally:
                    abuser.stop()
                abusers.append(abuser)
                print(
                    f"abused window {index}: p95 {abused[-1].p95_ms} ms, {abused[-1].rps:.0f}/s; abusive "
                    f"{abuser.achieved_rps:.0f}/s, {abuser.wrong} wrong, {abuser.failed} failed",
                    file=sys.stderr,
                )
        procs.stop_all()  # the subgraphs too; start again for the second figure
        start_subgraphs(procs, subgraph_port, scenario)

        # -- auth overhead: the same token to a plain and to a guarded supergraph ---------------------------------
        with_token = _wrk_script(work, token)
        plain_gw = start_demimas(procs, plain, options.workers, env, name="gateway-plain")
        plain_gw.reference = work / "plain-token.expected"
        plain_gw.reference.write_bytes(check_answer(plain_gw, query, expected, token))
        guarded_gw = start_demimas(procs, secured, options.workers, env, name="gateway-guarded")
        guarded_gw.reference = work / "guarded.expected"
        guarded_gw.reference.write_bytes(check_answer(guarded_gw, query, expected, token))
        if options.warmup_s:
            for gw in (plain_gw, guarded_gw):
                _window(procs, wrk, options, gw, body, with_token, options.warmup_s, 0)
        unguarded_windows: list[Window] = []
        guarded_windows: list[Window] = []
        for index in range(1, options.windows + 1):
            order = [(plain_gw, unguarded_windows), (guarded_gw, guarded_windows)]
            for gw, into in order if index % 2 else order[::-1]:
                into.append(_window(procs, wrk, options, gw, body, with_token, options.window_s, index))
                label = "guarded" if gw is guarded_gw else "plain"
                print(f"{label} window {index}: {into[-1].rps:.0f}/s, p95 {into[-1].p95_ms} ms", file=sys.stderr)

    def failures(windows: list[Window]) -> int:
        return sum(sum(w.failures.values()) for w in windows)

    quiet_p95 = statistics.median(w.p95_ms for w in quiet)
    abused_p95 = statistics.median(w.p95_ms for w in abused)
    plain_rps = statistics.median(w.rps for w in unguarded_windows)
    guarded_rps = statistics.median(w.rps for w in guarded_windows)
    return {
        "run": run_label(options.shortfalls),
        "gateway_p95_under_abuse_ratio": round(abused_p95 / quiet_p95, 3),
        "gateway_auth_overhead_ratio": round(guarded_rps / plain_rps, 3),
        "gateway_p95_quiet_ms": quiet_p95,
        "gateway_p95_under_abuse_ms": abused_p95,
        "gateway_rps_quiet": round(statistics.median(w.rps for w in quiet), 1),
        "gateway_rps_under_abuse": round(statistics.median(w.rps for w in abused), 1),
        "abusive_rps_achieved": round(statistics.median(a.achieved_rps for a in abusers), 1),
        "abusive_requests": sum(a.sent for a in abusers),
        "abusive_answers_wrong": sum(a.wrong for a in abusers),
        "abusive_requests_failed": sum(a.failed for a in abusers),
        "abusive_wrong_cases": sorted({c for a in abusers for c in a.wrong_cases}),
        "abuse_corpus_cases": len(cases),
        "gateway_rps_plain_with_token": round(plain_rps, 1),
        "gateway_rps_guarded_with_token": round(guarded_rps, 1),
        "guarded_fields": guards,
        "benchmark_responses_failed": failures(quiet + abused + unguarded_windows + guarded_windows),
        "other_cpu_share_max": max(w.other_cpu_share for w in quiet + abused + unguarded_windows + guarded_windows),
        "settings": {
            "windows": options.windows,
            "window_s": options.window_s,
            "warmup_s": options.warmup_s,
            "connections": options.connections,
            "gateway_workers": options.workers,
            "abuse_rps": options.abuse_rps,
        },
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "measured_at": now(),
    }


def main() -> int:
    exit_on_signals()
    try:
        results = run(Options.from_env())
    except BenchError as exc:
        print(f"bench.security: {exc}", file=sys.stderr)
        return 1
    write_results(RESULTS / "security.json", results)
    print_summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
