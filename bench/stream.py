"""What the consumer benchmarks share: their own throw-away durable PostgreSQL (fsync on) and NATS, publishing the
generated events to the stream, and the bare consume they are measured against (same batch size, explicit
per-message acks, the next batch fetched while the current one is acked, as `Puller` does; nothing else)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from demimas_common.devstack.nats import EmbeddedNats
from demimas_common.devstack.postgres import EmbeddedPostgres
from demimas_common.events.envelope import CloudEvent
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM, ensure_stream

__all__ = ["publish", "raw_consume", "raw_read_ordered", "servers"]


@contextmanager
def servers(name: str) -> Iterator[tuple[EmbeddedPostgres, EmbeddedNats]]:
    """A durable embedded PostgreSQL and a NATS server in a temporary folder, stopped and deleted on leaving."""
    work = Path(tempfile.mkdtemp(prefix=f"demimas-bench-{name}-"))
    pg = EmbeddedPostgres(work / "pg", durable=True)
    nats = EmbeddedNats(work / "nats")
    pg.start()
    try:
        nats.start()
        try:
            yield pg, nats
        finally:
            nats.stop()
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


async def publish(nats_url: str, events: list[CloudEvent]) -> float:
    """Seconds to publish `events` (500 in flight), with their ids and trace context as headers."""
    nc = await connect(nats_url, name="bench-publish")
    js = nc.jetstream()
    await ensure_stream(js)
    start = time.perf_counter()
    for i in range(0, len(events), 500):
        chunk = events[i : i + 500]
        await asyncio.gather(
            *(js.publish(e.type, e.to_json(), headers={"Nats-Msg-Id": e.id, "traceparent": e.traceparent or ""})
              for e in chunk)
        )  # fmt: skip
    took = time.perf_counter() - start
    await nc.close()
    return took


async def raw_consume(nats_url: str, n: int, *, subject: str, batch: int) -> float:
    """Seconds to fetch and ack `n` messages of `subject` from the start of the stream, parsing each (JSON)."""
    nc = await connect(nats_url, name="bench-raw")
    js = nc.jetstream()
    config = ConsumerConfig(durable_name="bench-raw", deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT,
                            filter_subject=subject, max_ack_pending=4000)  # fmt: skip
    await js.add_consumer(STREAM, config)
    sub = await js.pull_subscribe_bind("bench-raw", stream=STREAM)
    seen = 0
    start = time.perf_counter()
    pending = asyncio.ensure_future(sub.fetch(batch, timeout=5))
    while seen < n:
        messages = await pending
        if seen + len(messages) < n:
            pending = asyncio.ensure_future(sub.fetch(batch, timeout=5))
        for msg in messages:
            orjson.loads(msg.data)
            await msg.ack()
            seen += 1
    took = time.perf_counter() - start
    await nc.close()
    return took


async def raw_read_ordered(nats_url: str, n: int, *, subject: str) -> float:
    """Seconds to read `n` messages of `subject` from the start of the stream with an ordered consumer (no acks,
    the reader keeps its own position), parsing each (JSON): the audit ingest's way of reading, doing nothing else."""
    nc = await connect(nats_url, name="bench-raw-ordered")
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=1)
    sub = await nc.jetstream().subscribe(subject, stream=STREAM, ordered_consumer=True, config=config,
                                         idle_heartbeat=2.0)  # fmt: skip
    seen = 0
    start = time.perf_counter()
    while seen < n:
        msg = await sub.next_msg(timeout=5)
        orjson.loads(msg.data)
        seen += 1
    took = time.perf_counter() - start
    await nc.close()
    return took
