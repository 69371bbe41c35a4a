"""Gateway security benchmark (`python -m bench.security` from the repository root; `make bench-security`).

Two figures, on the public gateway benchmark's scenario and harness (bench/gateway.py: the Node subgraphs, wrk, the
checked answer byte for byte), with the gateway as `demimas-gateway serve` runs it (every security default on but
the rate limits, switched off explicitly with `bench.gateway.NO_RATE_LIMITS`: wrk and the abusive client each send
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
Results: bench/results/security.json (a run shorter than the defaults says so in `run`).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import re
import shutil
import signal
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
from bench.gateway import (
    DEFAULT_SCENARIO,
    NO_RATE_LIMITS,
    NODE_PROJECT,
    ROOT,
    WORK,
    BenchError,
    Gateway,
    Processes,
    Settings,
    Window,
    Wrk,
    _demimas_binary,
    _env_int,
    _load,
    _node_ready,
    _raise_on_signal,
    _request_body,
    _wait_ready,
    _wrk,
    differences,
    expected_answer,
    expected_executor,
)
from demimas_common.auth.keys import ensure_dev_keys, mint_token
from demimas_common.devstack.ports import free_port

RESULTS = ROOT / "bench" / "results" / "security.json"
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
    scenario: Path

    @classmethod
    def from_env(cls) -> Options:
        return cls(
            windows=_env_int("BENCH_SECURITY_WINDOWS", 3),
            window_s=_env_int("BENCH_SECURITY_WINDOW_S", 20),
            warmup_s=_env_int("BENCH_SECURITY_WARMUP_S", 5, minimum=0),
            abuse_rps=_env_int("BENCH_SECURITY_ABUSE_RPS", 200),
            workers=_env_int("BENCH_GATEWAY_WORKERS", 2),
            connections=_env_int("BENCH_GATEWAY_CONNECTIONS", 50),
            scenario=Path(os.environ.get("BENCH_GATEWAY_SCENARIO", DEFAULT_SCENARIO)),
        )

    def wrk_settings(self) -> Settings:
        return Settings(
            workers=self.workers, windows=self.windows, window_s=self.window_s, warmup_s=self.warmup_s,
            connections=self.connections, wrk_threads=1, overhead_requests=0, gateways=("demimas",),
            scenario=self.scenario, results=RESULTS,
        )  # fmt: skip

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


def _start(procs: Processes, name: str, supergraph: Path, options: Options, env: dict[str, str]) -> Gateway:
    port = free_port()
    argv = [str(_demimas_binary()), "serve", "--supergraph", str(supergraph), "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(options.workers)]  # fmt: skip
    process = procs.start(name, argv, cwd=ROOT, env=os.environ | env)
    _wait_ready(procs, name, process, port, "/graphql")
    return Gateway("demimas", port, "/graphql")


def _reference(gateway: Gateway, query: str, expected: dict[str, Any], token: str | None, path: Path) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {token}"} if token else {})
    try:
        conn.request("POST", gateway.path, body=_request_body(query), headers=headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    found = differences(expected, json.loads(body))
    if response.status != 200 or found:
        raise BenchError(f"the gateway answered the benchmark query wrongly ({response.status}): {found[:5]}")
    path.write_bytes(body)


def _wrk_script(work: Path, token: str | None) -> Path:
    """bench/gateway/wrk.lua, plus an Authorization header when a token is given."""
    script = work / ("wrk-token.lua" if token else "wrk.lua")
    text = f'dofile("{NODE_PROJECT / "wrk.lua"}")\n'
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
    """One wrk window with the given script (bench.gateway._load runs bench/gateway/wrk.lua: swap it in)."""
    import bench.gateway as harness

    original = harness.NODE_PROJECT
    staged = script.parent / f"stage-{script.stem}"
    staged.mkdir(exist_ok=True)
    shutil.copy(script, staged / "wrk.lua")
    harness.NODE_PROJECT = staged
    try:
        return _load(procs, wrk, options.wrk_settings(), gateway, body, seconds, index)
    finally:
        harness.NODE_PROJECT = original


def run(options: Options) -> dict[str, Any]:
    WORK.mkdir(parents=True, exist_ok=True)
    _node_ready()
    wrk = _wrk()
    _demimas_binary()
    scenario = options.scenario
    query = (scenario / "query.graphql").read_text()
    expected = expected_answer(expected_executor(scenario), query)
    logs = WORK / "security-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
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
        original = (scenario / "supergraph.graphql").read_text()
        plain_text = re.sub(r'url: "http://[^"/]+/', f'url: "http://127.0.0.1:{subgraph_port}/', original)
        plain, secured = work / "plain.graphql", work / "secured.graphql"
        plain.write_text(plain_text)
        secured_text, guards = guarded(plain_text)
        secured.write_text(secured_text)
        body = work / "body.json"
        body.write_bytes(_request_body(query))
        process = procs.start(
            "subgraphs",
            ["node", "subgraphs.mjs", "--port", str(subgraph_port), "--data", str(scenario / "data.json")],
            cwd=NODE_PROJECT, env=os.environ | {"NODE_ENV": "production"},
        )  # fmt: skip
        _wait_ready(procs, "subgraphs", process, subgraph_port, "/healthz")

        # -- abuse: one gateway, windows with and without the abusive client ------------------------------------
        gateway = _start(procs, "gateway-plain", plain, options, env)
        gateway.reference = work / "plain.expected"
        _reference(gateway, query, expected, None, gateway.reference)
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
        process = procs.start(
            "subgraphs",
            ["node", "subgraphs.mjs", "--port", str(subgraph_port), "--data", str(scenario / "data.json")],
            cwd=NODE_PROJECT, env=os.environ | {"NODE_ENV": "production"},
        )  # fmt: skip
        _wait_ready(procs, "subgraphs", process, subgraph_port, "/healthz")

        # -- auth overhead: the same token to a plain and to a guarded supergraph ---------------------------------
        with_token = _wrk_script(work, token)
        plain_gw = _start(procs, "gateway-plain", plain, options, env)
        plain_gw.reference = work / "plain-token.expected"
        _reference(plain_gw, query, expected, token, plain_gw.reference)
        guarded_gw = _start(procs, "gateway-guarded", secured, options, env)
        guarded_gw.reference = work / "guarded.expected"
        _reference(guarded_gw, query, expected, token, guarded_gw.reference)
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
    shortfalls = options.shortfalls
    return {
        "run": "full" if not shortfalls else f"QUICK RUN, not a measurement ({'; '.join(shortfalls)})",
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
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main() -> int:
    signal.signal(signal.SIGTERM, _raise_on_signal)
    try:
        results = run(Options.from_env())
    except BenchError as exc:
        print(f"bench.security: {exc}", file=sys.stderr)
        return 1
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
