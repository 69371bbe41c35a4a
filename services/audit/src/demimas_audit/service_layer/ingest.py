"""The audit's durable consumer `all` on `demimas.>`: every event, in stream order, into the hash chain.

Unlike the other consumers it validates nothing beyond "a JSON object": an event that breaks its contract is still
evidence. Each fetched batch is appended in one transaction (behind the writer's head lock) and acked after the
commit, so a crash between commit and ack only causes a redelivery the head skips. With a backlog the next batch is
fetched while this one is written (`Puller`). A message that is not a JSON object is kept
out of the chain, logged and acked (its sequence then shows as a gap)."""

from __future__ import annotations

import logging

import orjson
from nats.aio.msg import Msg
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_audit.adapters.store import Incoming, append_batch
from demimas_common.events.metrics import PROCESSED
from demimas_common.events.puller import Puller
from demimas_common.telemetry import extract_context

__all__ = ["AuditIngest"]

log = logging.getLogger("demimas.audit")
tracer = trace.get_tracer("demimas.audit")


class AuditIngest:
    def __init__(
        self,
        engine: AsyncEngine,
        nats_url: str,
        *,
        durable: str = "all",
        batch_size: int = 100,
        fetch_timeout: float = 1.0,
        ack_wait: float = 30.0,
    ) -> None:
        self.engine = engine
        self.durable = durable
        self.pull = Puller(nats_url, durable=durable, subjects=["demimas.>"], batch_size=batch_size,
                           fetch_timeout=fetch_timeout, ack_wait=ack_wait)  # fmt: skip

    async def process_available(self) -> int:
        """Fetch and append one batch; returns how many messages it held."""
        messages = await self.pull.next_batch()
        if messages:
            await self._append(messages)
        await self.pull.update_lag()
        return len(messages)

    async def _append(self, messages: list[Msg]) -> None:
        batch: list[Incoming] = []
        for msg in messages:
            try:
                body = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                body = None
            if not isinstance(body, dict):
                log.error("audit: message %d on %s is not a JSON object; not chained", msg.metadata.sequence.stream,
                          msg.subject)  # fmt: skip
                continue
            batch.append(Incoming(msg.metadata.sequence.stream, body))
        with tracer.start_as_current_span("audit append", attributes={"batch.size": len(batch)}):
            async with self.engine.begin() as conn:
                added = await append_batch(conn, batch)
        for item in batch:  # a span per event in its own trace, so auditTrace's trace shows the audit too
            traceparent = item.body.get("traceparent")
            parent = extract_context(traceparent if isinstance(traceparent, str) else None)
            tracer.start_span(f"audit {item.body.get('type', '')}", context=parent,
                              attributes={"event.id": str(item.body.get("id", ""))}).end()  # fmt: skip
        for msg in messages:
            await msg.ack()
        PROCESSED.labels(self.durable).inc(added)

    async def drain(self, *, idle_passes: int = 1) -> int:
        total, idle = 0, 0
        while idle < idle_passes:
            handled = await self.process_available()
            total += handled
            idle = idle + 1 if handled == 0 else 0
        return total

    def stop(self) -> None:
        self.pull.stop()

    async def run(self, *, backoff: float = 1.0) -> None:
        await self.pull.run(self.process_available, backoff=backoff)

    async def close(self) -> None:
        await self.pull.close()
