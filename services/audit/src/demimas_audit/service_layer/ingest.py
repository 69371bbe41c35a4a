"""The audit's durable consumer `all` on `demimas.>`: every event, in stream order, into the hash chain.

Unlike the other consumers it validates nothing beyond "a JSON object": an event that breaks its contract is still
evidence. Each fetched batch is appended in one transaction (behind the writer's head lock) and acked after the
commit, so a crash between commit and ack only causes a redelivery the head skips. With a backlog the next batch is
fetched while this one is written (it stays unacked until its turn). A message that is not a JSON object is kept
out of the chain, logged and acked (its sequence then shows as a gap)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_audit.adapters.store import Incoming, append_batch
from demimas_common.events.metrics import CONSUMER_LAG, PROCESSED
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM
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
        self.nats_url = nats_url
        self.durable = durable
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.ack_wait = ack_wait
        self._nc: Client | None = None
        self._sub: Any = None
        self._prefetch: asyncio.Future[list[Msg]] | None = None
        self._stopping = False
        self._lag_at = -1.0

    async def _subscription(self) -> Any:
        if self._sub is None or self._nc is None or self._nc.is_closed:
            self._nc = await connect(self.nats_url, name=f"audit-{self.durable}", connect_timeout=1.0)
            js = self._nc.jetstream()
            config = ConsumerConfig(
                durable_name=self.durable,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                max_deliver=-1,
                filter_subject="demimas.>",
                max_ack_pending=max(1000, self.batch_size * 4),
            )
            await js.add_consumer(STREAM, config)
            self._sub = await js.pull_subscribe_bind(self.durable, stream=STREAM)
        return self._sub

    async def _fetch(self, sub: Any) -> list[Msg]:
        try:
            messages: list[Msg] = await sub.fetch(self.batch_size, timeout=self.fetch_timeout)
        except (NatsTimeout, TimeoutError):
            return []
        return messages

    async def process_available(self) -> int:
        """Fetch and append one batch; returns how many messages it held."""
        sub = await self._subscription()
        if self._prefetch is not None:
            prefetch, self._prefetch = self._prefetch, None
            messages = await prefetch
        else:
            messages = await self._fetch(sub)
        if len(messages) == self.batch_size:
            self._prefetch = asyncio.ensure_future(self._fetch(sub))
        if messages:
            await self._append(messages)
        return len(messages)

    async def _append(self, messages: list[Msg]) -> None:
        batch: list[Incoming] = []
        for msg in messages:
            try:
                body = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                body = None
            if not isinstance(body, dict):
                log.error(
                    "audit: message %d on %s is not a JSON object; not chained",
                    msg.metadata.sequence.stream,
                    msg.subject,
                )
                continue
            batch.append(Incoming(msg.metadata.sequence.stream, body))
        with tracer.start_as_current_span("audit append", attributes={"batch.size": len(batch)}):
            async with self.engine.begin() as conn:
                added = await append_batch(conn, batch)
        for item in batch:  # a span per event in its own trace, so auditTrace's trace shows the audit too
            parent = extract_context(
                item.body.get("traceparent") if isinstance(item.body.get("traceparent"), str) else None
            )
            tracer.start_span(
                f"audit {item.body.get('type', '')}",
                context=parent,
                attributes={"event.id": str(item.body.get("id", ""))},
            ).end()
        for msg in messages:
            await msg.ack()
        PROCESSED.labels(self.durable).inc(added)
        now = time.monotonic()
        if now - self._lag_at >= 1.0:  # the lag gauge costs a request: once a second is enough
            self._lag_at = now
            with contextlib.suppress(Exception):
                info = await self._sub.consumer_info()
                CONSUMER_LAG.labels(self.durable).set(info.num_pending + info.num_ack_pending)

    async def drain(self, *, idle_passes: int = 1) -> int:
        total, idle = 0, 0
        while idle < idle_passes:
            handled = await self.process_available()
            total += handled
            idle = idle + 1 if handled == 0 else 0
        return total

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
                    log.warning("audit ingest: %s: %s; retrying", type(exc).__name__, exc)
                    await self.close()
                    await asyncio.sleep(backoff)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._prefetch is not None:
            prefetch, self._prefetch = self._prefetch, None
            prefetch.cancel()
            with contextlib.suppress(BaseException):
                for msg in await prefetch:
                    await msg.nak()
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.close()
        self._nc, self._sub = None, None
