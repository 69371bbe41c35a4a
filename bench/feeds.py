"""Benchmark of webhook deliveries (`make bench-feeds`, issue 19).

On its own durable PostgreSQL and NATS (bench/stream.py): 50 webhook endpoints of one agency, each receiving every
event, served by 50 HTTP receivers on loopback in a child process (demimas_feeds.receiver, keep-alive). N events
(`registry.worker.departed`, one village) are published, then:

- the bare consume of the same N events (pull, batches of 100, explicit acks, JSON parsed: bench/stream.py);
- the delivery engine as the service runs it (the `feeds-fanout` consumer and the dispatcher) from the start of the
  stream until all N x 50 deliveries are DELIVERED: `feeds_deliveries_per_s`, and
  `feeds_deliveries_vs_raw_consume` = deliveries per second / events consumed per second (goal >= 0.3);
- latency: 200 more events committed at 20 per second while the engine runs, as a producing service commits them
  (its outbox in the same transaction, then the outbox relay); `feeds_p95_ms` from the commit to the receipt at the
  receiver, over every delivery (goal < 200 ms).

Figures to bench/results/feeds.json. `BENCH_SCALE` scales N (2,000 events = 100,000 deliveries at 1).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.harness import RESULTS, now, p50_p95_ms, print_summary, scale, write_results
from bench.stream import publish, raw_consume, servers
from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.uow import UnitOfWork
from demimas_common.db.urls import with_user
from demimas_common.devstack.nats import EmbeddedNats
from demimas_common.devstack.postgres import EmbeddedPostgres
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.relay import OutboxRelay
from demimas_feeds.app import SERVICE
from demimas_feeds.domain.backoff import Backoff
from demimas_feeds.domain.secrets import SecretBox, new_secret
from demimas_feeds.service_layer.dispatch import Dispatcher, DispatchSettings
from demimas_feeds.service_layer.fanout import FanoutConsumer
from demimas_feeds.settings import FeedsSettings

ENDPOINTS = 50
VILLAGE = "33.74.01.1001"
SUBJECT = "demimas.registry.worker.departed"
LATENCY_EVENTS = 200
LATENCY_RATE = 20.0


def _event(n: int) -> CloudEvent:
    return new_event(
        SUBJECT,
        str(uuid.uuid4()),
        {"workerId": str(uuid.uuid4()), "villageCode": VILLAGE, "status": "ABROAD", "version": n + 1,
         "destinationCountry": "MY", "scheme": "P_TO_P", "procedural": True},
    )  # fmt: skip


async def _receivers(count: int, out: str) -> None:
    """The child process: `count` receivers; their URLs on stdout; at SIGTERM, every receipt to `out`."""
    from demimas_feeds.receiver import Receiver

    receivers = [await Receiver().start() for _ in range(count)]
    print(json.dumps([r.url for r in receivers]), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    receipts = [(json.loads(got.body)["id"], got.at) for r in receivers for got in r.received]
    Path(out).write_text(json.dumps(receipts))  # noqa: ASYNC240 (after the measurement)


async def _endpoints(engine: Any, urls: list[str], box: SecretBox) -> list[uuid.UUID]:
    ids = []
    now_ = dt.datetime.now(dt.UTC)
    scopes = sorted(DEFAULT_GRANTS[Agency.KP2MI])
    async with engine.connect() as conn:
        db: Any = (await conn.get_raw_connection()).driver_connection
        for url in urls:
            endpoint_id = uuid.uuid4()
            await db.execute(
                "INSERT INTO feeds.endpoints (id, agency, url, event_types, region_prefix, owner_scopes, status, "
                "created_by, created_at, updated_at, version) VALUES ($1, 'KP2MI', $2, $3, $4, $5, 'ACTIVE', "
                "'bench', $6, $6, 1)",
                endpoint_id, url, ["demimas.registry.worker.*"], VILLAGE, scopes, now_,
            )  # fmt: skip
            await db.execute(
                "INSERT INTO feeds.endpoint_secrets (id, endpoint_id, ciphertext, created_at) VALUES ($1, $2, $3, $4)",
                uuid.uuid4(), endpoint_id, box.encrypt(endpoint_id, new_secret()), now_,
            )  # fmt: skip
            ids.append(endpoint_id)
    return ids


async def _delivered(engine: Any) -> int:
    async with engine.connect() as conn:
        db: Any = (await conn.get_raw_connection()).driver_connection
        return int(await db.fetchval("SELECT count(*) FROM feeds.deliveries WHERE status = 'DELIVERED'"))


async def _run(pg: EmbeddedPostgres, nats: EmbeddedNats, n: int) -> dict[str, Any]:
    await migrate_service(pg.url(), SERVICE)
    engine = create_engine(with_user(pg.url(), runtime_role("feeds")), pool_size=10)
    box = SecretBox(FeedsSettings().secret_key_bytes())
    out = tempfile.mktemp(prefix="feeds-receipts-", suffix=".json")  # noqa: S306 (a child process writes it)
    child = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
        [sys.executable, "-m", "bench.feeds", "receivers", str(ENDPOINTS), out], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        urls = json.loads(await asyncio.to_thread(child.stdout.readline))
        await _endpoints(engine, urls, box)
        events = [_event(i) for i in range(n)]
        publish_s = await publish(nats.url, events)
        raw_s = await raw_consume(nats.url, n, subject=SUBJECT, batch=100)
        dispatcher = Dispatcher(engine, decrypt=box.decrypt, settings=DispatchSettings(backoff=Backoff()))
        fanout = FanoutConsumer(engine, nats.url, wake=dispatcher.wake)
        start = time.perf_counter()
        tasks = [asyncio.create_task(dispatcher.run()), asyncio.create_task(fanout.run())]
        total = n * ENDPOINTS
        while dispatcher.sent < total or await _delivered(engine) < total:  # noqa: ASYNC110 (polls the database too)
            await asyncio.sleep(0.02)
        deliver_s = time.perf_counter() - start
        sent_before = dispatcher.sent
        relay = OutboxRelay(engine, "feeds", nats.url)  # as a producing service commits: outbox, then the relay
        tasks.append(asyncio.create_task(relay.run()))
        published_at: dict[str, float] = {}
        for i in range(LATENCY_EVENTS):
            event = _event(n + i)
            async with UnitOfWork(engine, schema="feeds") as uow:
                uow.publish(event)
                await uow.commit()
            published_at[event.id] = time.time()
            await asyncio.sleep(1 / LATENCY_RATE)
        while dispatcher.sent < sent_before + LATENCY_EVENTS * ENDPOINTS:  # noqa: ASYNC110 (a counter, no event)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        dispatcher.stop()
        fanout.stop()
        relay.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await dispatcher.close()
        await fanout.close()
        await relay.close()
    finally:
        child.send_signal(signal.SIGTERM)
        await asyncio.to_thread(child.wait, 30)
        await engine.dispose()
    receipts = json.loads(Path(out).read_text())  # noqa: ASYNC240 (after the measurement)
    os.unlink(out)
    latencies = [at - published_at[event_id] for event_id, at in receipts if event_id in published_at]
    p50, p95 = p50_p95_ms(latencies)
    deliveries_rate, raw_rate = total / deliver_s, n / raw_s
    return {
        "bench_scale": scale(),
        "events": n,
        "endpoints": ENDPOINTS,
        "deliveries": total,
        "publish_s": round(publish_s, 2),
        "raw_consume_events_per_s": round(raw_rate, 1),
        "feeds_deliveries_per_s": round(deliveries_rate, 1),
        "feeds_deliveries_vs_raw_consume": round(deliveries_rate / raw_rate, 3),
        "goal_vs_raw_consume": 0.3,
        "latency_events": LATENCY_EVENTS,
        "latency_rate_events_per_s": LATENCY_RATE,
        "latency_deliveries": len(latencies),
        "feeds_p50_ms": p50,
        "feeds_p95_ms": p95,
        "goal_p95_ms": 200,
        "receipts": len(receipts),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "every_delivery_received": len({r[0] for r in receipts}) == n + LATENCY_EVENTS and len(receipts) >= total,
        "date": now(),
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "receivers":
        asyncio.run(_receivers(int(sys.argv[2]), sys.argv[3]))
        return 0
    with servers("feeds") as (pg, nats):
        figures = asyncio.run(_run(pg, nats, max(100, int(2_000 * scale()))))
    write_results(RESULTS / "feeds.json", figures)
    print_summary(figures)
    return 0 if figures["every_delivery_received"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
