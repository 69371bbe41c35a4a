"""Webhooks benchmark (issue 19; `make bench-feeds`, or `python -m bench.feeds`).

On a throw-away durable embedded PostgreSQL (fsync on) and NATS, the registry and the feeds service run as in
`make run` (their own uvicorn processes, real HTTP; feeds in development mode, so loopback receivers are allowed).
BENCH_FEEDS_ENDPOINTS (50) receivers listen on loopback in a process of their own (a lean asyncio HTTP/1.1
keep-alive server per port answering 204, recording each request's receipt time, `webhook-id` and body); 50
endpoints are created through the feeds GraphQL API with a KP2MI token (`createWebhookEndpoint`, types
`demimas.registry.worker.*`, no region filter). Every event is a real outbox commit: `updateWorker` through the
registry's GraphQL API (its outbox relay publishes `demimas.registry.worker.updated` to JetStream), over
BENCH_FEEDS_WORKERS (100) workers registered through `registerWorker` before feeds first starts.

- Warm-up: 20 changes, until all their 20 x 50 deliveries arrived (connections open, caches filled).
- Throughput: the feeds process is stopped (SIGTERM), BENCH_FEEDS_EVENTS (2,000) changes are committed as a
  backlog, then (a) a bare nats-py JetStream pull consumer (`raw`: batches of 100, each message acked, no parsing)
  reads the backlog's stream messages (every subject under `demimas.>`, the fan-out's own subjects, from the first
  to the last sequence of the backlog; five passes, a consumer each, the median counts: one pass takes well under a
  second, at the mercy of the scheduler) and (b) the feeds process is started again and drains it: fan-out into
  E x 50 PENDING deliveries, signed and POSTed to the receivers. `feeds_deliveries_per_s` = E x 50 / (receipt of
  the last backlog delivery - start of the first fan-out transaction, the smallest `created_at` of the backlog's
  deliveries); `raw_consume_events_per_s` = backlog messages / (first fetch to last ack, flushed; median pass);
  `feeds_deliveries_vs_raw_consume` = feeds_deliveries_per_s / raw_consume_events_per_s (goal >= 0.3). The two
  never run at once. `feeds_drain_wall_s` is also given from the feeds process's start (start-up included).
- Latency: BENCH_FEEDS_RATE (20) changes a second for BENCH_FEEDS_SECONDS (30) through `updateWorker`
  (BENCH_FEEDS_WRITERS=8 requests in flight), each to all 50 endpoints (1,000 deliveries/s); latency = receipt time
  - the CloudEvent's `time` (set by the registry in the committing transaction, before its commit; the same
  machine's clock); `feeds_p50_ms`/`feeds_p95_ms`/`feeds_p99_ms` (goal p95 < 200 ms). A bare core NATS subscriber
  of the same events gives the floor (`bare_nats_*`: the registry's commit and outbox relay) and, per event,
  `feeds_after_nats_*`: receipt by the webhook receiver - receipt of the same event by the bare subscriber (what
  the feeds service adds: fan-out, dispatch, HTTP).
- For both phases: deliveries lost (expected (event, endpoint) pairs never received: must be 0), duplicates (a
  `webhook-id` received again, or an (event, endpoint) pair under two ids), the feeds process's CPU seconds
  (user + system, /proc; for the drain also the receivers' and PostgreSQL's, from the feeds process's start to
  the last receipt, `throughput_cpu_window_s`), and a sample of signatures (each endpoint's first request and
  every 500th, per phase) verified with the `standardwebhooks` package and the secret `createWebhookEndpoint` returned.

BENCH_FEEDS_PROFILE=1 runs the feeds process under cProfile (its stats, sorted by cumulative time, go to
bench/.work/feeds-profile.txt); the figures of such a run are not measurements (the profiler slows Python code).
Figures to bench/results/feeds.json (BENCH_FEEDS_OUT names another file).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench.gateway_servers import NO_RATE_LIMITS
from bench.harness import (
    RESULTS,
    WORK,
    BenchError,
    Processes,
    env_int,
    exit_on_signals,
    now,
    percentile,
    print_summary,
    run_label,
    write_results,
)

UPDATE = "mutation($id: ID!, $i: UpdateWorkerInput!) { updateWorker(id: $id, input: $i) { id version } }"
REGISTER = "mutation($i: RegisterWorkerInput!) { registerWorker(input: $i) { id } }"
CREATE = """mutation($i: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $i) { endpoint { id url } secret } }"""
TYPES = ["demimas.registry.worker.*"]
SAMPLE_EVERY = 500
RAW_PASSES = 5
"""The bare consumer reads the backlog this many times (a consumer each); its median time counts."""
RESPONSE = b"HTTP/1.1 204 No Content\r\n\r\n"
Record = tuple[int, str, float, int, str, str, bytes | None, bytes | None]
"""(receiver index, webhook-id, receipt time, stream sequence, event id, event time, head and body if sampled)."""


# -- pure helpers (tests/test_bench_feeds.py) --------------------------------------------------------------------------


def latency_s(occurred_at: str, received: float) -> float:
    """Seconds from an event's RFC 3339 `time` to a receipt (epoch seconds)."""
    return received - dt.datetime.fromisoformat(occurred_at.replace("Z", "+00:00")).timestamp()


def tally(records: Sequence[Record], endpoints: int, first_seq: int, last_seq: int,
          expected_events: int) -> dict[str, int]:  # fmt: skip
    """Deliveries of the events with stream sequences in [first_seq, last_seq]: received, lost (expected
    (event, endpoint) pairs never received, `expected_events` events x `endpoints`), duplicates (a webhook-id
    again, or a pair under a second id) and how many were outside the range."""
    ids: set[str] = set()
    pairs: set[tuple[str, int]] = set()
    received = duplicates = outside = 0
    for index, webhook_id, _, seq, event_id, _, _, _ in records:
        if not first_seq <= seq <= last_seq:
            outside += 1
            continue
        received += 1
        pair = (event_id, index)
        if webhook_id in ids or pair in pairs:
            duplicates += 1
        ids.add(webhook_id)
        pairs.add(pair)
    return {"received": received, "lost": max(0, expected_events * endpoints - len(pairs)),
            "duplicates": duplicates, "outside": outside}  # fmt: skip


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    if not samples:
        return {"p50": -1.0, "p95": -1.0, "p99": -1.0}
    ordered = sorted(samples)
    return {f"p{q}": round(percentile(ordered, q) * 1000, 1) for q in (50, 95, 99)}


def nik(village: str, serial: int) -> str:
    """A valid, unique NIK for a woman born 7 March 1994 registered in `village`."""
    return f"{village.replace('.', '')[:6]}470394{serial:04d}"


# -- the receivers (a process of their own) ----------------------------------------------------------------------------


def _parse(raw: tuple[int, bytes, float, bytes, bytes | None]) -> Record:
    import orjson

    index, webhook_id, at, body, head = raw
    try:
        event = orjson.loads(body)
        seq, event_id, time_ = int(event.get("sequence", -1)), str(event.get("id")), str(event.get("time"))
    except (orjson.JSONDecodeError, ValueError, AttributeError):
        seq, event_id, time_ = -1, "", ""
    return (index, webhook_id.decode(errors="replace"), at, seq, event_id, time_, head,
            body if head is not None else None)  # fmt: skip


def run_receivers(count: int, conn: Any) -> None:
    """`count` HTTP/1.1 servers on loopback, one port each, answering every POST with 204; commands on `conn`:
    ("count",) -> requests so far, ("dump", start, end) -> their records, ("stop",)."""
    import uvloop

    async def main() -> None:
        raws: list[tuple[int, bytes, float, bytes, bytes | None]] = []
        per_port = [0] * count

        async def serve(index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lower = head.lower()
                    at = lower.find(b"\r\ncontent-length:")
                    length = int(lower[at + 17 : lower.find(b"\r\n", at + 2)]) if at >= 0 else 0
                    body = await reader.readexactly(length) if length else b""
                    received = time.time()
                    at = lower.find(b"\r\nwebhook-id:")
                    webhook_id = head[at + 13 : head.find(b"\r\n", at + 2)].strip() if at >= 0 else b""
                    n = per_port[index]
                    per_port[index] = n + 1
                    raws.append((index, webhook_id, received, body, head if n % SAMPLE_EVERY == 0 else None))
                    writer.write(RESPONSE)
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()

        servers = [await asyncio.start_server(partial(serve, i), "127.0.0.1", 0, backlog=64) for i in range(count)]
        conn.send([s.sockets[0].getsockname()[1] for s in servers])
        while True:
            command = await asyncio.to_thread(conn.recv)
            if command[0] == "count":
                conn.send(len(raws))
            elif command[0] == "dump":
                conn.send([_parse(raw) for raw in raws[command[1] : command[2]]])
            else:
                break
        for server in servers:
            server.close()

    uvloop.run(main())


class Receivers:
    def __init__(self, count: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=run_receivers, args=(count, child), daemon=True)
        self.process.start()
        if not self.conn.poll(60):
            raise BenchError("the receivers did not start within 60 s")
        self.ports: list[int] = self.conn.recv()
        self.pid = int(self.process.pid or 0)

    def count(self) -> int:
        self.conn.send(("count",))
        return int(self.conn.recv())

    def dump(self, start: int, end: int) -> list[Record]:
        self.conn.send(("dump", start, end))
        records: list[Record] = self.conn.recv()
        return records

    def wait_for(self, total: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (n := self.count()) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        return n

    def close(self) -> None:
        if self.process.is_alive():
            self.conn.send(("stop",))
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()


# -- events: real outbox commits through the registry ------------------------------------------------------------------


async def _register(url: str, token: str, villages: list[str], count: int) -> list[str]:
    import httpx

    found: list[str] = []
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60) as client:

        async def one(i: int) -> None:
            village = villages[i % len(villages)]
            worker = {"nik": nik(village, i + 1), "fullName": "Siti Aminah", "sex": "FEMALE", "birthDate": "1994-03-07",
                      "educationLevel": "SMK", "villageCode": village}  # fmt: skip
            body = (await client.post("/graphql", json={"query": REGISTER, "variables": {"i": worker}})).json()
            if body.get("errors"):
                raise BenchError(f"registerWorker failed: {body['errors']}")
            found.append(body["data"]["registerWorker"]["id"])

        for batch in range(0, count, 16):
            await asyncio.gather(*(one(i) for i in range(batch, min(count, batch + 16))))
    return found


async def commit_changes(url: str, token: str, workers: list[str], total: int, rate: float | None,
                         concurrency: int, serial: int) -> dict[str, Any]:  # fmt: skip
    """`total` updateWorker changes, `rate` a second (None: as fast as `concurrency` requests in flight allow);
    how many committed and how long it took."""
    import httpx

    committed, failures = 0, []
    next_n = 0
    async with httpx.AsyncClient(
        base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    ) as client:  # fmt: skip
        start = time.perf_counter()

        async def one() -> None:
            nonlocal next_n, committed
            while next_n < total:
                n = next_n
                next_n += 1
                if rate is not None and (delay := start + n / rate - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                variables = {"id": workers[n % len(workers)], "i": {"address": f"Jalan Bench {serial}-{n}"}}
                try:
                    body = (await client.post("/graphql", json={"query": UPDATE, "variables": variables})).json()
                except (httpx.HTTPError, ValueError) as exc:
                    failures.append(repr(exc)[:200])
                    continue
                if body.get("errors") or not (body.get("data") or {}).get("updateWorker"):
                    failures.append(str(body.get("errors"))[:200])
                else:
                    committed += 1

        await asyncio.gather(*(one() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {"committed": committed, "elapsed": elapsed, "failures": len(failures), "failure_samples": failures[:3]}


# -- NATS: the stream's position and the bare consumer -----------------------------------------------------------------


async def _last_seq(nats_url: str) -> int:
    from demimas_common.events.nats import connect
    from demimas_common.events.stream import STREAM

    nc = await connect(nats_url, name="bench-feeds-info", reconnect=False)
    try:
        return int((await nc.jetstream().stream_info(STREAM)).state.last_seq)
    finally:
        await nc.close()


def settled_last_seq(nats_url: str, at_least: int, timeout: float = 60.0) -> int:
    """The stream's last sequence once it reached `at_least` and stayed unchanged for a second (the registry's
    relay has published every committed change)."""
    deadline = time.monotonic() + timeout
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        seq = asyncio.run(_last_seq(nats_url))
        if seq != last:
            last, stable_since = seq, time.monotonic()
        elif seq >= at_least and time.monotonic() - stable_since >= 1.0:
            return seq
        time.sleep(0.2)
    raise BenchError(f"the stream stopped at {last}, expected at least {at_least} within {timeout:.0f} s")


async def raw_consume(nats_url: str, first_seq: int, count: int, batch: int = 100, name: str = "raw") -> float:
    """A bare JetStream pull consumer (nats-py) reading `count` messages of `demimas.>` from `first_seq`, acking
    each: the seconds from the first fetch to the last ack (flushed)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    from demimas_common.events.nats import connect
    from demimas_common.events.stream import STREAM

    nc = await connect(nats_url, name="bench-feeds-raw", reconnect=False)
    try:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first_seq,
                                ack_policy=AckPolicy.EXPLICIT, max_ack_pending=1000)  # fmt: skip
        sub = await nc.jetstream().pull_subscribe("demimas.>", durable=f"bench-feeds-{name}", stream=STREAM,
                                                  config=config)  # fmt: skip
        got = 0
        started = time.perf_counter()
        while got < count:
            for msg in await sub.fetch(min(batch, count - got), timeout=10):
                await msg.ack()
                got += 1
        await nc.flush()
        return time.perf_counter() - started
    finally:
        await nc.close()


def run_bare(nats_url: str, ready: Any, stop: Any, out: Any) -> None:
    """A core NATS subscriber of the registry's worker events: each event's time from its `time` to here (the
    registry's commit and outbox relay, the floor under the webhooks' latency)."""
    import orjson
    import uvloop

    from demimas_common.events.nats import connect

    async def main() -> None:
        latencies: dict[str, tuple[float, float]] = {}
        nc = await connect(nats_url, name="bench-feeds-bare", reconnect=False)

        async def on(msg: Any) -> None:
            received = time.time()
            event = orjson.loads(msg.data)
            latencies[event["id"]] = (latency_s(event["time"], received), received)

        await nc.subscribe("demimas.registry.worker.>", cb=on)
        await nc.flush()
        ready.set()
        await asyncio.to_thread(stop.wait)
        await nc.close()
        out.put(latencies)

    uvloop.run(main())


# -- feeds: the process, its endpoints, its database -------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU time of the PostgreSQL server: its postmaster and live children (backends, WAL writer, ...; a backend
    that ended meanwhile takes its time with it)."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == postmaster or int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return total


def _wait_ready(port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 90.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{name} exited with code {process.returncode} during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise BenchError(f"{name} not ready after {timeout:.0f} s")


def _create_endpoints(url: str, token: str, ports: list[int]) -> list[str]:
    """One endpoint per receiver through createWebhookEndpoint; their secrets, in the receivers' order."""
    import httpx

    from bench.harness import graphql

    secrets = []
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30) as client:
        for i, port in enumerate(ports):
            variables = {"i": {"url": f"http://127.0.0.1:{port}/hook", "eventTypes": TYPES,
                               "description": f"bench receiver {i}"}}  # fmt: skip
            answer = graphql(client, CREATE, variables)
            secrets.append(answer["data"]["createWebhookEndpoint"]["secret"])
    return secrets


async def _first_fanout(database_url: str, first_seq: int, last_seq: int) -> float:
    """When the first fan-out transaction of these stream sequences began (epoch seconds)."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        value = await conn.fetchval(
            "SELECT extract(epoch FROM min(created_at)) FROM feeds.deliveries WHERE stream_seq BETWEEN $1 AND $2",
            first_seq,
            last_seq,
        )
    finally:
        await conn.close()
    if value is None:
        raise BenchError("no deliveries of the backlog in feeds.deliveries")
    return float(value)


def verify_signatures(records: Sequence[Record], secrets: list[str]) -> tuple[int, list[str]]:
    """The sampled requests' signatures checked by `standardwebhooks`: (verified, failures)."""
    from standardwebhooks import Webhook

    verified, failures = 0, []
    for index, _, _, _, _, _, head, body in records:
        if head is None or body is None:
            continue
        headers = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        try:
            Webhook(secrets[index]).verify(body, headers)
            verified += 1
        except Exception as exc:
            failures.append(f"receiver {index}: {type(exc).__name__}: {exc}"[:200])
    return verified, failures


def _profile_summary(stats_path: Path, out: Path) -> None:
    with out.open("w") as stream:
        stats = pstats.Stats(str(stats_path), stream=stream)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(60)


# -- the run -----------------------------------------------------------------------------------------------------------


def main() -> int:
    endpoints = env_int("BENCH_FEEDS_ENDPOINTS", 50)
    events = env_int("BENCH_FEEDS_EVENTS", 2000)
    rate = env_int("BENCH_FEEDS_RATE", 20)
    seconds = env_int("BENCH_FEEDS_SECONDS", 30)
    n_workers = env_int("BENCH_FEEDS_WORKERS", 100)
    writers = env_int("BENCH_FEEDS_WRITERS", 8)
    profile = os.environ.get("BENCH_FEEDS_PROFILE", "") not in ("", "0")
    out = os.environ.get("BENCH_FEEDS_OUT", "feeds.json")
    exit_on_signals()

    from demimas_common.auth.keys import ensure_dev_keys, mint_token
    from demimas_common.auth.principal import Agency
    from demimas_common.db.provision import runtime_role
    from demimas_common.db.urls import with_user
    from demimas_common.devstack.ports import free_port
    from demimas_common.devstack.supervisor import Stack
    from demimas_common.service import discover_services

    shortfalls = []
    if endpoints < 50:
        shortfalls.append(f"{endpoints} endpoints, not 50")
    if events < 2000:
        shortfalls.append(f"{events} backlog events, not 2,000")
    if rate * seconds < 600:
        shortfalls.append(f"{rate * seconds} timed changes, not 600")
    if profile:
        shortfalls.append("under cProfile")
    work = Path(tempfile.mkdtemp(prefix="demimas-bench-feeds-"))
    logs = WORK / "feeds"
    logs.mkdir(parents=True, exist_ok=True)
    os.environ["DEMIMAS_LOG_LEVEL"] = "WARNING"
    os.environ.update(NO_RATE_LIMITS)
    stack = Stack(root=work)
    figures: dict[str, Any] = {"run": run_label(shortfalls), "endpoints": endpoints, "backlog_events": events,
                               "latency_changes_per_s": rate, "latency_seconds": seconds}  # fmt: skip
    receivers: Receivers | None = None
    specs = {s.name: s for s in discover_services() if s.name in ("registry", "feeds")}
    try:
        with Processes(logs) as processes:
            stack.start_servers()
            stack.write_env()
            asyncio.run(_prepare(stack.database_url, stack.nats_url, [specs["registry"], specs["feeds"]]))
            stack.start_services([specs["registry"]])
            stack.wait_ready()
            keys = ensure_dev_keys(work / "keys")
            s = stack.settings
            kp2mi = mint_token(keys, issuer=s.jwt_issuer, audience=s.jwt_audience, agency=Agency.KP2MI,
                               ttl=dt.timedelta(hours=2))  # fmt: skip
            registry_url = f"http://127.0.0.1:{stack.ports['registry']}"
            workers = asyncio.run(_register(registry_url, kp2mi, _villages(), n_workers))
            receivers = Receivers(endpoints)

            feeds_port = free_port()
            feeds_env = os.environ | {
                "DEMIMAS_DATABASE_URL": with_user(stack.database_url, runtime_role("feeds")),
                "DEMIMAS_NATS_URL": stack.nats_url,
                "DEMIMAS_ENVIRONMENT": "development",
            }
            uvicorn = ["-m", "uvicorn", "--factory", specs["feeds"].app_factory, "--host", "127.0.0.1",
                       "--port", str(feeds_port), "--no-access-log"]  # fmt: skip
            stats_path = logs / "feeds.prof"
            profiler = ["-m", "cProfile", "-o", str(stats_path)] if profile else []

            def start_feeds() -> subprocess.Popen[bytes]:
                return processes.start("feeds", [sys.executable, *profiler, *uvicorn], env=feeds_env)

            feeds = start_feeds()
            _wait_ready(feeds_port, feeds, "feeds")
            secrets = _create_endpoints(f"http://127.0.0.1:{feeds_port}", kp2mi, receivers.ports)

            # warm-up
            seq0 = asyncio.run(_last_seq(stack.nats_url))
            mark = receivers.count()
            warm = asyncio.run(commit_changes(registry_url, kp2mi, workers, 20, 20.0, writers, 0))
            got = receivers.wait_for(mark + warm["committed"] * endpoints, 120)
            if got < mark + warm["committed"] * endpoints:
                raise BenchError(f"warm-up: {got - mark} of {warm['committed'] * endpoints} deliveries arrived "
                                 f"({processes.log_tail('feeds')})")  # fmt: skip
            warm_records = receivers.dump(mark, got)

            # throughput: a backlog, the bare consumer, then feeds drains it
            processes.stop(feeds)
            processes.children = [(n, p) for n, p in processes.children if p is not feeds]
            first_seq = asyncio.run(_last_seq(stack.nats_url)) + 1
            backlog = asyncio.run(commit_changes(registry_url, kp2mi, workers, events, None, writers, 1))
            last_seq = settled_last_seq(stack.nats_url, first_seq - 1 + backlog["committed"])
            messages = last_seq - first_seq + 1
            raw_passes = [asyncio.run(raw_consume(stack.nats_url, first_seq, messages, name=f"raw-{i}"))
                          for i in range(RAW_PASSES)]  # fmt: skip
            raw_s = statistics.median(raw_passes)
            mark = receivers.count()
            expected = backlog["committed"] * endpoints
            started = time.time()
            receivers_cpu = _cpu_seconds(receivers.pid)
            assert stack.postgres is not None
            postgres_cpu = _postgres_cpu_seconds(stack.postgres.data_dir)
            feeds = start_feeds()
            samples: list[tuple[float, float, int]] = []  # (time, feeds CPU, receipts)
            deadline = time.monotonic() + 600
            while (n := receivers.count()) < mark + expected and time.monotonic() < deadline:
                if feeds.poll() is not None:
                    raise BenchError(f"feeds exited during the drain: {processes.log_tail('feeds')}")
                samples.append((time.time(), _cpu_seconds(feeds.pid), n))
                time.sleep(0.02)
            cpu_end = _cpu_seconds(feeds.pid)
            receivers_cpu = _cpu_seconds(receivers.pid) - receivers_cpu
            postgres_cpu = _postgres_cpu_seconds(stack.postgres.data_dir) - postgres_cpu
            drain_wall = time.time() - started
            drained = receivers.dump(mark, receivers.count())
            _wait_ready(feeds_port, feeds, "feeds")
            fanout_start = asyncio.run(_first_fanout(stack.database_url, first_seq, last_seq))
            last_receipt = max((r[2] for r in drained if first_seq <= r[3] <= last_seq), default=time.time())
            cpu_start = max((c for t, c, n in samples if n == mark), default=samples[0][1] if samples else 0.0)
            drain_s = last_receipt - fanout_start
            through = tally(drained, endpoints, first_seq, last_seq, backlog["committed"])

            # latency: a steady rate of commits
            mark = receivers.count()
            seq1 = asyncio.run(_last_seq(stack.nats_url)) + 1
            ctx = multiprocessing.get_context("spawn")
            bare_ready, bare_stop, bare_out = ctx.Event(), ctx.Event(), ctx.Queue()
            watcher = ctx.Process(target=run_bare, args=(stack.nats_url, bare_ready, bare_stop, bare_out), daemon=True)
            watcher.start()
            if not bare_ready.wait(60):
                raise BenchError("the bare NATS subscriber did not start within 60 s")
            cpu_before = _cpu_seconds(feeds.pid)
            steady = asyncio.run(commit_changes(registry_url, kp2mi, workers, rate * seconds, float(rate), writers,
                                                2))  # fmt: skip
            receivers.wait_for(mark + steady["committed"] * endpoints, 60)
            cpu_latency = _cpu_seconds(feeds.pid) - cpu_before
            seq2 = settled_last_seq(stack.nats_url, seq1 - 1 + steady["committed"], 30)
            timed = receivers.dump(mark, receivers.count())
            bare_stop.set()
            bare: dict[str, tuple[float, float]] = bare_out.get(timeout=60)
            added = [r[2] - bare[r[4]][1] for r in timed if seq1 <= r[3] <= seq2 and r[4] in bare]
            watcher.join(10)
            steady_tally = tally(timed, endpoints, seq1, seq2, steady["committed"])
            latencies = [latency_s(r[5], r[2]) for r in timed if seq1 <= r[3] <= seq2]

            sampled = [*warm_records, *drained, *timed]
            verified, bad = verify_signatures(sampled, secrets)
            warm_tally = tally(warm_records, endpoints, seq0 + 1, first_seq - 1, warm["committed"])
            if profile:  # SIGINT: uvicorn re-raises it after its shutdown, as KeyboardInterrupt, so cProfile writes
                feeds.send_signal(signal.SIGINT)
                feeds.wait(60)
                _profile_summary(stats_path, WORK / "feeds-profile.txt")
                print(f"profile: {WORK / 'feeds-profile.txt'}", file=sys.stderr)
    finally:
        if receivers is not None:
            receivers.close()
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)

    deliveries_per_s = expected / drain_s
    raw_per_s = messages / raw_s
    lat, floor, feeds_only = summary_ms(latencies), summary_ms([v[0] for v in bare.values()]), summary_ms(added)
    figures |= {
        "backlog_changes_committed": backlog["committed"],
        "backlog_stream_messages": messages,
        "backlog_deliveries_expected": expected,
        "feeds_deliveries_per_s": round(deliveries_per_s, 1),
        "feeds_drain_s": round(drain_s, 3),
        "feeds_drain_wall_s": round(last_receipt - started, 3),
        "raw_consume_events_per_s": round(raw_per_s, 1),
        "raw_consume_s": round(raw_s, 3),
        "raw_consume_passes_s": [round(x, 3) for x in raw_passes],
        "feeds_deliveries_vs_raw_consume": round(deliveries_per_s / raw_per_s, 3),
        "feeds_deliveries_vs_raw_consume_goal": 0.3,
        "throughput_deliveries_received": through["received"],
        "throughput_deliveries_lost": through["lost"],
        "throughput_duplicates": through["duplicates"],
        "throughput_feeds_cpu_s": round(cpu_end - cpu_start, 2),
        "throughput_receivers_cpu_s": round(receivers_cpu, 2),
        "throughput_postgres_cpu_s": round(postgres_cpu, 2),
        "throughput_cpu_window_s": round(drain_wall, 2),
        "throughput_feeds_cpu_us_per_delivery": round((cpu_end - cpu_start) / expected * 1e6, 1),
        "latency_changes_committed": steady["committed"],
        "latency_changes_per_s_achieved": round(steady["committed"] / steady["elapsed"], 1),
        "latency_deliveries_expected": steady["committed"] * endpoints,
        "latency_deliveries_received": steady_tally["received"],
        "latency_deliveries_lost": steady_tally["lost"],
        "latency_duplicates": steady_tally["duplicates"],
        "feeds_p50_ms": lat["p50"],
        "feeds_p95_ms": lat["p95"],
        "feeds_p99_ms": lat["p99"],
        "feeds_p95_goal_ms": 200,
        "bare_nats_p50_ms": floor["p50"],
        "bare_nats_p95_ms": floor["p95"],
        "bare_nats_events": len(bare),
        "feeds_after_nats_p50_ms": feeds_only["p50"],
        "feeds_after_nats_p95_ms": feeds_only["p95"],
        "feeds_after_nats_p99_ms": feeds_only["p99"],
        "latency_feeds_cpu_s": round(cpu_latency, 2),
        "latency_feeds_cpu_cores": round(cpu_latency / steady["elapsed"], 3),
        "warmup_deliveries_lost": warm_tally["lost"],
        "deliveries_lost": through["lost"] + steady_tally["lost"] + warm_tally["lost"],
        "duplicates": through["duplicates"] + steady_tally["duplicates"] + warm_tally["duplicates"],
        "signatures_verified": verified,
        "signature_failures": len(bad),
        "signature_failure_samples": bad[:3],
        "change_failures": backlog["failures"] + steady["failures"] + warm["failures"],
        "change_failure_samples": [*backlog["failure_samples"], *steady["failure_samples"]][:3],
        "machine_cores": os.cpu_count(),
        "date": now(),
    }
    write_results(RESULTS / out, figures)
    print_summary(figures)
    return 0 if not bad and figures["deliveries_lost"] == 0 else 1


async def _prepare(database_url: str, nats_url: str, specs: list[Any]) -> None:
    from demimas_common.db.engine import create_engine
    from demimas_common.db.provision import runtime_role
    from demimas_common.db.urls import with_user
    from demimas_common.devstack.provisioning import migrate_service
    from demimas_common.events.nats import connect
    from demimas_common.events.stream import ensure_stream
    from demimas_registry.adapters.villages import load_villages

    nc = await connect(nats_url, name="bench-feeds", reconnect=False)
    await ensure_stream(nc.jetstream())
    await nc.close()
    for spec in specs:
        await migrate_service(database_url, spec)
    engine = create_engine(with_user(database_url, runtime_role("registry")), pool_size=1)
    async with engine.begin() as conn:
        await load_villages(conn)
    await engine.dispose()


def _villages(count: int = 20) -> list[str]:
    """`count` villages (desa) of different provinces where possible."""
    from demimas_registry.adapters.villages import iter_villages

    found: list[str] = []
    provinces: set[str] = set()
    for row in iter_villages():
        code = str(row[0] or "")
        if len(code) == 13 and code[9] == "2" and code[:2] not in provinces:
            provinces.add(code[:2])
            found.append(code)
            if len(found) == count:
                break
    return found


if __name__ == "__main__":
    raise SystemExit(main())
