"""Subscriptions benchmark (issue 18; `make bench-subscriptions`, or `python -m bench.subscriptions`).

On a throw-away durable embedded PostgreSQL (fsync on) and NATS, the registry and the gateway run as in `make run`
(their own processes, real HTTP and WebSocket; the gateway's rate limits off, `bench.gateway_servers.NO_RATE_LIMITS`,
as in bench/pillars.py). BENCH_SUBSCRIPTIONS_WORKERS (1,200) workers are registered through the registry's
GraphQL API in 12 provinces, 10 of them subscribed to. Then:
- BENCH_SUBSCRIPTIONS_SUBSCRIBERS (1,000) WebSocket subscribers, in client processes of their own, hold
  `workerChanged(filter: {regionPrefix: <province>})` through the gateway, a regional BP3MI token per province
  (100 subscribers per province token);
- a writer process commits BENCH_SUBSCRIPTIONS_RATE (200) `updateWorker` changes per second for
  BENCH_SUBSCRIPTIONS_SECONDS (60) through the registry's GraphQL API, over workers of all 12 provinces, and
  reports what it committed (per province) and the rate it achieved. BENCH_SUBSCRIPTIONS_WRITERS (8) requests in
  flight: below the registry's 10 database connections, which its outbox relay shares; with 32 in flight requests
  queued for connections, the relay behind them, and the registry committed less (75/s against 133/s) with every
  event later (bare NATS p95 0.88 s against 0.16 s);
- a bare NATS core subscriber of the same subject (`demimas.registry.worker.>`) in its own process: the floor.
Every latency is from the event's `time` (`WorkerChange.occurredAt`, set in the committing transaction) to the
receipt by the client. Figures: `subscriptions_delivered_ratio` (received / expected, expected = committed changes
of a province x its subscribers), p50/p95/p99, the bare subscriber's p50/p95 and the ratio of the p95s, and the CPU
share (cores) of the gateway and the registry during the timed phase. Written to bench/results/subscriptions.json.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.gateway_servers import NO_RATE_LIMITS
from bench.harness import RESULTS, env_int, now, percentile, print_summary, write_results

SUBJECT = "demimas.registry.worker.>"
PROVINCES, OUTSIDE = 10, 2  # subscribed provinces, and provinces whose changes nobody subscribed to
VILLAGES_PER_PROVINCE = 20
SUBSCRIPTION = """subscription($p: String!) {
  workerChanged(filter: {regionPrefix: $p}) { cursor workerId villageCode version occurredAt } }"""
REGISTER = "mutation($i: RegisterWorkerInput!) { registerWorker(input: $i) { id } }"
UPDATE = "mutation($id: ID!, $i: UpdateWorkerInput!) { updateWorker(id: $id, input: $i) { id version } }"


# -- pure helpers (tests/test_bench_subscriptions.py) ----------------------------------------------------------------


def province_of(code: str) -> str:
    return code[:2]


def assign(subscribers: int, provinces: Sequence[str]) -> list[str]:
    """The province of each subscriber, round robin (1,000 over 10 provinces: 100 each)."""
    return [provinces[i % len(provinces)] for i in range(subscribers)]


def expected_deliveries(committed: Mapping[str, int], subscribers: Iterable[str]) -> int:
    """Events every subscriber should receive: each committed change of a province, once per subscriber of it."""
    per_province: dict[str, int] = {}
    for province in subscribers:
        per_province[province] = per_province.get(province, 0) + 1
    return sum(count * per_province.get(province, 0) for province, count in committed.items())


def latency_s(occurred_at: str, received: float) -> float:
    """Seconds from an event's RFC 3339 time (`occurredAt`, the CloudEvent's `time`) to a receipt (epoch seconds)."""
    return received - dt.datetime.fromisoformat(occurred_at.replace("Z", "+00:00")).timestamp()


def nik(village: str, serial: int) -> str:
    """A valid, unique NIK for a woman born 7 March 1994 registered in `village`."""
    return f"{village.replace('.', '')[:6]}470394{serial:04d}"


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    if not samples:
        return {"p50": -1.0, "p95": -1.0, "p99": -1.0}
    return {f"p{q}": round(percentile(samples, q) * 1000, 1) for q in (50, 95, 99)}


# -- the processes ---------------------------------------------------------------------------------------------------


def run_clients(url: str, subs: list[tuple[str, str]], stop: Any, ready: Any, out: Any) -> None:
    """(token, province) subscribers on one event loop; on `stop`, their latencies and counts per province."""
    import orjson
    import uvloop
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    latencies: list[float] = []
    counts: dict[str, int] = {}
    errors: list[str] = []

    async def client(token: str, province: str, up: Any) -> None:
        async with connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")], proxy=None, max_size=None, ping_interval=None
        ) as ws:
            await ws.send(orjson.dumps({"type": "connection_init", "payload": {"authorization": token}}).decode())
            await ws.recv()
            payload = {"query": SUBSCRIPTION, "variables": {"p": province}}
            await ws.send(orjson.dumps({"type": "subscribe", "id": "1", "payload": payload}).decode())
            up()
            while True:
                message = orjson.loads(await ws.recv(decode=False))
                received = time.time()
                if message["type"] == "next" and message["payload"].get("data"):
                    change = message["payload"]["data"]["workerChanged"]
                    latencies.append(latency_s(change["occurredAt"], received))
                    counts[province] = counts.get(province, 0) + 1
                elif message["type"] in ("next", "error", "complete"):
                    errors.append(str(message)[:300])

    async def main() -> None:
        started = 0

        def up() -> None:
            nonlocal started
            started += 1
            if started == len(subs):
                ready.set()

        tasks = [asyncio.create_task(client(t, p, up)) for t, p in subs]
        await asyncio.to_thread(stop.wait)
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
                errors.append(repr(result)[:300])
        out.put({"latencies": latencies, "counts": counts, "errors": errors[:5], "error_count": len(errors)})

    uvloop.run(main())


def run_bare(nats_url: str, provinces: list[str], stop: Any, ready: Any, out: Any) -> None:
    """A core NATS subscriber of the registry's worker events: the latency floor of the same events."""
    import orjson
    import uvloop

    from demimas_common.events.nats import connect

    async def main() -> None:
        latencies: list[float] = []
        wanted = set(provinces)
        nc = await connect(nats_url, name="bench-subscriptions-bare", reconnect=False)

        async def on(msg: Any) -> None:
            received = time.time()
            body = orjson.loads(msg.data)
            if province_of(str(body["data"].get("villageCode", ""))) in wanted:
                latencies.append(latency_s(body["time"], received))

        await nc.subscribe(SUBJECT, cb=on)
        await nc.flush()
        ready.set()
        await asyncio.to_thread(stop.wait)
        await nc.close()
        out.put({"latencies": latencies})

    uvloop.run(main())


def run_writer(url: str, token: str, workers: list[tuple[str, str]], rate: float, seconds: float, go: Any,
               concurrency: int, out: Any) -> None:  # fmt: skip
    """`rate` updateWorker changes a second for `seconds`, round robin over `workers` (id, province); what it
    committed per province and the rate achieved."""
    import httpx
    import uvloop

    async def main() -> None:
        committed: dict[str, int] = {}
        failures: list[str] = []
        total = int(rate * seconds)
        next_n = 0
        async with httpx.AsyncClient(
            base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        ) as client:  # fmt: skip
            await asyncio.to_thread(go.wait)
            start = time.perf_counter()

            async def one() -> None:
                nonlocal next_n
                while next_n < total:
                    n = next_n
                    next_n += 1
                    delay = start + n / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    worker_id, province = workers[n % len(workers)]
                    variables = {"id": worker_id, "i": {"address": f"Jalan Bench {n}"}}
                    try:
                        response = await client.post("/graphql", json={"query": UPDATE, "variables": variables})
                        body = response.json()
                    except (httpx.HTTPError, ValueError) as exc:
                        failures.append(repr(exc)[:200])
                        continue
                    if body.get("errors") or not body.get("data", {}).get("updateWorker"):
                        failures.append(str(body.get("errors"))[:200])
                    else:
                        committed[province] = committed.get(province, 0) + 1

            await asyncio.gather(*(one() for _ in range(concurrency)))
            elapsed = time.perf_counter() - start
        out.put(
            {"committed": committed, "elapsed": elapsed, "failures": len(failures), "failure_samples": failures[:3]}
        )

    uvloop.run(main())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- preparation -----------------------------------------------------------------------------------------------------


def _villages() -> dict[str, list[str]]:
    """VILLAGES_PER_PROVINCE villages (desa) of each of the first PROVINCES + OUTSIDE provinces."""
    from demimas_registry.adapters.villages import iter_villages

    found: dict[str, list[str]] = {}
    for row in iter_villages():
        code = str(row[0] or "")
        if len(code) != 13 or code[9] != "2":
            continue
        villages = found.setdefault(province_of(code), [])
        if len(villages) < VILLAGES_PER_PROVINCE:
            villages.append(code)
    full = sorted(p for p, v in found.items() if len(v) == VILLAGES_PER_PROVINCE)
    return {p: found[p] for p in full[: PROVINCES + OUTSIDE]}


async def _prepare_database(database_url: str, nats_url: str) -> None:
    from demimas_common.db.engine import create_engine
    from demimas_common.db.provision import runtime_role
    from demimas_common.db.urls import with_user
    from demimas_common.devstack.provisioning import migrate_service
    from demimas_common.events.nats import connect
    from demimas_common.events.stream import ensure_stream
    from demimas_common.service import discover_services
    from demimas_registry.adapters.villages import load_villages

    nc = await connect(nats_url, name="bench-subscriptions", reconnect=False)
    await ensure_stream(nc.jetstream())
    await nc.close()
    [spec] = [s for s in discover_services() if s.name == "registry"]
    await migrate_service(database_url, spec)
    engine = create_engine(with_user(database_url, runtime_role("registry")), pool_size=1)
    async with engine.begin() as conn:
        await load_villages(conn)
    await engine.dispose()


async def _register(url: str, token: str, villages: dict[str, list[str]], count: int) -> list[tuple[str, str]]:
    """`count` workers over every village, through registerWorker; their (id, province)."""
    import httpx

    codes = [code for vs in villages.values() for code in vs]
    plan = [codes[i % len(codes)] for i in range(count)]
    found: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60) as client:

        async def one(i: int, village: str) -> None:
            worker = {"nik": nik(village, i + 1), "fullName": "Siti Aminah", "sex": "FEMALE", "birthDate": "1994-03-07",
                      "educationLevel": "SMK", "villageCode": village}  # fmt: skip
            body = (await client.post("/graphql", json={"query": REGISTER, "variables": {"i": worker}})).json()
            if body.get("errors"):
                raise RuntimeError(f"registerWorker failed: {body['errors']}")
            found.append((body["data"]["registerWorker"]["id"], province_of(village)))

        for batch in range(0, count, 16):
            await asyncio.gather(*(one(i, plan[i]) for i in range(batch, min(count, batch + 16))))
    return found


def _wait_healthy(port: int, process: Any, timeout: float = 90.0) -> None:
    """The gateway answers `/healthz`: only the registry runs, so `/readyz` (every subgraph answers) never passes;
    the subscription and its fields are the registry's alone."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with code {process.returncode} during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the gateway did not answer /healthz within {timeout:.0f} s")


# -- the run ---------------------------------------------------------------------------------------------------------


def main() -> int:
    seconds = env_int("BENCH_SUBSCRIPTIONS_SECONDS", 60)
    subscribers = env_int("BENCH_SUBSCRIPTIONS_SUBSCRIBERS", 1000)
    rate = env_int("BENCH_SUBSCRIPTIONS_RATE", 200)
    n_workers = env_int("BENCH_SUBSCRIPTIONS_WORKERS", 1200)
    client_processes = env_int("BENCH_SUBSCRIPTIONS_CLIENT_PROCESSES", 2)
    concurrency = env_int("BENCH_SUBSCRIPTIONS_WRITERS", 8)

    from demimas_common.auth.keys import ensure_dev_keys, mint_token
    from demimas_common.auth.principal import Agency
    from demimas_common.devstack.supervisor import Stack
    from demimas_common.service import discover_services

    work = Path(tempfile.mkdtemp(prefix="demimas-bench-subscriptions-"))
    os.environ["DEMIMAS_LOG_LEVEL"] = "WARNING"
    os.environ.update(NO_RATE_LIMITS)
    stack = Stack(root=work)
    ctx = multiprocessing.get_context("spawn")
    figures: dict[str, Any] = {"subscribers": subscribers, "changes_per_s_target": rate, "seconds": seconds}
    children: list[Any] = []
    try:
        stack.start_servers()
        stack.write_env()
        asyncio.run(_prepare_database(stack.database_url, stack.nats_url))
        stack.start_services([s for s in discover_services() if s.name == "registry"])
        stack.wait_ready()
        stack.start_gateway()
        _wait_healthy(stack.ports["gateway"], stack.processes["gateway"])
        keys = ensure_dev_keys(work / "keys")

        def token(agency: Agency, region: str | None = None) -> str:
            settings = stack.settings
            return mint_token(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience, agency=agency,
                              region=region, ttl=dt.timedelta(hours=2))  # fmt: skip

        villages = _villages()
        provinces = sorted(villages)[:PROVINCES]
        registry_url = f"http://127.0.0.1:{stack.ports['registry']}"
        writer_token = token(Agency.KP2MI)
        started = time.perf_counter()
        workers = asyncio.run(_register(registry_url, writer_token, villages, n_workers))
        print(f"registered {len(workers)} workers in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        tokens = {p: "Bearer " + token(Agency.BP3MI, p) for p in provinces}
        assigned = assign(subscribers, provinces)
        subs = [(tokens[p], p) for p in assigned]
        stop, go, results, bare_out, written = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue(), ctx.Queue()
        readies = [ctx.Event() for _ in range(client_processes)]
        gateway_ws = f"ws://127.0.0.1:{stack.ports['gateway']}/graphql"
        clients = [ctx.Process(target=run_clients, args=(gateway_ws, subs[i::client_processes], stop, r, results))
                   for i, r in enumerate(readies)]  # fmt: skip
        bare_ready = ctx.Event()
        bare = ctx.Process(target=run_bare, args=(stack.nats_url, provinces, stop, bare_ready, bare_out))
        writer = ctx.Process(
            target=run_writer, args=(registry_url, writer_token, workers, rate, seconds, go, concurrency, written)
        )
        children = [*clients, bare, writer]
        for process in children:
            process.start()
        for ready in [*readies, bare_ready]:
            if not ready.wait(180):
                raise RuntimeError("the subscribers did not start within 180 s")
        time.sleep(5)  # every subscription open upstream (the subscribe message has no acknowledgement)
        pids = {"gateway": stack.processes["gateway"].pid, "registry": stack.processes["registry"].pid}
        cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
        go.set()
        wrote = written.get(timeout=seconds * 3 + 120)
        cpu = {name: (_cpu_seconds(pid) - cpu_before[name]) / wrote["elapsed"] for name, pid in pids.items()}
        time.sleep(5)  # the last events on their way
        stop.set()
        collected = [results.get(timeout=120) for _ in clients]
        bare_result = bare_out.get(timeout=60)
    finally:
        for process in children:
            process.join(30)
            if process.is_alive():
                process.kill()
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)

    latencies = sorted(lat for r in collected for lat in r["latencies"])
    received = sum(sum(r["counts"].values()) for r in collected)
    committed: dict[str, int] = wrote["committed"]
    expected = expected_deliveries(committed, assigned)
    ours, floor = summary_ms(latencies), summary_ms(sorted(bare_result["latencies"]))
    committed_total = sum(committed.values())
    figures |= {
        "changes_committed": committed_total,
        "changes_committed_in_subscribed_provinces": sum(committed.get(p, 0) for p in provinces),
        "changes_per_s_achieved": round(committed_total / wrote["elapsed"], 1),
        "change_failures": wrote["failures"],
        "deliveries_expected": expected,
        "deliveries_received": received,
        "subscriptions_delivered_ratio": round(received / expected, 4) if expected else None,
        "subscriptions_p50_ms": ours["p50"],
        "subscriptions_p95_ms": ours["p95"],
        "subscriptions_p99_ms": ours["p99"],
        "subscriptions_goal_p95_ms": 100,
        "bare_nats_p50_ms": floor["p50"],
        "bare_nats_p95_ms": floor["p95"],
        "bare_nats_events": len(bare_result["latencies"]),
        "subscriptions_vs_bare_nats_p95": round(ours["p95"] / floor["p95"], 2) if floor["p95"] > 0 else None,
        "gateway_cpu_cores": round(cpu["gateway"], 2),
        "registry_cpu_cores": round(cpu["registry"], 2),
        "machine_cores": os.cpu_count(),
        "client_processes": client_processes,
        "client_errors": sum(r["error_count"] for r in collected),
        "client_error_samples": [e for r in collected for e in r["errors"]][:3],
        "writer_failure_samples": wrote["failure_samples"],
        "date": now(),
    }
    write_results(RESULTS / "subscriptions.json", figures)
    print_summary(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
