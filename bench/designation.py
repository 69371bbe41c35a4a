"""Designation benchmark (`make bench-designation`): the village-stats projection's throughput on registry events
replayed from JetStream, against a bare consume of the same messages (same batch size, same explicit per-message
ack, the next batch fetched while the current one is handled) that does nothing else, measured in the same run on
its own embedded PostgreSQL (fsync on) and NATS.

N = 200,000 x BENCH_SCALE events (workers registered, departed and some returned, over 2,000 villages) are published
once; both consumers read them from the start of the stream. Figures go to bench/results/designation.json:
`designation_stats_events_per_s`, `raw_consume_events_per_s`, `designation_stats_vs_raw_consume` (goal >= 0.3),
and the counters are checked against the events' true totals.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import select

from bench.harness import RESULTS, now, print_summary, scale, write_results
from bench.stream import publish, raw_consume, servers
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.nats import EmbeddedNats
from demimas_common.devstack.postgres import EmbeddedPostgres
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.events.envelope import new_event
from demimas_common.skeleton import consumer_runner
from demimas_designation.adapters.tables import SCHEMA, village_counts
from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
from demimas_designation.app import SERVICE
from demimas_designation.service_layer.village_stats import VILLAGE_STATS

BATCH = 100


def _events(n: int) -> tuple[list[Any], Counter[tuple[str, str]]]:
    rng = random.Random(2026)
    villages = [f"{10 + i % 80:02d}.{10 + i // 80 % 90:02d}.{10 + i % 7:02d}.{2001 + i}" for i in range(2000)]
    events: list[Any] = []
    truth: Counter[tuple[str, str]] = Counter()
    while len(events) < n:
        worker, village = str(uuid.uuid4()), rng.choice(villages)
        procedural = rng.random() < 0.8
        steps: list[tuple[str, dict[str, Any]]] = [("registered", {"status": "CANDIDATE"}),
                 ("departed", {"status": "ABROAD", "procedural": procedural, "destinationCountry": "MY",
                               "scheme": "P_TO_P"})]  # fmt: skip
        status = "ABROAD"
        if rng.random() < 0.3:
            steps.append(("returned", {"status": "RETURNED"}))
            status = "RETURNED"
        if len(events) + len(steps) > n:
            break
        for version, (kind, extra) in enumerate(steps, start=1):
            data = {"workerId": worker, "villageCode": village, "version": version, **extra}
            events.append(new_event(f"demimas.registry.worker.{kind}", worker, data))
        truth[(village, f"status:{status}")] += 1
        truth[(village, "departed")] += 1
        truth[(village, "procedural")] += procedural
    return events, truth


async def _project(runtime_url: str, nats_url: str, n: int) -> tuple[float, int]:
    """Handle batches until all n events are in, like the raw consume (a drain would add its final idle fetch)."""
    engine = create_engine(runtime_url, pool_size=2)
    consumer = consumer_runner(VILLAGE_STATS, engine, SCHEMA, nats_url, unit_of_work=DesignationUnitOfWork,
                               fetch_timeout=2.0)  # fmt: skip
    assert consumer.batch_size == BATCH
    start = time.perf_counter()
    handled = 0
    while handled < n:
        handled += await consumer.process_available()
    took = time.perf_counter() - start
    await consumer.close()
    await engine.dispose()
    return took, handled


async def _counters(runtime_url: str) -> Counter[tuple[str, str]]:
    engine = create_engine(runtime_url, pool_size=1)
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(village_counts.c.village_code, village_counts.c.counter, village_counts.c.value)
        )
        found = Counter({(v, c): n for v, c, n in rows if n})
    await engine.dispose()
    return found


async def _run(pg: EmbeddedPostgres, nats: EmbeddedNats, n: int) -> dict[str, Any]:
    await migrate_service(pg.url(), SERVICE)
    runtime = with_user(pg.url(), runtime_role("designation"))
    events, truth = _events(n)
    n = len(events)
    publish_s = await publish(nats.url, events)
    raw_s = await raw_consume(nats.url, n, subject="demimas.registry.worker.>", batch=BATCH)
    project_s, handled = await _project(runtime, nats.url, n)
    counters = await _counters(runtime)
    expected = Counter({k: v for k, v in truth.items() if v})
    return {
        "bench_scale": scale(),
        "events": n,
        "publish_s": round(publish_s, 2),
        "raw_consume_events_per_s": round(n / raw_s, 1),
        "designation_stats_events_per_s": round(handled / project_s, 1),
        "designation_stats_vs_raw_consume": round((handled / project_s) / (n / raw_s), 3),
        "goal_vs_raw_consume": 0.3,
        "counters_equal_truth": counters == expected,
        "batch_size": BATCH,
        "date": now(),
    }


def main() -> int:
    with servers("designation") as (pg, nats):
        figures = asyncio.run(_run(pg, nats, int(200_000 * scale())))
    write_results(RESULTS / "designation.json", figures)
    print_summary(figures)
    return 0 if figures["counters_equal_truth"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
