"""A durable pull consumer on the DEMIMAS stream, the part every consumer shares: connect and bind (creating the
durable consumer with explicit acks, deliveries counted by the caller), fetch in batches, and with a backlog fetch
the next batch while the current one is handled (its messages stay unacked until their own turn, so order and
at-least-once are unchanged; catching up then costs the handling only, not a fetch round trip per batch). At close,
a batch fetched ahead and never handled is handed back (nak) so another replica gets it at once, not after ack_wait.
The consumer lag gauge is refreshed at most once per `lag_interval` (it costs a request)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from demimas_common.events.metrics import CONSUMER_LAG
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM

__all__ = ["Puller"]

log = logging.getLogger("demimas.consumer")


class Puller:
    def __init__(self, nats_url: str, *, durable: str, subjects: Sequence[str], batch_size: int = 100,
                 fetch_timeout: float = 1.0, ack_wait: float = 30.0, lag_interval: float = 1.0) -> None:  # fmt: skip
        self.nats_url = nats_url
        self.durable = durable
        self.subjects = list(subjects)
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.ack_wait = ack_wait
        self.lag_interval = lag_interval
        self._lag_at = -lag_interval
        self._nc: Client | None = None
        self._sub: Any = None
        self._prefetch: asyncio.Future[list[Msg]] | None = None
        self._stopping = False

    @property
    def fetching_ahead(self) -> bool:
        return self._prefetch is not None

    async def _subscription(self) -> Any:
        if self._sub is None or self._nc is None or self._nc.is_closed:
            self._nc = await connect(self.nats_url, name=f"consumer-{self.durable}", connect_timeout=1.0)
            js = self._nc.jetstream()
            config = ConsumerConfig(
                durable_name=self.durable,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                max_deliver=-1,  # attempts are counted by the caller, so a poison event is dead-lettered, not dropped
                filter_subjects=self.subjects if len(self.subjects) > 1 else None,
                filter_subject=self.subjects[0] if len(self.subjects) == 1 else None,
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

    async def next_batch(self) -> list[Msg]:
        """The next batch in stream order (empty when nothing waited for `fetch_timeout`)."""
        sub = await self._subscription()
        if self._prefetch is not None:
            prefetch, self._prefetch = self._prefetch, None
            messages = await prefetch
        else:
            messages = await self._fetch(sub)
        if len(messages) == self.batch_size:
            self._prefetch = asyncio.ensure_future(self._fetch(sub))
        return messages

    async def update_lag(self) -> None:
        now = time.monotonic()
        if self._sub is None or now - self._lag_at < self.lag_interval:
            return
        self._lag_at = now
        with contextlib.suppress(Exception):
            info = await self._sub.consumer_info()
            CONSUMER_LAG.labels(self.durable).set(info.num_pending + info.num_ack_pending)

    def stop(self) -> None:
        self._stopping = True

    async def run(self, step: Callable[[], Awaitable[int]], *, backoff: float = 1.0) -> None:
        """Call `step` (handle one batch) until stopped; after a failure, reconnect and go on."""
        try:
            while not self._stopping:
                try:
                    await step()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("%s: %s: %s; retrying", self.durable, type(exc).__name__, exc)
                    await self.close()  # a fresh connection and subscription on the next pass
                    await asyncio.sleep(backoff)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._prefetch is not None:
            prefetch, self._prefetch = self._prefetch, None
            prefetch.cancel()
            with contextlib.suppress(BaseException):
                for msg in await prefetch:  # fetched, never handled: hand them back now, not after ack_wait
                    await msg.nak()
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.close()
        self._nc, self._sub = None, None
