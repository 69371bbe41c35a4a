"""Audit benchmark (`make bench-audit`): the audit ingest's throughput on events replayed from JetStream, against a
bare read of the same messages in the ingest's own mode (an ordered consumer from a start sequence, no acks: the
store keeps its position) that does nothing else; and, for comparison with the other consumers, against a pull
consume with explicit per-message acks in batches of the same size. Same run, its own embedded PostgreSQL (fsync
on) and NATS; then the chain verified end to end.

N = 200,000 x BENCH_SCALE events (the registry's worker events and personal-data reads, designation and pillars
events, each with a trace context) are published once; both consumers read them from the start of the stream.
Figures to bench/results/audit.json: `audit_ingest_events_per_s`, `raw_consume_events_per_s`,
`audit_ingest_vs_raw_consume` (goal >= 0.3), `audit_ingest_vs_pull_ack_consume`, `audit_verify_events_per_s`, and
whether the chain verified intact.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from typing import Any

from bench.harness import RESULTS, now, print_summary, scale, write_results
from bench.stream import publish, raw_consume, raw_read_ordered, servers
from demimas_audit.adapters.queries import verify_range
from demimas_audit.app import SERVICE
from demimas_audit.entrypoints.ingest import AuditIngest
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.nats import EmbeddedNats
from demimas_common.devstack.postgres import EmbeddedPostgres
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.events.envelope import Actor, CloudEvent, new_event

BATCH = 100


def _events(n: int) -> list[CloudEvent]:
    rng = random.Random(2026)
    actor = Actor("KP2MI", "bench")
    out: list[CloudEvent] = []
    while len(out) < n:
        worker, village = str(uuid.uuid4()), f"16.06.{rng.randrange(10, 99)}.{rng.randrange(2001, 2020)}"
        traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        base = {"workerId": worker, "villageCode": village}
        kind = rng.random()
        if kind < 0.5:
            e = new_event(
                "demimas.registry.worker.registered", worker, {**base, "status": "CANDIDATE", "version": 1}, actor=actor
            )
        elif kind < 0.8:
            e = new_event(
                "demimas.registry.worker.departed",
                worker,
                {
                    **base,
                    "status": "ABROAD",
                    "version": 2,
                    "destinationCountry": "MY",
                    "scheme": "P_TO_P",
                    "procedural": True,
                },
                actor=actor,
            )
        elif kind < 0.95:
            e = new_event(
                "demimas.registry.personal_data.accessed",
                worker,
                {
                    "agency": "KP2MI",
                    "subject": "bench",
                    "purpose": "PLACEMENT_SERVICE",
                    "workerIds": [worker],
                    "fields": ["nik", "phone"],
                    "operation": "Bench",
                },
                actor=actor,
            )
        else:
            activity = str(uuid.uuid4())
            e = new_event(
                "demimas.pillars.activity.recorded",
                activity,
                {
                    "activityId": activity,
                    "villageCode": village,
                    "pillar": "REINTEGRATION",
                    "agency": "KP2MI",
                    "occurredOn": "2026-11-01",
                    "peopleReached": 12,
                },
                actor=actor,
            )
        out.append(e.with_traceparent(traceparent))
    return out


async def _ingest(runtime_url: str, nats_url: str, n: int) -> tuple[float, int]:
    engine = create_engine(runtime_url, pool_size=2)
    ingest = AuditIngest(engine, nats_url, batch_size=BATCH, fetch_timeout=2.0)
    start = time.perf_counter()
    handled = 0
    while handled < n:
        handled += await ingest.process_available()
    took = time.perf_counter() - start
    await ingest.close()
    await engine.dispose()
    return took, handled


async def _verify(runtime_url: str) -> tuple[float, Any]:
    engine = create_engine(runtime_url, pool_size=1)
    start = time.perf_counter()
    async with engine.connect() as conn:
        result = await verify_range(conn, None, None)
    took = time.perf_counter() - start
    await engine.dispose()
    return took, result


async def _run(pg: EmbeddedPostgres, nats: EmbeddedNats, n: int) -> dict[str, Any]:
    await migrate_service(pg.url(), SERVICE)
    runtime = with_user(pg.url(), runtime_role("audit"))
    events = _events(n)
    publish_s = await publish(nats.url, events)
    raw_s = await raw_consume(nats.url, n, subject="demimas.>", batch=BATCH)
    ordered_s = await raw_read_ordered(nats.url, n, subject="demimas.>")
    ingest_s, handled = await _ingest(runtime, nats.url, n)
    verify_s, verified = await _verify(runtime)
    ingest_rate, raw_rate, ordered_rate = handled / ingest_s, n / raw_s, n / ordered_s
    return {
        "bench_scale": scale(),
        "events": n,
        "publish_s": round(publish_s, 2),
        "raw_consume_events_per_s": round(ordered_rate, 1),
        "raw_consume_mode": "ordered consumer from a start sequence, no acks (how the ingest reads)",
        "audit_ingest_events_per_s": round(ingest_rate, 1),
        "audit_ingest_vs_raw_consume": round(ingest_rate / ordered_rate, 3),
        "pull_ack_consume_events_per_s": round(raw_rate, 1),
        "audit_ingest_vs_pull_ack_consume": round(ingest_rate / raw_rate, 3),
        "goal_vs_raw_consume": 0.3,
        "audit_verify_events_per_s": round(verified.checked / verify_s, 1),
        "chain_records": verified.checked,
        "chain_intact": not verified.problems and verified.head_seq == n,
        "batch_size": BATCH,
        "date": now(),
    }


def main() -> int:
    with servers("audit") as (pg, nats):
        figures = asyncio.run(_run(pg, nats, int(200_000 * scale())))
    write_results(RESULTS / "audit.json", figures)
    print_summary(figures)
    return 0 if figures["chain_intact"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
