"""Durable JetStream consumers with an idempotent inbox and a dead-letter table.

For each message of a fetched batch: one transaction inserts (consumer, event id) into the inbox — if it was
already there the event was applied before and is skipped — validates the event and runs the handler; after the
commit the message is acked. A redelivered or republished event therefore has one effect, whatever happens between
commit and ack. A failing event is retried (nak with a delay) until `max_attempts`, then written to the
dead-letter table with its error and acked, so it never blocks the events behind it; an event that cannot be
parsed or breaks its schema goes there at once. `retry_dead` republishes dead letters once the cause is fixed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

from nats.aio.msg import Msg
from opentelemetry import trace
from sqlalchemy import ARRAY, Uuid, bindparam, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from demimas_common.events.envelope import CloudEvent, InvalidEvent
from demimas_common.events.metrics import DEAD_LETTERED, DUPLICATES, PROCESSED
from demimas_common.events.nats import connect
from demimas_common.events.puller import Puller
from demimas_common.events.schemas import validate_event
from demimas_common.events.tables import event_tables
from demimas_common.telemetry import extract_context, spans_recorded

__all__ = ["BatchHandler", "EventConsumer", "Handler", "drain", "retry_dead"]

Handler = Callable[[AsyncConnection, CloudEvent], Awaitable[None]]
BatchHandler = Callable[[AsyncConnection, list[CloudEvent]], Awaitable[None]]
log = logging.getLogger("demimas.consumer")
tracer = trace.get_tracer("demimas.consumer")


async def drain(process_available: Callable[[], Awaitable[int]], *, idle_passes: int = 1) -> int:
    """Call `process_available` (one batch: how many messages it handled) until `idle_passes` calls in a row
    handled none; how many were handled in all. Every reader of the stream drains this way (tests, commands)."""
    total, idle = 0, 0
    while idle < idle_passes:
        handled = await process_available()
        total += handled
        idle = idle + 1 if handled == 0 else 0
    return total


class EventConsumer:
    def __init__(
        self,
        engine: AsyncEngine,
        schema: str,
        nats_url: str,
        *,
        durable: str,
        subjects: Sequence[str],
        handler: Handler,
        batch_handler: BatchHandler | None = None,
        batch_size: int = 100,
        max_attempts: int = 5,
        retry_delay: float = 1.0,
        ack_wait: float = 30.0,
        fetch_timeout: float = 1.0,
        lag_interval: float = 1.0,
    ) -> None:
        self.engine = engine
        self.tables = event_tables(schema)
        self.nats_url = nats_url
        self.durable = durable
        self.subjects = list(subjects)
        self.handler = handler
        self.batch_handler = batch_handler
        """Optional: a fetched batch's new events at once (in stream order), for handlers that gain from bulk
        statements; `handler` still serves the one-by-one path."""
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.pull = Puller(nats_url, durable=durable, subjects=subjects, batch_size=batch_size,
                           fetch_timeout=fetch_timeout, ack_wait=ack_wait, lag_interval=lag_interval)  # fmt: skip
        inbox = self.tables.inbox
        # One array parameter instead of a multi-row VALUES: compiled and prepared once, whatever the batch size.
        self._record_batch = (
            pg_insert(inbox)
            .from_select(
                [inbox.c.consumer, inbox.c.event_id],
                select(literal(durable), func.unnest(bindparam("ids", type_=ARRAY(Uuid)))),
            )
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )

    async def process_available(self) -> int:
        """Fetch and handle one batch; returns how many messages were handled (0 when none waited)."""
        messages = await self.pull.next_batch()
        if not (len(messages) > 1 and await self._handle_batch(messages)):
            for msg in messages:
                await self._handle(msg)
        await self.pull.update_lag()
        return len(messages)

    async def drain(self, *, idle_passes: int = 1) -> int:
        """Handle until nothing is left (for tests and commands)."""
        return await drain(self.process_available, idle_passes=idle_passes)

    async def _handle(self, msg: Msg) -> None:
        attempts = msg.metadata.num_delivered
        try:
            event = CloudEvent.from_json(msg.data)
            validate_event(event)
        except InvalidEvent as exc:
            await self._dead_letter(msg, None, exc, attempts)
            return
        parent = extract_context((msg.headers or {}).get("traceparent") or event.traceparent)
        with tracer.start_as_current_span(
            f"consume {event.type}", context=parent, attributes={"consumer": self.durable, "event.id": event.id}
        ):
            try:
                applied = await self._apply(event)
            except Exception as exc:
                if attempts >= self.max_attempts:
                    await self._dead_letter(msg, event.id, exc, attempts)
                else:
                    log.warning("%s: event %s failed (attempt %d): %s", self.durable, event.id, attempts, exc)
                    await msg.nak(delay=self.retry_delay * attempts)
                return
        await msg.ack()
        (PROCESSED if applied else DUPLICATES).labels(self.durable).inc()

    async def _handle_batch(self, messages: list[Msg]) -> bool:
        """The whole batch in one transaction (one commit, one fsync, instead of one per event), in stream order,
        each event still behind its inbox row. Any problem (an unreadable event, a handler error) rolls the batch
        back and returns False: the messages are then handled one by one, with retries and dead letters as usual."""
        try:
            events = [CloudEvent.from_json(msg.data) for msg in messages]
            for event in events:
                validate_event(event)
        except InvalidEvent:
            return False
        applied: list[bool] = []
        with tracer.start_as_current_span(
            "consume batch", attributes={"consumer": self.durable, "batch.size": len(events)}
        ):
            try:
                async with self.engine.begin() as conn:
                    ids = list(dict.fromkeys(uuid.UUID(e.id) for e in events))
                    inserted = await conn.execute(self._record_batch, {"ids": ids})
                    new = {str(r[0]) for r in inserted}
                    seen: set[str] = set()
                    for event in events:  # an id twice in one batch: the first one counts
                        applied.append(event.id in new and event.id not in seen)
                        seen.add(event.id)
                    fresh_events = [e for e, fresh in zip(events, applied, strict=True) if fresh]
                    if self.batch_handler is not None:
                        await self.batch_handler(conn, fresh_events)
                    else:
                        for event in fresh_events:
                            await self.handler(conn, event)
            except Exception as exc:
                log.info("%s: batch of %d fell back to one by one: %s", self.durable, len(events), exc)
                return False
        for msg, event in zip(messages, events, strict=True) if spans_recorded() else ():
            # the batch ran as one transaction; each event still gets its span in its own trace, so a trace shows
            # every consumer it reached
            parent = extract_context((msg.headers or {}).get("traceparent") or event.traceparent)
            attributes = {"consumer": self.durable, "event.id": event.id}
            tracer.start_span(f"consume {event.type}", context=parent, attributes=attributes).end()
        for msg, fresh in zip(messages, applied, strict=True):
            await msg.ack()
            (PROCESSED if fresh else DUPLICATES).labels(self.durable).inc()
        return True

    async def _apply(self, event: CloudEvent) -> bool:
        inbox = self.tables.inbox
        async with self.engine.begin() as conn:
            inserted = await conn.execute(
                pg_insert(inbox)
                .values(consumer=self.durable, event_id=uuid.UUID(event.id))
                .on_conflict_do_nothing()
                .returning(inbox.c.event_id)
            )
            if inserted.first() is None:
                return False
            await self.handler(conn, event)
        return True

    async def _dead_letter(self, msg: Msg, event_id: str | None, exc: BaseException, attempts: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(self.tables.dead_letter).values(
                    consumer=self.durable,
                    event_id=event_id,
                    subject=msg.subject,
                    stream_seq=msg.metadata.sequence.stream,
                    payload=msg.data.decode("utf-8", errors="replace"),
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                    attempts=attempts,
                )
            )
        await msg.term()
        DEAD_LETTERED.labels(self.durable).inc()
        log.error("%s: event %s dead-lettered after %d attempt(s): %s", self.durable, event_id, attempts, exc)

    def stop(self) -> None:
        self.pull.stop()

    async def run(self, *, backoff: float = 1.0) -> None:
        await self.pull.run(self.process_available, backoff=backoff)

    async def close(self) -> None:
        await self.pull.close()


async def retry_dead(engine: AsyncEngine, schema: str, nats_url: str, consumer: str | None = None) -> int:
    """Republish open dead letters to the stream. The envelope keeps its id (the consumer's inbox never saw it,
    its transaction having rolled back); the message id gets a suffix so the duplicate window lets it through."""
    table = event_tables(schema).dead_letter
    stmt = select(table).where(table.c.retried_at.is_(None)).order_by(table.c.id)
    if consumer is not None:
        stmt = stmt.where(table.c.consumer == consumer)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    if not rows:
        return 0
    nc = await connect(nats_url, name=f"retry-dead-{schema}", reconnect=False)
    try:
        js = nc.jetstream()
        for row in rows:
            headers = {"Nats-Msg-Id": f"{row.event_id or row.id}:retry:{row.id}", "Ce-Type": row.subject}
            await js.publish(row.subject, row.payload.encode(), headers=headers)
            async with engine.begin() as conn:
                await conn.execute(update(table).where(table.c.id == row.id).values(retried_at=func.now()))
    finally:
        await nc.close()
    return len(rows)
