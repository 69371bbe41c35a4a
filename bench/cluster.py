"""Local cluster rehearsal (`make cluster-rehearsal`, or `python -m bench.cluster [--quick]`): a benchmark, not a test.

What it starts, all on loopback, under a throw-away folder (see docs/cluster-rehearsal.md):
- three NATS servers clustered (`bench/cluster_nats.py`), the `DEMIMAS` stream at 3 replicas; every client gets the
  three URLs comma-separated and fails over;
- one embedded durable PostgreSQL (the devstack's, through `Stack`), migrated as `demimas stack migrate` does;
- two replicas (processes) of registry, designation, pillars, audit, cases and feeds, two of the gateway and two
  of the portal's pages; a round-robin TCP proxy per service, one for the gateway and one for the portal
  (`bench/cluster_proxy.py`, its own process): the gateways reach each subgraph through its proxy, the load and the
  portals reach the gateways through theirs, the page prober reaches the portals through theirs;
- webhook receivers on loopback (`bench/cluster_receivers.py`, their own process), one per webhook endpoint that
  agencies register through the gateway before the load (FEED_ENDPOINTS: national and regional tokens, types and
  region filters); both feeds replicas run the delivery engine (fan-out and dispatch);
- a steady write load through the gateway proxy (RATE writes/s): workers registered, departed, returned, and then
  a reintegration activity with the returnee as participant (with an idempotency key, the same on its retries, so
  a retry after a lost answer cannot record it twice); for one returnee in CASE_SHARE, also a protection case
  opened about the returnee (with an idempotency key as well);
- a page prober (PortalProbe): signed in through the portal's dev sign-in as KEMENKO_POLKAM, it asks for `/pilots`
  about once a second (PROBE_INTERVAL) on a new connection each time (so the proxy alternates the portal replicas,
  which share DEMIMAS_PORTAL_SESSION_KEY: the one cookie works on both).

The gateways run with the default rate limits (50 requests/s, burst 100, per agency and replica; the load is one
KP2MI token): RATE stays under them even with one gateway replica down and MAX_IN_FLIGHT released at once. A
`--rate` above 40 raises the default explicitly in this harness (`DEMIMAS_GATEWAY_DEFAULT_RATE_LIMIT`), so the
rehearsal measures faults, not the limit.

Fault schedule (PHASE seconds each, x0.4 with --quick or BENCH_SCALE<1): before; kill -9 the NATS node leading the
stream; restart it; kill -9 one replica of every service, of the gateway and of the portal; restart them. Then the
load stops, the consumers drain, and every write is checked against every consumer (docs/cluster-rehearsal.md says
how); every event of the stream an endpoint may receive (`demimas_feeds.visibility.project`) must have reached its
receiver, signed, at least once, in order, and nothing else. The `verdict` (VERDICT_CHECKS) adds the pages: every
probe of a phase with every process up answered the pilots table, and with a portal replica down at least
PORTAL_DOWN_SHARE did.
Figures to bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import heapq
import hmac
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from bench.cluster_nats import NatsCluster, NatsNode
from bench.harness import RESULTS, now, percentile, scale, stop, write_results
from bench.portal import seed_pilots
from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import asyncpg_dsn, with_user
from demimas_common.devstack.lifetime import die_with_parent
from demimas_common.devstack.ports import free_port
from demimas_common.devstack.supervisor import SUPERGRAPH, Stack
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
from demimas_common.service import ServiceSpec, discover_services
from demimas_feeds.adapters.stream_reader import StreamReader
from demimas_feeds.service_layer.fanout import FANOUT_LOCK
from demimas_feeds.visibility import Audience, matches_types, project
from demimas_registry.adapters.villages import iter_villages, load_villages

SERVICES = ("registry", "designation", "pillars", "audit", "cases", "feeds")
REPLICAS = 2
RATE = 25.0  # writes per second, offered whatever the answers (open loop), at most MAX_IN_FLIGHT at once
MAX_IN_FLIGHT = 64
PHASE = 45.0
VILLAGES = 12
MAX_ATTEMPTS = 3
REQUEST_TIMEOUT = 15.0
DRAIN_TIMEOUT = 180.0
CASE_SHARE = 0.2  # of the returnees, those about whom a case is opened (after their reintegration activity)
CONSUMERS = {
    "designation": ["village-stats", "case-stats"],
    "pillars": ["people", "designations", "case-counts"],
    "cases": ["cases-people"],
    "feeds": ["feeds-fanout"],
}
# The consumers of the registry's worker events, by schema: each such event must be in each one's inbox.
WORKER_CONSUMERS = (("designation", "village-stats"), ("pillars", "people"), ("cases", "cases-people"))
# Webhook endpoints registered through the gateway before the load, each with its own receiver:
# name -> (agency, the token's region, event types, region filter (VILLAGE: the first load village), the share of
# webhook-ids its receiver answers 503 the first time it sees them).
VILLAGE = "<first village>"
FEED_ENDPOINTS: dict[str, tuple[str, str | None, list[str], str | None, float]] = {
    "kp2mi-all": ("KP2MI", None, ["*"], None, 0.0),
    "kp2mi-village": (
        "KP2MI",
        None,
        ["demimas.registry.worker.*", "demimas.pillars.*", "demimas.cases.*"],
        VILLAGE,
        0.05,
    ),
    "bp3mi-16.06": ("BP3MI", "16.06", ["demimas.registry.*", "demimas.cases.*"], None, 0.0),
    "disnaker-16.07": ("DISNAKER", "16.07", ["demimas.registry.worker.*", "demimas.cases.*"], None, 0.0),
}
FEEDS_ENV = {
    "DEMIMAS_WEBHOOK_WORKERS": "true",
    "DEMIMAS_ENVIRONMENT": "development",  # loopback receivers are allowed in development only
    "DEMIMAS_FEEDS_BACKOFF_SCALE": "0.1",  # the first retry after 0.5 s, not 5 s: a 503 holds its queue that long
}
CREATE_ENDPOINT = """mutation W($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) {
  secret endpoint { id } } }"""
PHASES = ["before", "nats_node_down", "nats_node_restarted", "replicas_down", "replicas_restarted"]
# The portal's pages: two replicas behind their proxy, signed in as the coordinator, probed once a second.
PORTAL_ENV = {
    "DEMIMAS_ENVIRONMENT": "test",  # the dev sign-in (tokens minted with the rehearsal's dev keys)
    "DEMIMAS_PORTAL_SESSION_KEY": "cluster-rehearsal-portal-session-key-" + uuid.uuid4().hex,  # one key, both replicas
}
PORTAL_AGENCY = "KEMENKO_POLKAM"
PORTAL_PILOTS = 3  # pilots the coordinator creates before the load, so that /pilots has a table to show
PROBE_INTERVAL = 1.0
PROBE_TIMEOUT = 20.0  # above the portal's own wait for the gateway (15 s): the portal answers first, with its 502
# Phases in which every process is up (no fault in effect): every page probed then must be the pilots table.
FAULTLESS_PHASES = ("before", "nats_node_restarted")
# With portal-1 (and a replica of everything else) killed: this share of the pages at least must be the table.
PORTAL_DOWN_SHARE = 0.9

REGISTER = "mutation R($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }"
DEPART = "mutation D($id: ID!, $in: DepartureInput!) { recordDeparture(workerId: $id, input: $in) { id } }"
RETURN = "mutation B($id: ID!, $in: ReturnInput!) { recordReturn(workerId: $id, input: $in) { id } }"
ACTIVITY = "mutation A($in: ActivityInput!) { recordActivity(input: $in) { id } }"
OPEN_CASE = "mutation C($in: OpenCaseInput!, $key: String) { openCase(input: $in, idempotencyKey: $key) { id } }"
# A write naming a person that a projection has not learnt yet is refused with these words: a client waits and
# asks again (pillars' `people` for an activity's participant, cases' `cases-people` for a case's person).
PROJECTION_LAG = {"activity": "not registered", "case": "is known to the cases service"}
VERIFY = """{ verifyAuditChain { ok checked headSequence problems { sequence kind detail }
  gaps { fromStreamSequence toStreamSequence } } }"""
# Answers that leave the outcome unknown (the write may have committed): retried, and a retry's CONFLICT then
# means the first attempt had applied it.
RETRYABLE = {
    "TRANSPORT", "TIMEOUT", "HTTP_5XX", "NO_DATA", "INTERNAL_SERVER_ERROR",
    "SUBREQUEST_HTTP_ERROR", "SUBREQUEST_TIMEOUT", "SUBREQUEST_MALFORMED_RESPONSE", "SUBREQUEST_CIRCUIT_OPEN",
}  # fmt: skip


# -- processes --------------------------------------------------------------------------------------------------


@dataclass
class Replica:
    name: str
    service: str
    port: int
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()
            )
        self.starts += 1

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"{self.name} is not running (see {self.log})")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


class Cluster:
    """Everything the rehearsal runs, and its clean-up."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.nats = NatsCluster(work / "nats")
        self.stack: Stack | None = None
        self.replicas: list[Replica] = []
        self.proxy_ports = {name: free_port() for name in (*SERVICES, "gateway", "portal")}
        self.proxy: subprocess.Popen[bytes] | None = None
        self.proxy_stats = work / "proxy-stats.json"
        self.receivers: subprocess.Popen[bytes] | None = None
        self.receivers_dir = work / "receivers"
        self.receiver_ports: dict[str, int] = {}
        self.specs: list[ServiceSpec] = [s for s in discover_services() if s.name in SERVICES]
        (work / "logs").mkdir(parents=True, exist_ok=True)

    @property
    def database_url(self) -> str:
        assert self.stack is not None
        return self.stack.database_url

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_ports['gateway']}"

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_ports['portal']}"

    def start(self) -> dict[str, float]:
        timings: dict[str, float] = {}
        started = time.monotonic()
        self.nats.start()
        self.nats.wait_healthy()
        timings["nats_cluster_s"] = round(time.monotonic() - started, 1)
        os.environ |= {
            "DEMIMAS_NATS_URL": self.nats.url,
            "DEMIMAS_STREAM_REPLICAS": "3",
            "DEMIMAS_LOG_LEVEL": "WARNING",
            "DEMIMAS_POOL_SIZE": "5",
            "DEMIMAS_AUDIT_SIGNING_KEY": str(self.work / "keys" / "audit-signing.pem"),
            "DEMIMAS_GATEWAY_URL": f"{self.gateway_url}/graphql",
        }
        os.environ.pop("DEMIMAS_DATABASE_URL", None)
        started = time.monotonic()
        self.stack = Stack(root=self.work)  # the NATS URL is set: it starts PostgreSQL only
        self.stack.start_servers()
        self.stack.write_env()
        asyncio.run(self._prepare())
        timings["postgres_and_migrations_s"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        for spec in self.specs:
            env = os.environ | {"DEMIMAS_DATABASE_URL": with_user(self.database_url, runtime_role(spec.name))}
            if spec.name == "feeds":
                env |= FEEDS_ENV
            for i in range(REPLICAS):
                port = free_port()
                args = [sys.executable, "-m", "uvicorn", "--factory", spec.app_factory, "--host", "127.0.0.1",
                        "--port", str(port), "--no-access-log"]  # fmt: skip
                self.replicas.append(Replica(f"{spec.name}-{i + 1}", spec.name, port, args, dict(env),
                                             self.work / "logs" / f"{spec.name}-{i + 1}.log"))  # fmt: skip
        urls = {name: f"http://127.0.0.1:{self.proxy_ports[name]}/graphql" for name in SERVICES}
        env = os.environ | {"DEMIMAS_GATEWAY_SUBGRAPH_URLS": json.dumps(urls)}
        for i in range(REPLICAS):
            port = free_port()
            args = [sys.executable, "-m", "demimas_gateway", "serve", "--supergraph", str(SUPERGRAPH.resolve()),
                    "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
            self.replicas.append(Replica(f"gateway-{i + 1}", "gateway", port, args, dict(env),
                                         self.work / "logs" / f"gateway-{i + 1}.log"))  # fmt: skip
        # the portal as `make run` starts a page-only service: uvicorn, no way to the database; the NATS cluster for
        # its revoked sessions (every replica watches them; a node down is failed over like the services do)
        portal = next(s for s in discover_services() if s.name == "portal")
        env = {k: v for k, v in os.environ.items() if k != "DEMIMAS_DATABASE_URL"}
        if portal.nats:
            env["DEMIMAS_NATS_URL"] = self.nats.url
        env |= PORTAL_ENV | {"DEMIMAS_PORTAL_GATEWAY_URL": f"{self.gateway_url}/graphql"}
        for i in range(REPLICAS):
            port = free_port()
            args = [sys.executable, "-m", "uvicorn", "--factory", portal.app_factory, "--host", "127.0.0.1",
                    "--port", str(port), "--no-access-log"]  # fmt: skip
            self.replicas.append(Replica(f"portal-{i + 1}", "portal", port, args, dict(env),
                                         self.work / "logs" / f"portal-{i + 1}.log"))  # fmt: skip
        self._write_proxy_config()
        self.start_proxy()
        self.start_receivers()
        # feeds-1 first, so that it takes the fan-out lock (and wakes first for most endpoints' leases): the replica
        # the faults kill is then the one that fans out, and the other must take over
        first = [r for r in self.replicas if r.name == "feeds-1"]
        for replica in first:
            replica.start()
        self.wait_ready(first)
        services = [r for r in self.replicas if r.service not in ("gateway", "portal") and r not in first]
        for replica in services:
            replica.start()
        self.wait_ready(services)
        for tier in ("gateway", "portal"):  # the portal's /readyz asks the gateway (behind_gateway)
            replicas = [r for r in self.replicas if r.service == tier]
            for replica in replicas:
                replica.start()
            self.wait_ready(replicas)
        timings["replicas_ready_s"] = round(time.monotonic() - started, 1)
        return timings

    async def _prepare(self) -> None:
        assert self.stack is not None
        deadline = time.monotonic() + 60
        while True:  # the meta group may still be electing its leader
            try:
                await self.stack.prepare(self.specs, demo=False)
                break
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise
                print(f"  stream not created yet ({type(exc).__name__}: {exc}); retrying", file=sys.stderr)
                await asyncio.sleep(1.0)
        engine = create_engine(with_user(self.database_url, runtime_role("registry")), pool_size=1)
        async with engine.begin() as conn:
            await load_villages(conn)
        await engine.dispose()

    def _write_proxy_config(self) -> None:
        config = {
            name: {"listen": port, "backends": [r.port for r in self.replicas if r.service == name]}
            for name, port in self.proxy_ports.items()
        }
        (self.work / "proxy.json").write_bytes(orjson.dumps(config))

    def start_proxy(self) -> None:
        args = [sys.executable, "-m", "bench.cluster_proxy", str(self.work / "proxy.json"), str(self.proxy_stats)]
        self.proxy = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=(self.work / "logs" / "proxy.log").open("ab"),
            preexec_fn=die_with_parent(),
        )  # fmt: skip
        assert self.proxy.stdout is not None
        if self.proxy.stdout.readline().strip() != b"ready":
            raise RuntimeError("the proxy did not start (see logs/proxy.log)")

    def start_receivers(self) -> None:
        self.receivers_dir.mkdir(parents=True, exist_ok=True)
        config = {name: {"fail_share": spec[4]} for name, spec in FEED_ENDPOINTS.items()}
        (self.work / "receivers.json").write_bytes(orjson.dumps(config))
        args = [sys.executable, "-m", "bench.cluster_receivers", str(self.work / "receivers.json"),
                str(self.receivers_dir)]  # fmt: skip
        self.receivers = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=(self.work / "logs" / "receivers.log").open("ab"),
            preexec_fn=die_with_parent(),
        )  # fmt: skip
        assert self.receivers.stdout is not None
        line = self.receivers.stdout.readline().strip()
        if not line.startswith(b"ready "):
            raise RuntimeError("the webhook receivers did not start (see logs/receivers.log)")
        self.receiver_ports = orjson.loads(line[len(b"ready ") :])

    def stop_receivers(self) -> dict[str, Any]:
        """Stop the receivers (they flush their records and write their stats) and return the stats."""
        if self.receivers is not None and self.receivers.poll() is None and stop(self.receivers):
            with contextlib.suppress(OSError, orjson.JSONDecodeError):
                stats: dict[str, Any] = orjson.loads((self.receivers_dir / "stats.json").read_bytes())["receivers"]
                return stats
        return {}

    def wait_ready(self, replicas: list[Replica], timeout: float = 120.0) -> float:
        started = time.monotonic()
        for replica in replicas:
            while not replica.ready():
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"{replica.name} not ready after {timeout:.0f} s (see {replica.log})")
                time.sleep(0.2)
        return time.monotonic() - started

    def stop(self) -> dict[str, Any]:
        for replica in self.replicas:
            replica.stop()
        for replica in self.replicas:  # all told to stop first, so that they stop side by side
            if replica.process is not None:
                stop(replica.process, grace=15)
        self.stop_receivers()
        stats: dict[str, Any] = {}
        if self.proxy is not None and self.proxy.poll() is None and stop(self.proxy):
            with contextlib.suppress(OSError, orjson.JSONDecodeError):
                stats = orjson.loads(self.proxy_stats.read_bytes())
        self.nats.stop()
        if self.stack is not None:
            self.stack.stop()
        return stats


# -- the load ---------------------------------------------------------------------------------------------------


@dataclass
class Write:
    kind: str
    key: str
    """The worker's NIK (register), the worker's id (departure, return) or the activity's or case's unique title
    (a case's is its description)."""
    phase: str
    started: float
    attempts: int = 0
    outcome: str = "pending"
    """ok, applied_before_retry (a retry's CONFLICT shows an earlier attempt had committed), failed."""
    latency_ms: float | None = None
    errors: list[str] = field(default_factory=list)
    error_phases: list[str] = field(default_factory=list)
    """The phase each error happened in (a write started before a fault may fail in it)."""
    error_at: list[float] = field(default_factory=list)
    ident: str | None = None
    lag_retries: int = 0

    @property
    def acked(self) -> bool:
        return self.outcome == "ok"


class Load:
    def __init__(self, client: httpx.AsyncClient, token: str, villages: list[str], rate: float) -> None:
        self.client = client
        self.token = token
        self.villages = villages
        self.rate = rate
        self.rng = random.Random(2026)
        self.phase_walls: list[tuple[str, float]] = []
        """Each phase with the wall-clock time it began (the webhooks' delivery lag is counted by phase)."""
        self.phase = PHASES[0]
        self.writes: list[Write] = []
        self.saturated_ticks = 0
        self._ready: list[tuple[float, int, Callable[[], Coroutine[Any, Any, None]]]] = []
        self._seq = itertools.count()
        self._nik = itertools.count(1)
        self._titles = itertools.count(1)
        self._cases = itertools.count(1)
        self._village_of: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.today = dt.date.today()

    @property
    def phase(self) -> str:
        return self.phase_walls[-1][0]

    @phase.setter
    def phase(self, phase: str) -> None:
        self.phase_walls.append((phase, time.time()))

    # one GraphQL call: None when it answered data without errors, else an error code and message
    async def _call(self, query: str, variables: dict[str, Any]) -> tuple[str | None, str, Any]:
        try:
            response = await self.client.post(
                "/graphql",
                content=orjson.dumps({"query": query, "variables": variables}),
                headers={"content-type": "application/json", "authorization": f"Bearer {self.token}"},
                timeout=REQUEST_TIMEOUT,
            )
        except httpx.TimeoutException as exc:
            return "TIMEOUT", type(exc).__name__, None
        except httpx.TransportError as exc:
            return "TRANSPORT", type(exc).__name__, None
        if response.status_code >= 500:
            return "HTTP_5XX", f"HTTP {response.status_code}", None
        try:
            body = response.json()
        except ValueError:
            return "HTTP_5XX", f"HTTP {response.status_code}: not JSON", None
        errors = body.get("errors")
        data = body.get("data")
        if errors:
            code = str((errors[0].get("extensions") or {}).get("code") or "ERROR")
            return code, str(errors[0].get("message", ""))[:300], data
        if not data or not any(data.values()):
            return "NO_DATA", str(body)[:300], data
        return None, "", data

    async def _write(self, kind: str, key: str, query: str, variables: dict[str, Any]) -> Write:
        write = Write(kind, key, self.phase, time.monotonic())
        self.writes.append(write)
        ambiguous = False
        while True:
            write.attempts += 1
            code, message, data = await self._call(query, variables)
            if code is None:
                write.outcome = "ok"
                write.latency_ms = (time.monotonic() - write.started) * 1000
                write.ident = str(next(iter(data.values()))["id"])
                return write
            write.errors.append(code)
            write.error_phases.append(self.phase)
            write.error_at.append(time.monotonic())
            if code in RETRYABLE:
                ambiguous = True
                if write.attempts < MAX_ATTEMPTS:
                    await asyncio.sleep(0.5 * write.attempts)
                    continue
            elif code == "CONFLICT" and ambiguous:
                write.outcome = "applied_before_retry"
                return write
            elif (
                kind in PROJECTION_LAG
                and code == "BAD_USER_INPUT"
                and PROJECTION_LAG[kind] in message
                and write.lag_retries < 20
            ):  # the projection has not seen the worker yet: a client waits and asks again
                write.lag_retries += 1
                write.errors.pop()
                write.error_phases.pop()
                write.error_at.pop()
                write.attempts -= 1
                await asyncio.sleep(1.0)
                continue
            write.outcome = "failed"
            write.errors[-1] = f"{code}: {message}"[:200] if code not in RETRYABLE else code
            return write

    def _later(self, delay: float, step: Callable[[], Coroutine[Any, Any, None]]) -> None:
        heapq.heappush(self._ready, (time.monotonic() + delay, next(self._seq), step))

    async def _register(self) -> None:
        n = next(self._nik)
        day, serial = 1 + (n // 9999) % 28, 1 + n % 9999
        nik = f"160613{day + 40:02d}0394{serial:04d}"  # a woman born 1994-03-<day>, region 16.06.13
        village = self.rng.choice(self.villages)
        data = {"nik": nik, "fullName": "Siti Aminah", "sex": "FEMALE", "birthDate": f"1994-03-{day:02d}",
                "educationLevel": "SMK", "villageCode": village}  # fmt: skip
        write = await self._write("register", nik, REGISTER, {"in": data})
        if write.acked and write.ident:
            wid = write.ident
            self._village_of[wid] = village
            self._later(self.rng.uniform(1, 4), lambda: self._depart(wid))

    async def _depart(self, wid: str) -> None:
        departure = {"destinationCountry": self.rng.choice(["MY", "HK", "TW", "SA"]), "sector": "INFORMAL",
                     "occupation": "caregiver", "scheme": self.rng.choice(["P_TO_P", "G_TO_G"]),
                     "procedural": self.rng.random() < 0.8, "departureDate": "2024-02-01",
                     "expectedVersion": 1}  # fmt: skip
        write = await self._write("departure", wid, DEPART, {"id": wid, "in": departure})
        if write.acked or write.outcome == "applied_before_retry":
            self._later(self.rng.uniform(1, 4), lambda: self._return(wid))

    async def _return(self, wid: str) -> None:
        back = {"returnDate": (self.today - dt.timedelta(days=20)).isoformat(), "reason": "CONTRACT_ENDED",
                "expectedVersion": 2}  # fmt: skip
        write = await self._write("return", wid, RETURN, {"id": wid, "in": back})
        if write.acked or write.outcome == "applied_before_retry":
            self._later(self.rng.uniform(1, 3), lambda: self._activity(wid))
            if self.rng.random() < CASE_SHARE:
                self._later(self.rng.uniform(2, 5), lambda: self._case(wid))

    async def _activity(self, wid: str) -> None:
        title = f"Pendampingan usaha purna PMI #{next(self._titles)}"
        village = self.rng.choice(self.villages)
        activity = {"villageCode": village, "pillar": "REINTEGRATION", "title": title,
                    "occurredOn": (self.today - dt.timedelta(days=3)).isoformat(),
                    "participants": {"workerIds": [wid], "anonymous": [{"sex": "MALE", "group": "RETURNEE",
                                                                        "count": 4}]},
                    "outputs": [{"kind": "RETURNEES_REINTEGRATED", "value": 1}],
                    "idempotencyKey": f"cluster-{uuid.uuid4()}"}  # fmt: skip
        # one key for every attempt of this activity: a retry after a lost answer returns the recorded one
        await self._write("activity", title, ACTIVITY, {"in": activity})

    async def _case(self, wid: str) -> None:
        description = f"Rehearsal: upah tidak dibayar penuh sebelum pulang #{next(self._cases)}"
        case = {"villageCode": self._village_of[wid], "kind": "COMPLAINT", "phase": "AFTER_RETURN",
                "channel": "VILLAGE_TASK_FORCE", "description": description, "reporter": {"anonymous": True},
                "people": [{"role": "WORKER", "id": wid}], "destinationCountry": "MY"}  # fmt: skip
        # one key for every attempt, as for the activity; it needs cases' `cases-people` projection to know the worker
        await self._write("case", description, OPEN_CASE, {"in": case, "key": f"cluster-{uuid.uuid4()}"})

    async def run(self, stop: asyncio.Event) -> None:
        interval, next_at = 1.0 / self.rate, time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if next_at > now:
                await asyncio.sleep(next_at - now)
            next_at += interval
            if len(self._tasks) >= MAX_IN_FLIGHT:
                self.saturated_ticks += 1
                continue
            step = heapq.heappop(self._ready)[2] if self._ready and self._ready[0][0] <= now else self._register
            task = asyncio.create_task(step())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


# -- the pages --------------------------------------------------------------------------------------------------


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not match:
        raise RuntimeError(f"no CSRF token on the portal's sign-in page: {html[:300]}")
    return match.group(1)


class PortalProbe:
    """A person on the portal's pages during the load: signed in once (the dev sign-in's form, its CSRF token, the
    session cookie), then `/pilots` every PROBE_INTERVAL seconds, each on a new connection (the proxy alternates the
    replicas; the one cookie must work on both). Open loop: a slow page does not delay the next probe."""

    def __init__(self, url: str, load: Load) -> None:
        self.url = url
        self.load = load  # its phase: the probes are counted by the phase they started in
        self.client = httpx.AsyncClient(base_url=url, timeout=PROBE_TIMEOUT, limits=httpx.Limits(
            max_keepalive_connections=0))  # fmt: skip
        self.probes: list[tuple[str, str, float]] = []
        """(phase, outcome, ms): outcome `table` (200 with the pilots table), `error_page` (502 or 503, the portal's
        error page), `problems_page` (200, no rows: the gateway's errors listed), `empty` (200, "no pilots"),
        `signed_out` (a redirect to /signin: the cookie did not work there), `transport` (no answer:
        refused, reset, timed out), or `http_<status>`."""
        self._tasks: set[asyncio.Task[None]] = set()

    async def sign_in(self) -> None:
        form = await self.client.get("/signin")
        done = await self.client.post("/signin", data={"agency": PORTAL_AGENCY, "region": "",
                                                       "csrf_token": _csrf(form.text)})  # fmt: skip
        if done.status_code != 303 or "/signin" in done.headers.get("location", "/signin"):
            raise RuntimeError(f"portal sign-in as {PORTAL_AGENCY} failed ({done.status_code}): {done.text[:300]}")

    async def _probe(self) -> None:
        phase, started = self.load.phase, time.monotonic()
        try:
            response = await self.client.get("/pilots")
        except httpx.HTTPError:
            outcome = "transport"
        else:
            if response.status_code == 200 and 'data-testid="pilots-table"' in response.text:
                outcome = "table"
            elif response.status_code == 200 and 'data-testid="page-problems"' in response.text:
                outcome = "problems_page"  # the gateway answered errors, no rows: the page says the list failed
            elif response.status_code == 200 and 'data-testid="pilots-empty"' in response.text:
                outcome = "empty"
            elif response.status_code in (502, 503):
                outcome = "error_page"
            elif response.status_code in (302, 303) and "/signin" in response.headers.get("location", ""):
                outcome = "signed_out"
            else:
                outcome = f"http_{response.status_code}"
        self.probes.append((phase, outcome, (time.monotonic() - started) * 1000))

    async def run(self, stop: asyncio.Event) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            task = asyncio.create_task(self._probe())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            next_at += PROBE_INTERVAL
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()

    def figures(self) -> dict[str, Any]:
        """Per phase: probes, outcomes, p50/p95 of the tables' time; and the two page checks of the verdict."""
        phases: dict[str, dict[str, Any]] = {}
        for phase in PHASES:
            mine = [(o, ms) for p, o, ms in self.probes if p == phase]
            tables = [ms for o, ms in mine if o == "table"]
            outcomes = Counter(o for o, _ in mine)
            phases[phase] = {
                "probes": len(mine),
                "table": len(tables),
                "error_page": outcomes["error_page"],
                "other": {o: n for o, n in outcomes.items() if o not in ("table", "error_page")},
                "p50_ms": _p(tables, 50),
                "p95_ms": _p(tables, 95),
                "all_ms_p95": _p([ms for _, ms in mine], 95),
            }
        down = phases["replicas_down"]
        return {
            "replicas": REPLICAS,
            "agency": PORTAL_AGENCY,
            "probe_interval_s": PROBE_INTERVAL,
            "phases": phases,
            "faultless_phases": list(FAULTLESS_PHASES),
            # every probe of a phase with every process up was the pilots table (and there were some)
            "portal_faultless_pages_ok": all(
                phases[p]["probes"] > 0 and phases[p]["table"] == phases[p]["probes"] for p in FAULTLESS_PHASES
            ),
            "portal_one_replica_down_share": round(down["table"] / down["probes"], 3) if down["probes"] else None,
            "portal_one_replica_down_ok": down["probes"] > 0 and down["table"] >= PORTAL_DOWN_SHARE * down["probes"],
        }


# -- the faults -------------------------------------------------------------------------------------------------


async def _stream_leader(nats_url: str) -> str | None:
    with contextlib.suppress(Exception):
        nc = await connect(nats_url, name="bench-cluster-probe", reconnect=False)
        try:
            info = await nc.jetstream().stream_info(STREAM)
            return info.cluster.leader if info.cluster else None
        finally:
            await nc.close()
    return None


async def _fanout_holder(admin: str) -> int | None:
    """The PostgreSQL backend holding the feeds fan-out lock (a session advisory lock on a bigint key), if any."""
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(asyncpg_dsn(admin))
        try:
            pid = await conn.fetchval(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND classid = $1::bigint::oid AND objid = $2::bigint::oid",
                FANOUT_LOCK >> 32,
                FANOUT_LOCK & 0xFFFFFFFF,
            )
            return None if pid is None else int(pid)
        finally:
            await conn.close()
    return None


async def _schedule(cluster: Cluster, load: Load, phase_seconds: float, events: list[dict[str, Any]]) -> None:
    loop_start = time.monotonic()

    def note(what: str, **extra: Any) -> None:
        events.append({"at_s": round(time.monotonic() - loop_start, 1), "event": what, **extra})
        print(f"[{events[-1]['at_s']:>6.1f} s] {what} {extra if extra else ''}", file=sys.stderr, flush=True)

    note("load started", rate=load.rate)
    await asyncio.sleep(phase_seconds)
    leader = await _stream_leader(cluster.nats.url) or cluster.nats.nodes[0].name
    victim: NatsNode = cluster.nats.node(leader)
    load.phase = "nats_node_down"
    victim.kill()
    note("NATS node killed (-9)", node=victim.name, was_stream_leader=True)
    await asyncio.sleep(phase_seconds / 3)
    note("stream leader after the kill", leader=await _stream_leader(cluster.nats.url))
    await asyncio.sleep(phase_seconds * 2 / 3)
    load.phase = "nats_node_restarted"
    victim.start()
    took = await asyncio.to_thread(cluster.nats.wait_healthy, 120.0, [victim])
    note("NATS node restarted", node=victim.name, healthy_after_s=round(took, 1))
    await asyncio.sleep(max(0.0, phase_seconds - took))
    load.phase = "replicas_down"
    killed = [r for r in cluster.replicas if r.name.endswith("-1")]
    holder = await _fanout_holder(cluster.database_url)
    for replica in killed:
        replica.kill()
    note("replicas killed (-9)", replicas=[r.name for r in killed])
    await asyncio.sleep(phase_seconds)
    after = await _fanout_holder(cluster.database_url)
    # feeds-1 started first and took the fan-out lock: the lock moved if the killed replica held it
    note("feeds fan-out lock", holder_pid_before_kill=holder, holder_pid_before_restart=after,
         killed_replica_held_it=holder is not None and after is not None and holder != after)  # fmt: skip
    load.phase = "replicas_restarted"
    restarted = time.monotonic()
    for replica in killed:
        replica.start()
    for tier in (SERVICES, ("gateway",), ("portal",)):  # each tier once the one it calls is ready
        await asyncio.to_thread(cluster.wait_ready, [r for r in killed if r.service in tier])
    note("replicas restarted and ready", ready_after_s=round(time.monotonic() - restarted, 1))
    await asyncio.sleep(max(0.0, phase_seconds - (time.monotonic() - restarted)))
    note("load stopped")


# -- drain and verification -------------------------------------------------------------------------------------


async def _drained(conn: asyncpg.Connection, nats_url: str) -> dict[str, int]:
    """What is still in flight: unpublished outbox rows, events the audit has not chained, consumers' pending."""
    left: dict[str, int] = {}
    for schema in ("registry", "designation", "pillars", "cases", "feeds"):
        left[f"{schema}_outbox"] = int(
            await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
        )
    nc = await connect(nats_url, name="bench-cluster-drain", reconnect=False)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(STREAM)).state.last_seq
        chained = int(await conn.fetchval("SELECT stream_seq FROM audit.head WHERE id = 1") or 0)
        left["audit"] = max(0, last - chained)
        left["feeds_pending_deliveries"] = int(
            await conn.fetchval("SELECT count(*) FROM feeds.deliveries WHERE status = 'PENDING'")
        )
        for durables in CONSUMERS.values():
            for durable in durables:
                info = await js.consumer_info(STREAM, durable)
                left[durable] = info.num_pending + info.num_ack_pending
    finally:
        await nc.close()
    return left


async def _drain(admin: str, nats_url: str) -> tuple[float, dict[str, int]]:
    started = time.monotonic()
    conn = await asyncpg.connect(asyncpg_dsn(admin))
    left: dict[str, int] = {}
    try:
        while time.monotonic() - started < DRAIN_TIMEOUT:
            try:
                left = await _drained(conn, nats_url)
            except Exception as exc:
                left = {"error": 1}
                print(f"  drain probe: {type(exc).__name__}: {exc}", file=sys.stderr)
            if not any(left.values()):
                break
            await asyncio.sleep(1.0)
    finally:
        await conn.close()
    return time.monotonic() - started, left


async def _verify(admin: str, writes: list[Write]) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        niks = [w.key for w in writes if w.kind == "register"]
        workers = {
            str(r["id"]): r
            for r in await conn.fetch(
                "SELECT id, nik, village_code, status, version FROM registry.workers WHERE nik = ANY($1::text[])", niks
            )
        }
        by_nik = {r["nik"]: wid for wid, r in workers.items()}
        events: dict[tuple[str, str], list[str]] = {}  # (subject, type) -> event ids (outbox, every service)
        unpublished = 0
        for schema in ("registry", "pillars", "cases"):
            for r in await conn.fetch(f"SELECT id, type, subject, published_at FROM {schema}.outbox"):
                events.setdefault((r["subject"], r["type"]), []).append(str(r["id"]))
                unpublished += r["published_at"] is None
        audited = {str(r[0]) for r in await conn.fetch("SELECT event_id FROM audit.records")}
        inboxes = {
            durable: {str(r[0]) for r in await conn.fetch(
                f"SELECT event_id FROM {schema}.inbox WHERE consumer = $1", durable)}
            for schema, durable in WORKER_CONSUMERS
        }  # fmt: skip
        states = {str(r["worker_id"]): r for r in await conn.fetch(
            "SELECT worker_id, village_code, status, version FROM designation.worker_states")}  # fmt: skip
        people = {str(r["person_id"]): r for r in await conn.fetch(
            "SELECT person_id, village_code, status, version FROM pillars.people "
            "WHERE person_kind = 'WORKER'")}  # fmt: skip
        case_people = {str(r["person_id"]): r for r in await conn.fetch(
            "SELECT person_id, village_code, version FROM cases.people WHERE person_kind = 'WORKER'")}  # fmt: skip
        descriptions = {r["description"]: r["n"] for r in await conn.fetch(
            "SELECT description, count(*) AS n FROM cases.case_content GROUP BY description")}  # fmt: skip
        case_ids = {str(r[0]) for r in await conn.fetch("SELECT id FROM cases.cases")}
        activities = {r["title"]: r["n"] for r in await conn.fetch(
            "SELECT title, count(*) AS n FROM pillars.activities GROUP BY title")}  # fmt: skip
        activity_ids = {str(r[0]) for r in await conn.fetch("SELECT id FROM pillars.activities")}

        kinds = {"register": "registered", "departure": "departed", "return": "returned"}
        worker_consumers = ["audit", *(durable for _, durable in WORKER_CONSUMERS)]
        lost: list[dict[str, Any]] = []
        checked = 0
        for write in writes:
            if write.outcome not in ("ok", "applied_before_retry"):
                continue
            if write.kind in ("activity", "case"):
                subject = write.ident if write.acked else None
                if subject is None or subject not in (activity_ids if write.kind == "activity" else case_ids):
                    if write.acked:
                        lost.append({"write": write.kind, "key": write.key, "missing": f"the {write.kind} itself"})
                    continue
                etype = "demimas.pillars.activity.recorded" if write.kind == "activity" else "demimas.cases.case.opened"
                wanted = [(etype, ["audit"])]
            else:
                subject = by_nik.get(write.key) if write.kind == "register" else write.key
                if subject is None or subject not in workers:
                    lost.append({"write": write.kind, "key": write.key, "missing": "the worker itself"})
                    continue
                wanted = [(f"demimas.registry.worker.{kinds[write.kind]}", worker_consumers)]
            for etype, consumers in wanted:
                checked += 1
                ids = events.get((subject, etype), [])
                if not ids:
                    lost.append({"write": write.kind, "key": write.key, "missing": f"{etype} in the outbox"})
                    continue
                for event_id in ids:
                    for consumer in consumers:
                        seen = audited if consumer == "audit" else inboxes[consumer]
                        if event_id not in seen:
                            lost.append({"write": write.kind, "key": write.key, "event": event_id, "missing": consumer})

        # projections against the registry's own rows (every worker the bench created, acked or not)
        def off(
            projection: dict[str, Any], wid: str, row: Any, fields: tuple[str, ...] = ("version", "status")
        ) -> bool:
            mine = projection.get(wid)
            return mine is None or [mine[f] for f in fields] != [row[f] for f in fields]

        stale_states = [w for w, r in workers.items() if off(states, w, r)]
        stale_people = [w for w, r in workers.items() if off(people, w, r)]
        # cases keeps each worker's village and version (not the status)
        stale_case_people = [w for w, r in workers.items() if off(case_people, w, r, ("version", "village_code"))]
        truth: Counter[tuple[str, str]] = Counter()
        for r in await conn.fetch(
            """SELECT w.village_code, w.status, d.procedural FROM registry.workers w
               LEFT JOIN LATERAL (SELECT procedural FROM registry.departures WHERE worker_id = w.id
                                  ORDER BY departure_date DESC, created_at DESC LIMIT 1) d ON true
               WHERE w.nik = ANY($1::text[])""",
            niks,
        ):
            truth[(r["village_code"], f"status:{r['status']}")] += 1
            if r["procedural"] is not None:
                truth[(r["village_code"], "departed")] += 1
                truth[(r["village_code"], "procedural")] += bool(r["procedural"])
        projected = Counter({(r["village_code"], r["counter"]): r["value"] for r in await conn.fetch(
            "SELECT village_code, counter, value FROM designation.village_counts WHERE value <> 0")})  # fmt: skip
        counter_diff = {f"{v} {c}": projected[(v, c)] - truth[(v, c)]
                        for v, c in set(truth) | set(projected) if projected[(v, c)] != truth[(v, c)]}  # fmt: skip
        audit_dupes = int(await conn.fetchval("SELECT count(*) - count(DISTINCT event_id) FROM audit.records"))
        audit_same_change = int(await conn.fetchval(
            """SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM audit.records
               WHERE type LIKE 'demimas.registry.worker.%' GROUP BY type, subject, event->'data'->>'version'
               HAVING count(*) > 1) d"""))  # fmt: skip
        inbox_dupes = {durable: int(await conn.fetchval(
            f"SELECT count(*) - count(DISTINCT event_id) FROM {schema}.inbox WHERE consumer = $1", durable))
            for schema, durable in WORKER_CONSUMERS}  # fmt: skip
        bench_titles = {w.key for w in writes if w.kind == "activity"}
        duplicate_activities = sum(n - 1 for t, n in activities.items() if t in bench_titles and n > 1)
        bench_cases = {w.key for w in writes if w.kind == "case"}
        duplicate_cases = sum(n - 1 for d, n in descriptions.items() if d in bench_cases and n > 1)
        queue_dupes = int(await conn.fetchval(
            "SELECT count(*) - count(DISTINCT worker_id) FROM pillars.reintegration_queue"))  # fmt: skip
        returned = sum(1 for r in workers.values() if r["status"] == "RETURNED")
        queued = int(await conn.fetchval("SELECT count(DISTINCT worker_id) FROM pillars.reintegration_queue"))
        dead = {schema: int(await conn.fetchval(f"SELECT count(*) FROM {schema}.dead_letter"))
                for schema in ("designation", "pillars", "cases")}  # fmt: skip
        gaps = int(await conn.fetchval("SELECT count(*) FROM audit.gaps"))
    finally:
        await conn.close()
    double = {
        "audit_duplicate_event_ids": audit_dupes,
        "audit_same_change_twice": audit_same_change,
        "inbox_duplicates": sum(inbox_dupes.values()),
        "duplicate_activities_from_client_retries": duplicate_activities,
        "duplicate_cases_from_client_retries": duplicate_cases,
        "reintegration_queue_duplicates": queue_dupes,
        "designation_counters_off_registry_truth": sum(abs(d) for d in counter_diff.values()),
        "designation_states_off_registry": len(stale_states),
        "pillars_people_off_registry": len(stale_people),
        "cases_people_off_registry": len(stale_case_people),
    }
    return {
        "lost": lost,
        "events_checked": checked,
        "double": double,
        "counter_diff": counter_diff,
        "workers_created": len(workers),
        "returned_workers": returned,
        "returned_workers_queued": queued,
        "unpublished_outbox_rows": unpublished,
        "dead_letters": dead,
        "audit_gaps": gaps,
    }


# -- webhooks ---------------------------------------------------------------------------------------------------


@dataclass
class FeedEndpoint:
    name: str
    agency: str
    region: str | None
    types: list[str]
    region_prefix: str | None
    id: str = ""
    secret: str = ""


async def _register_endpoints(
    cluster: Cluster, keys: DevKeys, issuer: str, audience: str, villages: list[str]
) -> tuple[list[FeedEndpoint], int]:
    """Each FEED_ENDPOINTS entry registered through the gateway with its agency's own token; then, once the feeds
    outbox is published and the fan-out has caught up, the stream's last sequence: every later event an endpoint may
    see must reach it."""
    endpoints: list[FeedEndpoint] = []
    async with httpx.AsyncClient(base_url=cluster.gateway_url, timeout=30) as client:
        for name, (agency, region, types, prefix, _fail) in FEED_ENDPOINTS.items():
            token = mint_token(keys, issuer=issuer, audience=audience, agency=agency, region=region,
                               ttl=dt.timedelta(hours=2))  # fmt: skip
            endpoint = FeedEndpoint(name, agency, region, types, villages[0] if prefix == VILLAGE else prefix)
            data: dict[str, Any] = {"url": f"http://127.0.0.1:{cluster.receiver_ports[name]}/hook/{name}",
                                    "eventTypes": types, "description": f"cluster rehearsal: {name}"}  # fmt: skip
            if endpoint.region_prefix:
                data["regionPrefix"] = endpoint.region_prefix
            response = await client.post(
                "/graphql", json={"query": CREATE_ENDPOINT, "variables": {"in": data}},
                headers={"authorization": f"Bearer {token}"},
            )  # fmt: skip
            body = response.json()
            created = (body.get("data") or {}).get("createWebhookEndpoint")
            if not created:
                raise RuntimeError(f"webhook endpoint {name} not created: {body.get('errors')}")
            endpoint.id, endpoint.secret = str(created["endpoint"]["id"]), str(created["secret"])
            endpoints.append(endpoint)
    conn = await asyncpg.connect(asyncpg_dsn(cluster.database_url))
    nc = await connect(cluster.nats.url, name="bench-cluster-feeds", reconnect=False)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + 60
        while True:
            unpublished = int(await conn.fetchval("SELECT count(*) FROM feeds.outbox WHERE published_at IS NULL"))
            try:
                info = await js.consumer_info(STREAM, "feeds-fanout")
                behind = info.num_pending + info.num_ack_pending
            except Exception:
                behind = -1  # not created yet
            if unpublished == 0 and behind == 0:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the fan-out did not catch up ({unpublished} unpublished, {behind} behind)")
            await asyncio.sleep(0.5)
        last = int((await js.stream_info(STREAM)).state.last_seq)
    finally:
        await nc.close()
        await conn.close()
    return endpoints, last


def _signature_ok(secret: str, record: dict[str, Any]) -> bool:
    """Standard Webhooks: HMAC-SHA256 of `id.timestamp.body` under the secret's bytes, one of the `v1,` signatures."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{record['id']}.{record['ts']}.".encode() + record["body"].encode()
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(part, expected) for part in str(record.get("sig") or "").split())


def _phase_at(walls: list[tuple[str, float]], at: float) -> str:
    phase = walls[0][0]
    for name, started in walls:
        if started <= at:
            phase = name
    return phase


def _delivered_as(
    event: dict[str, Any], seq: int, audience: Audience, types: list[str], prefix: str | None
) -> dict[str, Any] | None:
    """The body an endpoint must receive for a stream event (None: it may not see it), as the fan-out builds it."""
    if not matches_types(str(event.get("type")), types):
        return None
    projected = project(event, audience, region_prefix=prefix)
    return None if projected is None else projected | {"sequence": str(seq)}


async def _verify_feeds(
    admin: str, nats_url: str, endpoints: list[FeedEndpoint], after_seq: int, receivers: Path,
    walls: list[tuple[str, float]],
) -> dict[str, Any]:  # fmt: skip
    """Per endpoint: the events of the stream after `after_seq` it may receive (its frozen grants, types and region
    filter, through `demimas_feeds.visibility.project`) against what its receiver recorded."""
    reader = StreamReader(nats_url, name="bench-cluster-verify")
    stream: dict[str, tuple[int, dict[str, Any]]] = {}
    messages = 0
    try:
        async for message in reader.read(after=0, max_messages=10**9):
            messages += 1
            event = orjson.loads(message.data)
            stream.setdefault(str(event.get("id")), (message.sequence, event))
        first, last = await reader.bounds()
    finally:
        await reader.close()
    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        rows = {str(r["id"]): r for r in await conn.fetch(
            "SELECT id, agency, event_types, region_prefix, owner_scopes, owner_region "
            "FROM feeds.endpoints")}  # fmt: skip
        queue = {str(r["id"]): (str(r["endpoint_id"]), int(r["seq"]), r["status"]) for r in await conn.fetch(
            "SELECT id, endpoint_id, seq, status FROM feeds.deliveries")}  # fmt: skip
    finally:
        await conn.close()
    per: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        row = rows[endpoint.id]
        audience = Audience(row["agency"], frozenset(row["owner_scopes"]), row["owner_region"])
        types, prefix = list(row["event_types"]), row["region_prefix"]
        visible: dict[str, dict[str, Any]] = {}  # event id -> the body it must be delivered as
        for event_id, (seq, event) in stream.items():
            if seq > after_seq and (body := _delivered_as(event, seq, audience, types, prefix)) is not None:
                visible[event_id] = body
        answered: dict[str, int] = {}  # webhook-id -> the last status answered
        webhook_ids: dict[str, set[str]] = {}  # event id -> webhook-ids
        delivered: dict[str, float] = {}  # event id -> when first answered 2xx
        counts: Counter[str] = Counter()
        top_stream, top_queue = 0, 0
        lags: dict[str, list[float]] = {}
        path = receivers / f"{endpoint.name}.jsonl"
        lines = path.read_bytes().splitlines() if path.exists() else []
        for line in lines:
            record = orjson.loads(line)
            counts["requests"] += 1
            wid = str(record["id"])
            if not _signature_ok(endpoint.secret, record):
                counts["bad_signatures"] += 1
                continue
            if abs(int(record["ts"]) - record["at"]) > 300:
                counts["stale_timestamps"] += 1
            body = orjson.loads(record["body"])
            event_id = str(body.get("id"))
            seq = int(body.get("sequence", 0))
            previous = answered.get(wid)
            answered[wid] = int(record["status"])
            if previous is None:  # a first delivery: in order by stream sequence and by the endpoint's queue
                counts["first_deliveries"] += 1
                counts["out_of_order_vs_stream"] += seq < top_stream
                top_stream = max(top_stream, seq)
                mine = queue.get(wid)
                if mine is None or mine[0] != endpoint.id:
                    counts["webhook_ids_not_in_queue"] += 1
                else:
                    counts["out_of_order_vs_queue"] += mine[1] < top_queue
                    top_queue = max(top_queue, mine[1])
                webhook_ids.setdefault(event_id, set()).add(wid)
            elif 200 <= previous < 300:
                counts["duplicates"] += 1  # sent again after the receiver had taken it: the webhook-id tells
            else:
                counts["retries_after_a_failure_answer"] += 1
            counts["concurrent_arrivals"] += int(record.get("concurrent", 0)) > 0
            known = stream.get(event_id)
            if known is None:
                counts["unknown_events"] += 1
                continue
            if known[0] <= after_seq:
                counts["events_from_before_the_endpoints"] += previous is None
                continue
            wanted = visible.get(event_id)
            if wanted is None:
                counts["unexpected"] += previous is None
                continue
            if body != wanted:
                counts["body_mismatches"] += previous is None
            if 200 <= int(record["status"]) < 300 and event_id not in delivered:
                delivered[event_id] = float(record["at"])
                occurred = dt.datetime.fromisoformat(str(wanted["time"])).timestamp()
                lags.setdefault(_phase_at(walls, occurred), []).append((record["at"] - occurred) * 1000)
        missing = [e for e in visible if e not in delivered]
        statuses = Counter(status for eid, (owner, _s, status) in queue.items() if owner == endpoint.id)
        every_lag = [lag for phase_lags in lags.values() for lag in phase_lags]
        per[endpoint.name] = {
            "agency": endpoint.agency,
            "region": endpoint.region,
            "event_types": types,
            "region_prefix": prefix,
            "expected": len(visible),
            "delivered": len(delivered),
            "missing": len(missing),
            "missing_sample": [
                {"event": e, "sequence": stream[e][0], "type": stream[e][1].get("type")} for e in missing[:10]
            ],
            **{
                k: counts[k]
                for k in (
                    "requests",
                    "first_deliveries",
                    "duplicates",
                    "retries_after_a_failure_answer",
                    "unexpected",
                    "body_mismatches",
                    "bad_signatures",
                    "stale_timestamps",
                    "out_of_order_vs_stream",
                    "out_of_order_vs_queue",
                    "concurrent_arrivals",
                    "webhook_ids_not_in_queue",
                    "unknown_events",
                    "events_from_before_the_endpoints",
                )
            },
            "events_under_two_webhook_ids": sum(len(w) > 1 for w in webhook_ids.values()),
            "queue_by_status": dict(statuses),
            "lag_ms": {
                "p50": _p(every_lag, 50),
                "p95": _p(every_lag, 95),
                "max": round(max(every_lag), 1) if every_lag else None,
            },
            "lag_p95_ms_by_phase": {phase: _p(lags.get(phase, []), 95) for phase in PHASES},
        }
    return {
        "stream": {
            "first_seq": first,
            "last_seq": last,
            "messages_read": messages,
            "distinct_events": len(stream),
            "endpoints_registered_at_seq": after_seq,
        },
        "endpoints": per,
    }


async def _verify_chain(url: str, keys: DevKeys) -> dict[str, Any]:
    from demimas_common.settings import CommonSettings

    settings = CommonSettings()
    token = mint_token(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience, agency=Agency.AUDITOR)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        response = await client.post("/graphql", json={"query": VERIFY}, headers={"authorization": f"Bearer {token}"})
    body = response.json()
    result: dict[str, Any] = (body.get("data") or {}).get("verifyAuditChain") or {"errors": body.get("errors")}
    return result


# -- figures ----------------------------------------------------------------------------------------------------


def _p(samples: list[float], q: int) -> float | None:
    return round(percentile(samples, q), 1) if samples else None


def _phase_figures(writes: list[Write]) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        mine = [w for w in writes if w.phase == phase]
        acked = [w.latency_ms for w in mine if w.acked and w.latency_ms is not None]
        figures[phase] = {
            "writes": len(mine),
            "acked": len(acked),
            "failed": sum(w.outcome == "failed" for w in mine),
            "applied_before_retry": sum(w.outcome == "applied_before_retry" for w in mine),
            "retried": sum(w.attempts > 1 for w in mine),
            "attempt_errors": dict(
                Counter(
                    e.split(":")[0]
                    for w in writes
                    for e, at in zip(w.errors, w.error_phases, strict=True)
                    if at == phase
                )
            ),
            "p50_ms": _p(acked, 50),
            "p95_ms": _p(acked, 95),
            "max_ms": round(max(acked), 1) if acked else None,
        }
    return figures


def _timeline(writes: list[Write], origin: float, bucket: float = 5.0) -> list[dict[str, Any]]:
    """Per `bucket` seconds of the run: writes started, acknowledged, their p50/p95, and attempt errors then."""
    rows: dict[int, dict[str, Any]] = {}
    for w in writes:
        row = rows.setdefault(int((w.started - origin) // bucket), {"started": 0, "latencies": [], "errors": 0})
        row["started"] += 1
        if w.acked and w.latency_ms is not None:
            row["latencies"].append(w.latency_ms)
        for at in w.error_at:
            rows.setdefault(int((at - origin) // bucket), {"started": 0, "latencies": [], "errors": 0})["errors"] += 1
    return [
        {"t_s": i * bucket, "started": r["started"], "acked": len(r["latencies"]), "p50_ms": _p(r["latencies"], 50),
         "p95_ms": _p(r["latencies"], 95), "errors": r["errors"]}
        for i, r in sorted(rows.items())
    ]  # fmt: skip


def _failures(writes: list[Write]) -> list[dict[str, Any]]:
    return [
        {"phase": w.phase, "write": w.kind, "key": w.key, "outcome": w.outcome, "attempts": w.attempts,
         "retried": w.attempts > 1, "errors": w.errors, "error_phases": w.error_phases}
        for w in writes if w.errors
    ]  # fmt: skip


# The rehearsal's verdict: each check names a figure and its goal; `passed` when all hold.
VERDICT_CHECKS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "no_event_lost": lambda f: f["cluster_events_lost"] == 0,
    "no_double_effect": lambda f: f["cluster_double_effects"] == 0,
    "audit_chain_verified": lambda f: f["audit_chain"].get("ok") is True,
    "webhooks_complete_and_only_due": lambda f: f["feeds_events_missing"] == 0 and f["feeds_events_unexpected"] == 0,
    "webhooks_in_order_one_sender": lambda f: f["feeds_out_of_order"] == 0 and f["feeds_concurrent_sends"] == 0,
    "webhooks_signed_as_projected": lambda f: (
        f["feeds_bad_signatures"] == 0
        and f["feeds_body_mismatches"] == 0
        and f["feeds_events_under_two_webhook_ids"] == 0
    ),
    "portal_faultless_pages_ok": lambda f: f["portal"]["portal_faultless_pages_ok"],
    "portal_one_replica_down_ok": lambda f: f["portal"]["portal_one_replica_down_ok"],
}


def _verdict(figures: dict[str, Any]) -> dict[str, Any]:
    checks = {name: bool(check(figures)) for name, check in VERDICT_CHECKS.items()}
    return {"passed": all(checks.values()), "checks": checks}


def main(argv: list[str] | None = None) -> int:
    try:
        return _rehearse(argv)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the `finally` of _rehearse has stopped every process
        print("interrupted: every process stopped; no figures written", file=sys.stderr)
        return 130


def _rehearse(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="phases of 0.4 x PHASE seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, data)")
    parser.add_argument("--rate", type=float, default=RATE, help=f"writes per second (default {RATE:g})")
    args = parser.parse_args(argv)
    phase_seconds = PHASE * (0.4 if args.quick else min(1.0, scale()))
    if args.rate > 40:  # one gateway replica may take the whole load: keep the limit above it (see the docstring)
        os.environ["DEMIMAS_GATEWAY_DEFAULT_RATE_LIMIT"] = json.dumps([args.rate * 1.25, max(100.0, args.rate * 2.5)])
    work = Path(tempfile.mkdtemp(prefix="demimas-cluster-"))
    cluster = Cluster(work)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    figures: dict[str, Any] = {"phase_seconds": phase_seconds, "rate_offered_per_s": args.rate}
    started = time.monotonic()
    proxy_stats: dict[str, Any] = {}
    try:
        print(f"starting the cluster under {work} ...", file=sys.stderr, flush=True)
        figures["startup"] = cluster.start()
        keys = ensure_dev_keys(work / "keys")
        assert cluster.stack is not None
        token = mint_token(keys, issuer=cluster.stack.settings.jwt_issuer, audience=cluster.stack.settings.jwt_audience,
                           agency=Agency.KP2MI, ttl=dt.timedelta(hours=2))  # fmt: skip
        villages = sorted(str(r[0]) for r in iter_villages() if r[0] and str(r[0]).startswith("16.06.13.2"))[:VILLAGES]
        events: list[dict[str, Any]] = []
        settings = cluster.stack.settings
        # before the endpoints (their events precede the sequence the webhooks are checked from): pilots for /pilots
        coordinator = mint_token(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                                 agency=Agency(PORTAL_AGENCY))  # fmt: skip
        asyncio.run(seed_pilots(cluster.gateway_url, coordinator, villages[:PORTAL_PILOTS], PORTAL_PILOTS,
                                dt.date.today()))  # fmt: skip
        feed_endpoints, feeds_from_seq = asyncio.run(
            _register_endpoints(cluster, keys, settings.jwt_issuer, settings.jwt_audience, villages)
        )
        print(f"{len(feed_endpoints)} webhook endpoints registered; stream at {feeds_from_seq}", file=sys.stderr)

        async def run_load() -> tuple[Load, PortalProbe]:
            limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
            async with httpx.AsyncClient(base_url=cluster.gateway_url, limits=limits) as client:
                load = Load(client, token, villages, args.rate)
                probe = PortalProbe(cluster.portal_url, load)
                await probe.sign_in()
                stop = asyncio.Event()
                runner = asyncio.create_task(load.run(stop))
                prober = asyncio.create_task(probe.run(stop))
                try:
                    await _schedule(cluster, load, phase_seconds, events)
                finally:
                    stop.set()
                    await runner
                    await prober
                return load, probe

        load, probe = asyncio.run(run_load())
        load_seconds = time.monotonic() - started
        print("draining ...", file=sys.stderr, flush=True)
        drain_s, left = asyncio.run(_drain(cluster.database_url, cluster.nats.url))
        report = asyncio.run(_verify(cluster.database_url, load.writes))
        receiver_stats = cluster.stop_receivers()
        feeds = asyncio.run(_verify_feeds(cluster.database_url, cluster.nats.url, feed_endpoints, feeds_from_seq,
                                          cluster.receivers_dir, load.phase_walls))  # fmt: skip
        for name, stats in receiver_stats.items():
            feeds["endpoints"][name]["receiver"] = stats
        feeds["fanout_gaps_filled"] = [  # the fan-out's own notice when it read events a stopped one had held
            line[:300] for path in sorted((work / "logs").glob("feeds-*.log"))
            for line in path.read_text(errors="replace").splitlines() if "held by a fan-out" in line
        ]  # fmt: skip
        per_endpoint = feeds["endpoints"].values()
        chain = asyncio.run(_verify_chain(cluster.gateway_url, keys))
        writes = load.writes
        acked = [w for w in writes if w.acked]
        figures |= {
            "cluster_writes_acked": len(acked),
            "cluster_events_lost": len(report["lost"]),
            "cluster_double_effects": sum(report["double"].values()),
            "cluster_p95_ms": {phase: f["p95_ms"] for phase, f in _phase_figures(writes).items()},
            "feeds_events_expected": sum(e["expected"] for e in per_endpoint),
            "feeds_events_missing": sum(e["missing"] for e in per_endpoint),
            "feeds_events_unexpected": sum(e["unexpected"] + e["unknown_events"] for e in per_endpoint),
            "feeds_duplicates": sum(e["duplicates"] for e in per_endpoint),
            "feeds_out_of_order": sum(e["out_of_order_vs_stream"] + e["out_of_order_vs_queue"] for e in per_endpoint),
            "feeds_concurrent_sends": sum(e["concurrent_arrivals"] for e in per_endpoint),
            "feeds_bad_signatures": sum(e["bad_signatures"] for e in per_endpoint),
            "feeds_body_mismatches": sum(e["body_mismatches"] for e in per_endpoint),
            "feeds_events_under_two_webhook_ids": sum(e["events_under_two_webhook_ids"] for e in per_endpoint),
            "feeds": feeds,
            "writes_offered": len(writes),
            "writes_failed": sum(w.outcome == "failed" for w in writes),
            "writes_applied_before_retry": sum(w.outcome == "applied_before_retry" for w in writes),
            "writes_retried": sum(w.attempts > 1 for w in writes),
            "writes_by_kind": dict(Counter(w.kind for w in acked)),
            "activity_projection_lag_retries": sum(w.lag_retries for w in writes),
            "load_saturated_ticks": load.saturated_ticks,
            "phases": _phase_figures(writes),
            "events_checked": report["events_checked"],
            "double_effects": report["double"],
            "lost_detail": report["lost"][:50],
            "counter_diff": report["counter_diff"],
            "workers_created": report["workers_created"],
            "returned_workers": report["returned_workers"],
            "returned_workers_queued": report["returned_workers_queued"],
            "unpublished_outbox_rows": report["unpublished_outbox_rows"],
            "dead_letters": report["dead_letters"],
            "audit_gaps": report["audit_gaps"],
            "audit_chain": {k: chain.get(k) for k in ("ok", "checked", "problems", "gaps", "errors") if k in chain},
            "drain_s": round(drain_s, 1),
            "left_after_drain": left,
            "timeline": events,
            "timeline_5s": _timeline(writes, writes[0].started if writes else 0.0),
            "failed_writes": _failures(writes)[:200],
            "load_s": round(load_seconds, 1),
            "portal": probe.figures(),
        }
        figures["verdict"] = _verdict(figures)
    finally:
        print("stopping ...", file=sys.stderr, flush=True)
        proxy_stats = cluster.stop()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    figures["proxy"] = proxy_stats
    figures["total_s"] = round(time.monotonic() - started, 1)
    figures["date"] = now()
    write_results(RESULTS / "cluster.json", figures)
    for name in ("cluster_writes_acked", "cluster_events_lost", "cluster_double_effects", "cluster_p95_ms",
                 "writes_failed", "writes_retried", "writes_applied_before_retry", "double_effects", "audit_chain",
                 "drain_s", "left_after_drain", "total_s", "feeds_events_expected", "feeds_events_missing",
                 "feeds_events_unexpected", "feeds_duplicates", "feeds_out_of_order", "feeds_concurrent_sends",
                 "feeds_bad_signatures", "feeds_body_mismatches", "feeds_events_under_two_webhook_ids"):  # fmt: skip
        print(f"{name}: {figures.get(name)}")
    for name, e in (figures.get("feeds") or {}).get("endpoints", {}).items():
        print(f"  webhook {name}: " + ", ".join(f"{k}={e[k]}" for k in (
            "expected", "delivered", "missing", "duplicates", "retries_after_a_failure_answer", "unexpected",
            "out_of_order_vs_stream", "out_of_order_vs_queue", "concurrent_arrivals", "lag_ms")))  # fmt: skip
    for phase, f in figures["phases"].items():
        print(f"  {phase}: {f}")
    for phase, f in (figures.get("portal") or {}).get("phases", {}).items():
        print(f"  portal /pilots {phase}: {f}")
    print(f"verdict: {figures.get('verdict')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
