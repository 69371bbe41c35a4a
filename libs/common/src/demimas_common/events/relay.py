"""The outbox relay: publishes committed outbox rows to JetStream and marks them published after the ack.

One pass claims the oldest unpublished rows with `FOR UPDATE SKIP LOCKED` (so several replicas can relay the same
schema without publishing a row twice at once), publishes them concurrently with `Nats-Msg-Id` = event id, waits
for every ack, and stamps `published_at` in the same transaction. If NATS is down or an ack times out, the
transaction records the attempt and rolls the claim back: the rows stay unpublished and are retried with backoff.
A row published but not stamped (a crash between ack and commit) is published again; JetStream's duplicate window
and every consumer's inbox make that harmless. The loop wakes on `LISTEN <schema>_outbox` and polls as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson
from nats.aio.client import Client
from opentelemetry import trace
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.db.urls import asyncpg_dsn
from demimas_common.events.metrics import OUTBOX_PUBLISHED, RELAY_FAILURES
from demimas_common.events.nats import connect
from demimas_common.events.tables import notify_channel
from demimas_common.telemetry import extract_context

__all__ = ["OutboxRelay"]

log = logging.getLogger("demimas.relay")
tracer = trace.get_tracer("demimas.relay")


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        schema: str,
        nats_url: str,
        *,
        batch_size: int = 500,
        retention_days: int = 30,
        ack_timeout: float = 5.0,
        poll_interval: float = 2.0,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.nats_url = nats_url
        self.batch_size = batch_size
        self.retention = dt.timedelta(days=retention_days)
        self.ack_timeout = ack_timeout
        self.poll_interval = poll_interval
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._nc: Client | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_cleanup = 0.0

    # -- one pass ------------------------------------------------------------------------------------------------
    async def _client(self) -> Client:
        if self._nc is None or self._nc.is_closed:
            self._nc = await connect(self.nats_url, name=f"relay-{self.schema}", connect_timeout=1.0)
        return self._nc

    async def publish_pending(self) -> int:
        """Publish every unpublished row, batch by batch; returns how many were published. Raises when NATS or
        PostgreSQL fails (the rows stay unpublished)."""
        total = 0
        while True:
            published = await self._publish_batch()
            total += published
            if published < self.batch_size:
                return total

    async def _publish_batch(self) -> int:
        outbox = f'"{self.schema}".outbox'
        async with self.engine.connect() as conn, conn.begin() as tx:
            rows = (
                await conn.execute(
                    text(
                        f"SELECT seq, id, type, payload, traceparent FROM {outbox} "  # noqa: S608 - our schema name
                        "WHERE published_at IS NULL ORDER BY seq LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"n": self.batch_size},
                )
            ).all()
            if not rows:
                return 0
            with tracer.start_as_current_span(
                "outbox.publish", context=extract_context(rows[0].traceparent), attributes={"batch": len(rows)}
            ):
                try:
                    await self._publish_rows(rows)
                except Exception as exc:
                    await tx.rollback()
                    await self._record_failure([r.seq for r in rows], exc)
                    raise
            await conn.execute(
                text(f"UPDATE {outbox} SET published_at = now() WHERE seq IN :seqs").bindparams(  # noqa: S608
                    bindparam("seqs", expanding=True)
                ),
                {"seqs": [r.seq for r in rows]},
            )
        OUTBOX_PUBLISHED.labels(self.schema).inc(len(rows))
        return len(rows)

    async def _publish_rows(self, rows: Sequence[Any]) -> None:
        js = (await self._client()).jetstream()
        futures = []
        for row in rows:
            headers = {"Nats-Msg-Id": str(row.id), "Ce-Type": row.type}
            if row.traceparent:
                headers["traceparent"] = row.traceparent
            body = row.payload if isinstance(row.payload, bytes | str) else orjson.dumps(row.payload)
            futures.append(await js.publish_async(row.type, body if isinstance(body, bytes) else body.encode(),
                                                  headers=headers))  # fmt: skip
        try:
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self.ack_timeout)
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    async def _record_failure(self, seqs: list[int], exc: BaseException) -> None:
        RELAY_FAILURES.labels(self.schema).inc()
        with contextlib.suppress(Exception):
            async with self.engine.begin() as conn:
                await conn.execute(
                    text(
                        f'UPDATE "{self.schema}".outbox SET attempts = attempts + 1, last_error = :e '  # noqa: S608
                        "WHERE seq IN :seqs"
                    ).bindparams(bindparam("seqs", expanding=True)),
                    {"e": f"{type(exc).__name__}: {exc}"[:500], "seqs": seqs},
                )

    async def cleanup(self) -> int:
        """Drop published rows older than the retention period (replay reaches back that far)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                text(f'DELETE FROM "{self.schema}".outbox WHERE published_at < :cutoff'),  # noqa: S608
                {"cutoff": dt.datetime.now(dt.UTC) - self.retention},
            )
        return int(result.rowcount or 0)

    async def replay(self, since: dt.datetime) -> int:
        """Queue every row published since `since` for publishing again."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                text(f'UPDATE "{self.schema}".outbox SET published_at = NULL WHERE published_at >= :since'),  # noqa: S608
                {"since": since},
            )
        self._wake.set()
        return int(result.rowcount or 0)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.close()
        self._nc = None

    async def publish_once(self) -> int:
        """Publish what is pending now and close the connection (tests, commands)."""
        try:
            return await self.publish_pending()
        finally:
            await self.close()

    # -- the loop ------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name=f"relay-listen-{self.schema}")
        backoff = self.min_backoff
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self.publish_pending()
                    backoff = self.min_backoff
                    await self._maybe_cleanup()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("outbox relay %s: %s: %s; retrying in %.1f s", self.schema, type(exc).__name__,
                                str(exc)[:200], backoff)  # fmt: skip
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await self.close()

    async def _maybe_cleanup(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_cleanup > 3600:
            self._last_cleanup = now
            await self.cleanup()

    async def _listen(self) -> None:
        """Wake the loop on NOTIFY; reconnect quietly when PostgreSQL restarts (polling covers the gap)."""
        dsn = asyncpg_dsn(self.engine.url.render_as_string(hide_password=False))
        while not self._stopping:
            try:
                conn = await asyncpg.connect(dsn)
                lost = asyncio.Event()
                try:
                    conn.add_termination_listener(lambda *_, lost=lost: lost.set())
                    await conn.add_listener(notify_channel(self.schema), lambda *_: self._wake.set())
                    self._wake.set()  # notifications sent while we were away are lost: look once
                    await lost.wait()
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(1.0)
