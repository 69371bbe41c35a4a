"""Gateway speed benchmark (`make bench-gateway`, or `python -m bench.gateway` from the repository root).

The public federation gateway benchmark's scenario (`../shared/bench/gateway-benchmark/`: supergraph, the query
`TestQuery`, the subgraphs' data and rules), run on this machine for our gateway and for Apollo Gateway side by side:
1. the four subgraphs, implemented once in Node (bench/gateway/subgraphs.mjs), on one free loopback port;
2. `demimas-gateway serve` and Apollo Gateway (bench/gateway/apollo-gateway.mjs: @apollo/gateway 2.14 on
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
BENCH_GATEWAY_SCENARIO (the scenario folder), BENCH_GATEWAY_RESULTS (the results file).
Our gateway runs with its rate limits switched off explicitly (`NO_RATE_LIMITS`): wrk drives one caller far over
the default 50 requests/s per agency, and this benchmark measures speed, not the limits.
Needs Node 20+ and npm (packages installed here with `npm ci` when missing) and wrk (taken from PATH, or fetched
from Debian's package with `apt-get download` into bench/.work/wrk without root).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from graphql import GraphQLSchema, build_ast_schema, graphql_sync, parse

from demimas_common.devstack.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
NODE_PROJECT = ROOT / "bench" / "gateway"
WORK = ROOT / "bench" / ".work"
DEFAULT_SCENARIO = ROOT.parent / "shared" / "bench" / "gateway-benchmark"
DEFAULT_RESULTS = ROOT / "bench" / "results" / "gateway.json"
NO_RATE_LIMITS = {
    "DEMIMAS_GATEWAY_RATE_LIMITS": "{}",
    "DEMIMAS_GATEWAY_DEFAULT_RATE_LIMIT": "null",
    "DEMIMAS_GATEWAY_ANONYMOUS_RATE_LIMIT": "null",
}
"""The gateway's rate limits off (they are on by default: 50/s per agency, 5/s per anonymous address), for the
benchmarks that deliberately send one caller's requests faster than that; each says so in its docstring."""
GATEWAYS = ("demimas", "apollo")
RESULT_KEY = {"demimas": "gateway", "apollo": "apollo_gateway"}
OVERHEAD_QUERY = "{ topProducts { upc name inStock } }"
DIRECT_PRODUCTS = "{ topProducts { __typename upc name } }"
DIRECT_INVENTORY = (
    "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { inStock } } }"
)
WRK_TIMEOUT_S = 20
STOP_GRACE_S = 10.0
DISTURBED = 0.1  # a window in which other processes took more than this share of the CPUs
FULL = {"windows": 3, "window_s": 30, "warmup_s": 10, "connections": 50}


class BenchError(Exception):
    """The benchmark cannot run, or a gateway answered wrongly: the message says what and where."""


# -- settings ------------------------------------------------------------------------------------------------------


def _env_int(name: str, default: int, minimum: int = 1) -> int:
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
    scenario: Path
    results: Path

    @classmethod
    def from_env(cls) -> Settings:
        only = os.environ.get("BENCH_GATEWAY_ONLY", "").strip()
        if only and only not in GATEWAYS:
            raise BenchError(f"BENCH_GATEWAY_ONLY must be one of {', '.join(GATEWAYS)}, not {only!r}")
        return cls(
            workers=_env_int("BENCH_GATEWAY_WORKERS", 2),
            windows=_env_int("BENCH_GATEWAY_WINDOWS", 5),
            window_s=_env_int("BENCH_GATEWAY_WINDOW_S", 30),
            warmup_s=_env_int("BENCH_GATEWAY_WARMUP_S", 10, minimum=0),
            connections=_env_int("BENCH_GATEWAY_CONNECTIONS", 50),
            wrk_threads=_env_int("BENCH_GATEWAY_WRK_THREADS", 1),
            overhead_requests=_env_int("BENCH_GATEWAY_OVERHEAD_REQUESTS", 500, minimum=0),
            gateways=(only,) if only else GATEWAYS,
            scenario=Path(os.environ.get("BENCH_GATEWAY_SCENARIO", DEFAULT_SCENARIO)),
            results=Path(os.environ.get("BENCH_GATEWAY_RESULTS", DEFAULT_RESULTS)),
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


# -- child processes -----------------------------------------------------------------------------------------------


class Processes:
    """Child processes, each in its own session (process group), all stopped on leaving: SIGTERM to the group, then
    SIGKILL after a grace period. Used as a context manager around the whole run, so exceptions, Ctrl-C and SIGTERM
    (turned into SystemExit by main) all end every child, workers included."""

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
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE_S)
        # workers or helpers may outlive the child in its session (also when it exited on its own)
        if _session_members(process.pid):
            _signal_group(process, signal.SIGKILL)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            print(f"process {process.pid} did not stop after SIGKILL", file=sys.stderr)
        if process.stdout is not None:
            process.stdout.close()

    def stop_all(self) -> None:
        while self.children:
            _, process = self.children.pop()
            self.stop(process)


def _session_members(sid: int) -> list[int]:
    """Live processes of the session a child started (its pid is the session and group id)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp session ...
            if fields[0] != "Z" and int(fields[2]) == sid and int(fields[3]) == sid:
                members.append(int(stat.parent.name))
    return members


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


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)  # start_new_session: the group id is the child's pid


def _raise_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


# -- tools: npm packages and wrk -------------------------------------------------------------------------------------


def _run(argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()[-800:]
        raise BenchError(f"`{' '.join(argv)}` failed ({done.returncode}): {said}")
    return done.stdout


def _node_ready() -> str:
    """Checks Node 20+ and installs the pinned packages if missing; returns node's version."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise BenchError("node and npm (Node 20+) are needed: the subgraphs and Apollo Gateway run on Node")
    version = _run(["node", "--version"]).strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        raise BenchError(f"Node 20+ is needed, found {version}")
    installed = NODE_PROJECT / "node_modules" / ".package-lock.json"
    lock = NODE_PROJECT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        print("installing the benchmark's npm packages (npm ci)", file=sys.stderr)
        _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_PROJECT)
    return version


@dataclass(frozen=True)
class Wrk:
    binary: str
    env: dict[str, str]
    version: str


def _dpkg_installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )  # fmt: skip
    return done.returncode == 0 and done.stdout.strip().endswith("installed")


def _apt_depends(package: str) -> list[list[str]]:
    """The package's Depends as groups of alternatives (names only)."""
    text = _run(["apt-cache", "show", "--no-all-versions", package])
    for line in text.splitlines():
        if line.startswith("Depends:"):
            groups = line.removeprefix("Depends:").split(",")
            return [[re.sub(r"\(.*?\)|:any", "", alt).strip() for alt in group.split("|")] for group in groups]
    return []


def _packages_for_wrk() -> list[str]:
    """wrk and those of its dependencies (transitively) that are not installed on this machine."""
    wanted, queue = ["wrk"], ["wrk"]
    while queue:
        for group in _apt_depends(queue.pop()):
            if any(_dpkg_installed(alt) for alt in group) or any(alt in wanted for alt in group):
                continue
            wanted.append(group[0])
            queue.append(group[0])
    return wanted


def _wrk() -> Wrk:
    found = shutil.which("wrk")
    root = WORK / "wrk"
    env: dict[str, str] = {}
    if found is not None:
        binary = found
    else:
        binary = str(root / "usr" / "bin" / "wrk")
        if not Path(binary).exists():
            _fetch_wrk(root)
        libs = sorted({str(p.parent) for p in root.rglob("*.so*")})
        if libs:
            env["LD_LIBRARY_PATH"] = ":".join([*libs, os.environ.get("LD_LIBRARY_PATH", "")]).rstrip(":")
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, env=os.environ | env, check=False)
    version = (done.stdout + done.stderr).splitlines()[0] if (done.stdout + done.stderr) else ""
    if not version.startswith("wrk "):
        raise BenchError(f"{binary} does not run: {(done.stderr or done.stdout).strip()[:400]}")
    return Wrk(binary, env, version.split(" Copyright")[0])


def _fetch_wrk(root: Path) -> None:
    """`apt-get download` wrk and its missing libraries (no root needed), unpacked with `dpkg -x` into root."""
    print("wrk is not on PATH: fetching Debian's package into bench/.work/wrk", file=sys.stderr)
    try:
        packages = _packages_for_wrk()
        with tempfile.TemporaryDirectory(prefix="wrk-debs-", dir=WORK) as debs:
            _run(["apt-get", "download", *packages], cwd=Path(debs))
            shutil.rmtree(root, ignore_errors=True)
            for deb in sorted(Path(debs).glob("*.deb")):
                _run(["dpkg", "-x", str(deb), str(root)])
    except (BenchError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise BenchError(
            f"wrk is not on PATH and could not be fetched from Debian's package ({exc}). Install it "
            "(`apt-get install wrk`; or run `apt-get update` first if apt knows no package lists) and run again."
        ) from exc


# -- the expected answers ---------------------------------------------------------------------------------------------


def expected_executor(scenario: Path) -> GraphQLSchema:
    """The scenario's graph as one executable schema: the supergraph's types with the merged behaviour of the four
    subgraphs (README rules), so that graphql-core computes the answer a correct gateway must give."""
    data = json.loads((scenario / "data.json").read_text())
    schema = build_ast_schema(parse((scenario / "supergraph.graphql").read_text()))
    users: dict[str, dict[str, Any]] = {u["id"]: dict(u) for u in data["users"]}  # accounts
    stock = {row["upc"]: row["inStock"] for row in data["inventory"]}
    products: dict[str, dict[str, Any]] = {}
    for p in data["products"]:  # products: name, price, weight; inventory: inStock, shippingEstimate; reviews
        price, weight = p.get("price"), p.get("weight")
        estimate = None if price is None else 0 if price > 1000 else None if weight is None else weight // 2
        products[p["upc"]] = dict(p, inStock=stock.get(p["upc"]), shippingEstimate=estimate, reviews=[])
    # reviews: Review.author is always user 1, its username provided by the reviews subgraph ("urigo")
    author = dict(users["1"], username="urigo")
    reviews: list[dict[str, Any]] = []
    for r in data["reviews"]:
        review = {"id": r["id"], "body": r["body"], "product": products.get(r["productUpc"]), "author": author}
        reviews.append(review)
        if r["productUpc"] in products:
            products[r["productUpc"]]["reviews"].append(review)
    for user in [*users.values(), author]:  # reviews: User.reviews is the first two reviews, for every user
        user["reviews"] = reviews[:2]
    query = schema.query_type
    assert query is not None
    query.fields["users"].resolve = lambda *_: list(users.values())
    query.fields["me"].resolve = lambda *_: users["1"]
    query.fields["user"].resolve = lambda _root, _info, **args: users.get(args["id"])
    query.fields["topProducts"].resolve = lambda _root, _info, first: list(products.values())[:first]
    return schema


def expected_answer(schema: GraphQLSchema, query: str) -> dict[str, Any]:
    result = graphql_sync(schema, query)
    if result.errors:
        raise BenchError(f"the expected answer itself has errors: {result.errors}")
    return {"data": result.data}


def differences(expected: Any, actual: Any, path: str = "$", limit: int = 20) -> list[str]:
    """Where actual differs from expected: values, types, list lengths, missing or extra keys, key order."""
    out: list[str] = []

    def walk(e: Any, a: Any, at: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(e, dict) and isinstance(a, dict):
            missing, extra = [k for k in e if k not in a], [k for k in a if k not in e]
            if missing:
                out.append(f"{at}: missing {missing}")
            if extra:
                out.append(f"{at}: unexpected {extra}")
            common = [k for k in e if k in a]
            if not missing and not extra and list(e) != list(a):
                out.append(f"{at}: field order {list(a)}, expected {list(e)}")
            for k in common:
                walk(e[k], a[k], f"{at}.{k}")
        elif isinstance(e, list) and isinstance(a, list):
            if len(e) != len(a):
                out.append(f"{at}: {len(a)} items, expected {len(e)}")
            for i, (ei, ai) in enumerate(zip(e, a, strict=False)):
                walk(ei, ai, f"{at}[{i}]")
        elif type(e) is not type(a) or e != a:
            out.append(f"{at}: {json.dumps(a)[:120]}, expected {json.dumps(e)[:120]}")

    walk(expected, actual, path)
    return out


# -- HTTP ------------------------------------------------------------------------------------------------------------


class Client:
    """A keep-alive HTTP/1.1 client for sequential requests (stdlib: the least client time in the measurements)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self.connection.request("POST", path, body=body, headers=headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


@contextmanager
def client(port: int) -> Iterator[Client]:
    c = Client(port)
    try:
        yield c
    finally:
        c.close()


def _request_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return orjson.dumps({"query": query} | ({"variables": variables} if variables else {}))


def _wait_ready(procs: Processes, name: str, process: subprocess.Popen[bytes], port: int, path: str) -> None:
    """Until the server at port answers `{ __typename }` (or, for the subgraphs, /healthz)."""
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise BenchError(f"{name} exited at start ({process.returncode}):\n{procs.log_tail(name)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                if path == "/healthz":
                    conn.request("GET", path)
                else:
                    headers = {"Content-Type": "application/json"}
                    conn.request("POST", path, body=_request_body("{ __typename }"), headers=headers)
                response = conn.getresponse()
                if response.status == 200 and response.read():
                    return
            finally:
                conn.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"{name} did not answer on port {port} within 90 s:\n{procs.log_tail(name)}")
        time.sleep(0.2)


# -- gateways ----------------------------------------------------------------------------------------------------------


@dataclass
class Gateway:
    name: str  # demimas | apollo
    port: int
    path: str
    reference: Path = field(default=Path())  # the checked answer to TestQuery, byte for byte as this gateway sends it

    @property
    def key(self) -> str:
        return RESULT_KEY[self.name]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def _demimas_binary() -> Path:
    for candidate in (Path(sys.executable).parent / "demimas-gateway", ROOT / ".venv" / "bin" / "demimas-gateway"):
        if candidate.exists():
            return candidate
    raise BenchError(
        "demimas-gateway is not installed (.venv/bin/demimas-gateway): run `make bench-gateway`, or measure "
        "Apollo Gateway alone with BENCH_GATEWAY_ONLY=apollo"
    )


def _start_gateway(procs: Processes, name: str, supergraph: Path, workers: int) -> Gateway:
    port = free_port()
    if name == "demimas":
        argv = [str(_demimas_binary()), "serve", "--supergraph", str(supergraph), "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers)]  # fmt: skip
        gateway = Gateway(name, port, "/graphql")
        process = procs.start(name, argv, cwd=ROOT, env=os.environ | NO_RATE_LIMITS)
    else:
        argv = ["node", "apollo-gateway.mjs", "--supergraph", str(supergraph), "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers)]  # fmt: skip
        gateway = Gateway(name, port, "/")
        process = procs.start(name, argv, cwd=NODE_PROJECT, env=os.environ | {"NODE_ENV": "production"})
    _wait_ready(procs, name, process, port, gateway.path)
    return gateway


def _check(gateway: Gateway, query: str, expected: dict[str, Any]) -> bytes:
    """One answer of the gateway, compared exactly with the expected one; returns its bytes."""
    with client(gateway.port) as c:
        status, body = c.post(gateway.path, _request_body(query))
    try:
        actual = json.loads(body)
    except ValueError:
        raise BenchError(f"{gateway.name}: status {status}, not JSON: {body[:300]!r}") from None
    found = differences(expected, actual)
    if status != 200 or found:
        listing = "\n  ".join(found) if found else "(body as expected)"
        raise BenchError(f"{gateway.name} answered {query[:60]!r} wrongly (status {status}):\n  {listing}")
    return body


# -- load (wrk) ------------------------------------------------------------------------------------------------------


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

    def as_json(self) -> dict[str, Any]:
        return {
            "gateway": RESULT_KEY[self.gateway], "window": self.index, "seconds": round(self.seconds, 2),
            "requests": self.requests, "rps": round(self.rps, 1), "p50_ms": self.p50_ms, "p90_ms": self.p90_ms,
            "p95_ms": self.p95_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms,
            "other_cpu_share": self.other_cpu_share, **{k: v for k, v in self.failures.items() if v},
        }  # fmt: skip


def _load(
    procs: Processes, wrk: Wrk, settings: Settings, gateway: Gateway, body: Path, seconds: int, index: int
) -> Window:
    argv = [wrk.binary, "-t", str(settings.wrk_threads), "-c", str(settings.connections), "-d", f"{seconds}s",
            "--timeout", f"{WRK_TIMEOUT_S}s", "-s", str(NODE_PROJECT / "wrk.lua"), gateway.url,
            "--", str(body), str(gateway.reference)]  # fmt: skip
    name = f"wrk-{gateway.name}-{index}"
    sessions = [p.pid for _, p in procs.children]
    busy, own, started = _busy_cpu_s(), _own_cpu_s(sessions), time.monotonic()
    process = procs.start(name, argv, env=os.environ | wrk.env, capture=True)
    try:
        out, _ = process.communicate(timeout=seconds + WRK_TIMEOUT_S + 30)
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
    failures = {k: int(figures[k]) for k in ("status_errors", "mismatched", "connect_errors", "read_errors",
                                             "write_errors", "timeouts")}  # fmt: skip

    def ms(us: float) -> float:
        return round(us / 1000, 2)

    return Window(
        gateway.name, index, duration, figures["requests"], figures["requests"] / duration,
        ms(lat["p50"]), ms(lat["p90"]), ms(lat["p95"]), ms(lat["p99"]), ms(lat["max"]), failures, other_share,
    )  # fmt: skip


# -- overhead --------------------------------------------------------------------------------------------------------


def _overhead(gateway: Gateway, subgraph_port: int, requests: int) -> dict[str, float]:
    """p50 of the two-subgraph query through the gateway, of the same two fetches made directly, and the difference."""
    through_body = _request_body(OVERHEAD_QUERY)
    products_body = _request_body(DIRECT_PRODUCTS)
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
            entities = _request_body(DIRECT_INVENTORY, {"representations": representations})
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

    def package_version(name: str) -> str:
        path = NODE_PROJECT / "node_modules" / name / "package.json"
        return str(json.loads(path.read_text())["version"]) if path.exists() else "?"

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "node": node,
        "wrk": wrk.version,
        "apollo_gateway": package_version("@apollo/gateway"),
        "apollo_server": package_version("@apollo/server"),
        "subgraphs": f"@apollo/subgraph {package_version('@apollo/subgraph')} + graphql-jit "
        f"{package_version('graphql-jit')}, one Node process",
        "commit": commit.stdout.strip(),
        "gateway_uncommitted_changes": bool(
            _run(["git", "status", "--porcelain", "services/gateway"], cwd=ROOT).strip()
        ),
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
    WORK.mkdir(parents=True, exist_ok=True)
    node = _node_ready()
    wrk = _wrk()
    if "demimas" in settings.gateways:
        _demimas_binary()
    scenario = settings.scenario
    query = (scenario / "query.graphql").read_text()
    schema = expected_executor(scenario)
    expected = expected_answer(schema, query)
    expected_overhead = expected_answer(schema, OVERHEAD_QUERY)
    machine = _machine(node, wrk)

    logs = WORK / "gateway-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    with tempfile.TemporaryDirectory(prefix="bench-gateway-", dir=WORK) as tmp, Processes(logs) as procs:
        work = Path(tmp)
        subgraph_port = free_port()
        supergraph = work / "supergraph.graphql"
        original = (scenario / "supergraph.graphql").read_text()
        supergraph.write_text(re.sub(r'url: "http://[^"/]+/', f'url: "http://127.0.0.1:{subgraph_port}/', original))
        body = work / "body.json"
        body.write_bytes(_request_body(query))
        process = procs.start(
            "subgraphs",
            ["node", "subgraphs.mjs", "--port", str(subgraph_port), "--data", str(scenario / "data.json")],
            cwd=NODE_PROJECT, env=os.environ | {"NODE_ENV": "production"},
        )  # fmt: skip
        _wait_ready(procs, "subgraphs", process, subgraph_port, "/healthz")

        gateways: list[Gateway] = []
        for name in settings.gateways:
            gateway = _start_gateway(procs, name, supergraph, settings.workers)
            gateway.reference = work / f"{name}.expected"
            gateway.reference.write_bytes(_check(gateway, query, expected))
            _check(gateway, OVERHEAD_QUERY, expected_overhead)
            print(f"{name}: answers as expected ({gateway.reference.stat().st_size} bytes)", file=sys.stderr)
            gateways.append(gateway)

        windows: list[Window] = []
        for gateway in gateways:
            if settings.warmup_s:
                windows.append(_load(procs, wrk, settings, gateway, body, settings.warmup_s, 0))
                _report(windows[-1], "warm-up")
        overheads: dict[str, dict[str, float]] = {}
        if settings.overhead_requests:
            for gateway in gateways:
                overheads[gateway.name] = _overhead(gateway, subgraph_port, settings.overhead_requests)
                print(f"{gateway.name} overhead: {overheads[gateway.name]}", file=sys.stderr)
        for index in range(1, settings.windows + 1):
            order = gateways if index % 2 else gateways[::-1]  # A B, B A, A B, ...
            for gateway in order:
                windows.append(_load(procs, wrk, settings, gateway, body, settings.window_s, index))
                _report(windows[-1], f"window {index}")
        for gateway in gateways:  # still answering correctly after the load
            _check(gateway, query, expected)

    failures = {f"{RESULT_KEY[w.gateway]} window {w.index}": {k: v for k, v in w.failures.items() if v}
                for w in windows if any(w.failures.values())}  # fmt: skip
    shortfalls = settings.shortfalls
    disturbed = [w for w in windows if w.index > 0 and w.other_cpu_share > DISTURBED]
    if disturbed:
        print(
            f"warning: in {len(disturbed)} of {settings.windows * len(gateways)} windows other processes took more "
            f"than {DISTURBED:.0%} of the CPUs (up to {max(w.other_cpu_share for w in disturbed):.0%}): "
            "the figures are disturbed; run again on a quiet machine",
            file=sys.stderr,
        )
    results: dict[str, Any] = {
        "run": "full" if not shortfalls else f"QUICK RUN, not a measurement ({'; '.join(shortfalls)})",
        **_summarise(settings, windows, overheads),
        "gateway_workers": settings.workers,
        "responses_checked": sum(w.requests for w in windows),
        "responses_failed": failures,
        "disturbed_windows": len(disturbed),
        "windows": [w.as_json() for w in windows],
        "settings": {
            "connections": settings.connections,
            "wrk_threads": settings.wrk_threads,
            "warmup_s": settings.warmup_s,
            "window_s": settings.window_s,
            "windows": settings.windows,
            "order": "alternating A B, B A, ...",
            "overhead_requests": settings.overhead_requests,
            "overhead_query": OVERHEAD_QUERY,
            "query": "TestQuery (../shared/bench/gateway-benchmark/query.graphql)",
        },
        "machine": machine | {"load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    settings.results.parent.mkdir(parents=True, exist_ok=True)
    settings.results.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    if failures:
        raise BenchError(f"responses failed under load (see {settings.results}): {failures}")
    return results


def _report(window: Window, label: str) -> None:
    extra = {k: v for k, v in window.failures.items() if v}
    print(
        f"{window.gateway} {label}: {window.rps:.1f} requests/s, p50 {window.p50_ms} ms, p95 {window.p95_ms} ms, "
        f"other processes {window.other_cpu_share:.0%} of the CPUs" + (f", FAILURES {extra}" if extra else ""),
        file=sys.stderr,
    )


def main() -> int:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_on_signal)
    try:
        results = run(Settings.from_env())
    except BenchError as exc:
        print(f"bench-gateway: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench-gateway: interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    for name, value in results.items():
        if not isinstance(value, list | dict):
            print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
