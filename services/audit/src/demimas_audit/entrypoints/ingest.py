"""The audit's reader of `demimas.>`: every event, in stream order, into the hash chain (a background worker of
the service skeleton; the use cases it drives, each in a unit of work, are in `service_layer/ingest.py`).

The position is the store's own: each (re)start reads with an ordered consumer from the stream sequence after the
writer's head, and each batch is appended in one transaction that moves the head. A crash, a failed batch or a
restart therefore re-reads from exactly where the chain ends; nothing an acknowledgement protocol might redeliver
late (after newer messages) can be skipped or reordered, which a chain cannot afford. Only one replica reads: the
one holding the ingest lock (a PostgreSQL advisory lock on a connection of its own); another replica waits and
takes over when that session ends.

It validates nothing beyond "a JSON object": an event that breaks its contract is still evidence. A message that is
not a JSON object is logged and left out (its sequence then shows as a gap)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from demimas_audit.adapters.ingest_lock import release_ingest_lock, take_ingest_lock
from demimas_audit.adapters.stream import StreamMessage, StreamReader
from demimas_audit.adapters.tables import SCHEMA
from demimas_audit.adapters.unit_of_work import AuditUnitOfWork
from demimas_audit.domain.commands import AppendBatch, LinkBatch
from demimas_audit.domain.ingest import Head, Incoming, Prepared, incoming
from demimas_audit.service_layer import ingest
from demimas_common.events.consumer import drain
from demimas_common.events.metrics import CONSUMER_LAG, PROCESSED
from demimas_common.telemetry import extract_context, spans_recorded

__all__ = ["AuditIngest"]

log = logging.getLogger("demimas.audit")
tracer = trace.get_tracer("demimas.audit")


class AuditIngest:
    def __init__(self, engine: AsyncEngine, nats_url: str, *, durable: str = "all", batch_size: int = 100,
                 fetch_timeout: float = 1.0, standby_wait: float = 2.0, linger: float = 0.02) -> None:  # fmt: skip
        self.engine = engine
        self.nats_url = nats_url
        self.durable = durable
        """The name under which the reader reports (metrics, logs)."""
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.standby_wait = standby_wait
        self.linger = linger
        self._lock: AsyncConnection | None = None
        self._reader: StreamReader | None = None
        self._stopping = False
        self._lag_at = -1.0
        self._head: Head | None = None
        """Where the chain ends once the batch being written commits (batches are linked in memory, in order)."""
        self._writing: asyncio.Task[None] | None = None
        self._in_flight: set[uuid.UUID] = set()

    def _unit_of_work(self) -> AuditUnitOfWork:
        return AuditUnitOfWork(self.engine, schema=SCHEMA)

    @property
    def leading(self) -> bool:
        """Whether this replica holds the ingest lock (reads the stream)."""
        return self._lock is not None

    async def _lead(self) -> bool:
        """Hold the ingest lock (kept for the life of a dedicated connection, outside any transaction)."""
        if self._lock is not None:
            return True
        self._lock = await take_ingest_lock(self.engine)
        return self._lock is not None

    async def _stream(self) -> StreamReader:
        """The reader of the stream, (re)opened after the chain's head when there is none or its connection closed."""
        if self._reader is None or self._reader.closed:
            async with self._unit_of_work() as uow:
                position = await ingest.stream_position(uow)
            self._reader = await StreamReader.open(self.nats_url, name=f"audit-{self.durable}", after=position)
        return self._reader

    async def process_available(self) -> int:
        """Append the next batch (what arrived within `fetch_timeout`, up to `batch_size`); how many it held."""
        if not await self._lead():
            await asyncio.sleep(self.standby_wait)
            return 0
        reader = await self._stream()
        first = await reader.next(self.fetch_timeout)
        if first is None:
            await self._written()
            return 0
        messages = [first]
        # Fill the batch from what is arriving (a backlog fills it at once; live traffic waits at most `linger`):
        # one transaction, one fsync per batch, not per trickle.
        until = time.monotonic() + self.linger
        while len(messages) < self.batch_size:
            wait = until - time.monotonic()
            if reader.pending == 0 and wait <= 0:
                break
            msg = await reader.next(max(wait, 0.001))
            if msg is None:
                break
            messages.append(msg)
        await self._append(messages)
        await self._update_lag()
        return len(messages)

    async def _append(self, messages: list[StreamMessage]) -> None:
        """Link the batch to the chain in memory while the previous one is still being written, then write it once
        that one has committed: reading and hashing overlap the database's work, the order of commits is the
        order of the chain, and a failure stops both (the next pass re-reads from the committed head)."""
        batch: list[Incoming] = []
        for msg in messages:
            item = incoming(msg.stream_seq, msg.data)
            if item is None:
                log.error("audit: message %d on %s is not a JSON object; not chained", msg.stream_seq, msg.subject)
                continue
            batch.append(item)
        async with self._unit_of_work() as uow:
            prepared = await ingest.link_batch(LinkBatch(batch, self._head, self._in_flight), uow)
        await self._written()  # the previous batch has committed
        self._head, self._in_flight = prepared.end, prepared.ids
        self._writing = asyncio.ensure_future(self._write(prepared))
        for item in batch if spans_recorded() else ():  # a span per event in its own trace (when spans go anywhere)
            traceparent = item.body.get("traceparent")
            parent = extract_context(traceparent if isinstance(traceparent, str) else None)
            tracer.start_span(f"audit {item.body.get('type', '')}", context=parent,
                              attributes={"event.id": str(item.body.get("id", ""))}).end()  # fmt: skip

    async def _write(self, prepared: Prepared) -> None:
        with tracer.start_as_current_span("audit append", attributes={"batch.size": prepared.added}):
            async with self._unit_of_work() as uow:
                await ingest.append_batch(AppendBatch(prepared), uow)
        PROCESSED.labels(self.durable).inc(prepared.added)

    async def _written(self) -> None:
        """Wait for the batch being written; its failure is raised here (and the in-memory chain forgotten)."""
        if self._writing is None:
            return
        writing, self._writing = self._writing, None
        try:
            await writing
        except BaseException:
            self._head, self._in_flight = None, set()
            raise

    async def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_at < 1.0 or self._reader is None:
            return
        self._lag_at = now
        with contextlib.suppress(Exception):
            last = await self._reader.last_seq()
            async with self._unit_of_work() as uow:
                position = await ingest.stream_position(uow)
            CONSUMER_LAG.labels(self.durable).set(max(0, last - position))

    async def drain(self, *, idle_passes: int = 1) -> int:
        return await drain(self.process_available, idle_passes=idle_passes)

    def stop(self) -> None:
        self._stopping = True

    async def run(self, *, backoff: float = 1.0) -> None:
        try:
            while not self._stopping:
                try:
                    await self.process_available()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("audit ingest: %s: %s; re-reading from the chain's head", type(exc).__name__, exc)
                    await self.close()
                    await asyncio.sleep(backoff)
        finally:
            await self.close()

    async def close(self) -> None:
        """Finish the batch being written, stop reading and give up the lock (another replica may take over)."""
        with contextlib.suppress(Exception):
            await self._written()
        self._head, self._in_flight = None, set()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader.close()
        self._reader = None
        if self._lock is not None:
            with contextlib.suppress(Exception):  # the pool keeps the session: release the lock explicitly
                await release_ingest_lock(self._lock)
            with contextlib.suppress(Exception):
                await self._lock.close()
            self._lock = None
