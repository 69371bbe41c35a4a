"""Reading the DEMIMAS stream from a point (a sequence or a time) with a short-lived pull consumer: the change feed
(`changes`, `demimas feeds export` through it) and replays read events here, never from a database copy.

Each read makes an ephemeral pull consumer (no acks, in memory, removed after the read or, if this process dies,
by the server after `inactive_threshold`), filtered server-side on the subjects the caller asked for, and fetches in
batches until it has scanned `max_messages`, reached the end of the stream, or the caller says it has enough.
The connection is opened on first use and kept for the process."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from demimas_common.errors import Unavailable
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM

__all__ = ["StreamMessage", "StreamReader", "subjects_for"]

log = logging.getLogger("demimas.feeds.stream")
FETCH_BATCH = 500
FETCH_TIMEOUT = 2.0


@dataclass(frozen=True)
class StreamMessage:
    sequence: int
    data: bytes
    pending: int
    """Messages of the consumer's subjects still after this one in the stream (when it was read)."""


def _covers(wide: str, narrow: str) -> bool:
    if wide == narrow:
        return True
    if wide.endswith(".>"):
        return narrow.startswith(wide[:-1])
    if wide.endswith(".*") and not narrow.endswith(".>"):
        w, n = wide.split("."), narrow.split(".")
        return len(w) == len(n) and w[:-1] == n[:-1]
    return False


def subjects_for(patterns: Sequence[str] | None) -> list[str]:
    """NATS filter subjects for type patterns (exact, `prefix.*` on whole segments, `*`), none covered by another
    (the server refuses overlapping filters). `demimas.registry.*` (any depth) is `demimas.registry.>`."""
    if not patterns or "*" in patterns:
        return ["demimas.>"]
    subjects = [p[:-1] + ">" if p.endswith(".*") else p for p in dict.fromkeys(patterns)]
    kept = [s for s in subjects if not any(o != s and _covers(o, s) for o in subjects)]
    return sorted(dict.fromkeys(kept))


class StreamReader:
    def __init__(self, nats_url: str, *, name: str = "feeds-stream-reader") -> None:
        self.nats_url = nats_url
        self.name = name
        self._nc: Client | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()

    async def _client(self) -> Client:
        async with self._lock:
            if self._nc is None or self._nc.is_closed:
                try:
                    self._nc = await connect(self.nats_url, name=self.name, connect_timeout=2.0)
                except Exception as exc:
                    raise Unavailable("the event stream is not reachable; try again shortly") from exc
            return self._nc

    async def bounds(self) -> tuple[int, int]:
        """The stream's first and last sequences now."""
        info = await (await self._client()).jetstream().stream_info(STREAM)
        return int(info.state.first_seq), int(info.state.last_seq)

    async def read(
        self,
        *,
        after: int | None = None,
        since: dt.datetime | None = None,
        subjects: Sequence[str] = ("demimas.>",),
        max_messages: int = 10_000,
    ) -> AsyncGenerator[StreamMessage, None]:
        """The messages after sequence `after` (or from time `since`, or from the stream's start), in order, at most
        `max_messages`; the caller may stop early (closing the iterator removes the consumer)."""
        js = (await self._client()).jetstream()
        if after is not None:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
        elif since is not None:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since)
        else:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        config.ack_policy = AckPolicy.NONE
        config.mem_storage = True
        config.inactive_threshold = 30.0
        config.max_ack_pending = -1
        subject = subjects[0]
        if len(subjects) > 1:
            config.filter_subjects = list(subjects)
        sub: Any = await js.pull_subscribe(subject, stream=STREAM, config=config)
        try:
            info = await sub.consumer_info()
            remaining = min(int(info.num_pending), max_messages)
            while remaining > 0:
                try:
                    msgs = await sub.fetch(batch=min(FETCH_BATCH, remaining), timeout=FETCH_TIMEOUT)
                except (NatsTimeout, TimeoutError):
                    return  # the server holds nothing more for us now
                for msg in msgs:
                    meta = msg.metadata
                    remaining -= 1
                    yield StreamMessage(int(meta.sequence.stream), msg.data, int(meta.num_pending))
                    if meta.num_pending == 0:
                        return
        finally:
            await self._drop(sub)

    async def _drop(self, sub: Any) -> None:
        try:
            name = sub._consumer  # the ephemeral consumer's server-side name
            await sub.unsubscribe()
            if name and self._nc is not None and not self._nc.is_closed:
                await self._nc.jetstream().delete_consumer(STREAM, name)
        except Exception as exc:  # the server removes it after inactive_threshold anyway
            log.debug("feeds stream reader: dropping a consumer: %s", type(exc).__name__)

    # a background worker of the app, so that the skeleton closes the connection at shutdown

    async def run(self) -> None:
        await self._stop.wait()

    def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.close()
            except Exception as exc:
                log.debug("feeds stream reader: close: %s", type(exc).__name__)
        self._nc = None
