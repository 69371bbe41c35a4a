"""The servers the gateway benchmarks start and talk to: the scenario's four subgraphs and Apollo Gateway on Node
(bench/node/, benchmark only, its packages installed by `make bench-node`), our gateway (`demimas-gateway serve`),
a keep-alive HTTP client, and the check of an answer against the expected one.

`NO_RATE_LIMITS` switches the gateway's rate limits off (they are on by default: 50/s per agency, 5/s per anonymous
address), for the benchmarks that deliberately send one caller's requests faster than that; each says so.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import ROOT, BenchError, Processes
from bench.scenario import Scenario, differences, request_body
from demimas_common.devstack.ports import free_port

__all__ = [
    "NODE_PROJECT",
    "NO_RATE_LIMITS",
    "Client",
    "Gateway",
    "check_answer",
    "client",
    "demimas_binary",
    "node_package_version",
    "node_ready",
    "start_apollo",
    "start_demimas",
    "start_subgraphs",
    "wait_ready",
]

NODE_PROJECT = ROOT / "bench" / "node"
NO_RATE_LIMITS = {
    "DEMIMAS_GATEWAY_RATE_LIMITS": "{}",
    "DEMIMAS_GATEWAY_DEFAULT_RATE_LIMIT": "null",
    "DEMIMAS_GATEWAY_ANONYMOUS_RATE_LIMIT": "null",
}
READY_TIMEOUT_S = 90


# -- Node ------------------------------------------------------------------------------------------------------------


def node_ready() -> str:
    """Checks Node 20+ and the benchmark's Node packages (installed by `make bench-node`); returns node's version."""
    if shutil.which("node") is None:
        raise BenchError("node (Node 20+) is needed: the subgraphs and Apollo Gateway run on Node")
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    version = done.stdout.strip()
    if done.returncode != 0 or int(version.lstrip("v").split(".")[0] or 0) < 20:
        raise BenchError(f"Node 20+ is needed, found {version or done.stderr.strip()!r}")
    installed = NODE_PROJECT / "node_modules" / ".package-lock.json"
    lock = NODE_PROJECT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        raise BenchError(
            "the benchmark's Node packages are missing or older than bench/node/package-lock.json: "
            "run `make bench-node` (npm ci in bench/node; needs npm)"
        )
    return version


def node_package_version(name: str) -> str:
    path = NODE_PROJECT / "node_modules" / name / "package.json"
    return str(json.loads(path.read_text())["version"]) if path.exists() else "?"


# -- HTTP ------------------------------------------------------------------------------------------------------------


class Client:
    """A keep-alive HTTP/1.1 client for sequential requests (stdlib: the least client time in the measurements)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: bytes, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        sent = {"Content-Type": "application/json", "Accept": "application/json"} | dict(headers or {})
        self.connection.request("POST", path, body=body, headers=sent)
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


def wait_ready(procs: Processes, name: str, process: subprocess.Popen[bytes], port: int, path: str) -> None:
    """Until the server at port answers `{ __typename }` (or, for the subgraphs, GET /healthz)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
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
                    conn.request("POST", path, body=request_body("{ __typename }"), headers=headers)
                response = conn.getresponse()
                if response.status == 200 and response.read():
                    return
            finally:
                conn.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BenchError(
                f"{name} did not answer on port {port} within {READY_TIMEOUT_S} s:\n{procs.log_tail(name)}"
            )
        time.sleep(0.2)


# -- servers ---------------------------------------------------------------------------------------------------------


@dataclass
class Gateway:
    name: str  # demimas | apollo
    port: int
    path: str
    reference: Path = field(default=Path())  # the checked answer to TestQuery, byte for byte as this gateway sends it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def check_answer(gateway: Gateway, query: str, expected: dict[str, Any], token: str | None = None) -> bytes:
    """One answer of the gateway, compared exactly (values and field order) with the expected one; its bytes."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    with client(gateway.port) as c:
        status, body = c.post(gateway.path, request_body(query), headers)
    try:
        actual = json.loads(body)
    except ValueError:
        raise BenchError(f"{gateway.name}: status {status}, not JSON: {body[:300]!r}") from None
    found = differences(expected, actual)
    if status != 200 or found:
        listing = "\n  ".join(found) if found else "(body as expected)"
        raise BenchError(f"{gateway.name} answered {query[:60]!r} wrongly (status {status}):\n  {listing}")
    return body


def start_subgraphs(procs: Processes, port: int, scenario: Scenario) -> None:
    """The scenario's four subgraphs in one Node process on port (paths /accounts /inventory /products /reviews)."""
    process = procs.start(
        "subgraphs",
        ["node", "subgraphs.mjs", "--port", str(port), "--data", str(scenario.data)],
        cwd=NODE_PROJECT, env=os.environ | {"NODE_ENV": "production"},
    )  # fmt: skip
    wait_ready(procs, "subgraphs", process, port, "/healthz")


def demimas_binary() -> Path:
    for candidate in (Path(sys.executable).parent / "demimas-gateway", ROOT / ".venv" / "bin" / "demimas-gateway"):
        if candidate.exists():
            return candidate
    raise BenchError(
        "demimas-gateway is not installed (.venv/bin/demimas-gateway): run `make bench-gateway`, or measure "
        "Apollo Gateway alone with BENCH_GATEWAY_ONLY=apollo"
    )


def start_demimas(
    procs: Processes, supergraph: Path, workers: int, env: Mapping[str, str], name: str = "demimas"
) -> Gateway:
    """`demimas-gateway serve` on a free port with `workers` processes, the environment's settings plus `env`."""
    port = free_port()
    argv = [str(demimas_binary()), "serve", "--supergraph", str(supergraph), "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers)]  # fmt: skip
    process = procs.start(name, argv, cwd=ROOT, env=os.environ | dict(env))
    wait_ready(procs, name, process, port, "/graphql")
    return Gateway("demimas", port, "/graphql")


def start_apollo(procs: Processes, supergraph: Path, workers: int) -> Gateway:
    """Apollo Gateway (bench/node/apollo-gateway.mjs) on a free port with `workers` processes."""
    port = free_port()
    argv = ["node", "apollo-gateway.mjs", "--supergraph", str(supergraph), "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers)]  # fmt: skip
    process = procs.start("apollo", argv, cwd=NODE_PROJECT, env=os.environ | {"NODE_ENV": "production"})
    wait_ready(procs, "apollo", process, port, "/")
    return Gateway("apollo", port, "/")
