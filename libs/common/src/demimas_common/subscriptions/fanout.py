"""One JetStream reader per process for live events, fanned out to the process's subscribers.

A thousand subscriptions must not mean a thousand consumers: the process reads its subject (e.g.
`demimas.registry.worker.>`) once, with an ordered ephemeral consumer that starts right after the stream's last
sequence when the process starts, parses each event once, and offers it to every in-process `Feed` whose subject
pattern matches, in stream order. A feed filters (its caller's region, the subscription's arguments) before it
queues, so a subscriber's queue holds only what it will be sent.

Each feed's queue is bounded (`limit`): a subscriber that does not keep up overflows, and its subscription ends
with SLOW_CONSUMER instead of the process buffering without end. While a feed is replaying (`replaying`), an
overflow only drops what it buffered: the replay reads on from the stream and picks those events up again (see
`live.py`).

Offering is synchronous (no await between reading the position and queueing), so a feed registered at position P
receives exactly the events with a sequence > P that the fan-out reads afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from demimas_common.errors import Unavailable
from demimas_common.events.envelope import CloudEvent, InvalidEvent
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM

__all__ = ["EventFanout", "Feed", "LiveEvent", "subject_matches"]

log = logging.getLogger("demimas.subscriptions")


@dataclass(frozen=True, slots=True)
class LiveEvent:
    sequence: int
    event: CloudEvent


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, a final `>` is one or more."""
    want, got = pattern.split("."), subject.split(".")
    for index, part in enumerate(want):
        if part == ">":
            return len(got) > index
        if index >= len(got) or (part != "*" and part != got[index]):
            return False
    return len(got) == len(want)


class Feed:
    """One subscription's view of the live events: those its subject and `accepts` let through, queued up to
    `limit`."""

    def __init__(self, subject: str, accepts: Callable[[CloudEvent], bool], limit: int) -> None:
        self.subject = subject
        self.accepts = accepts
        self.limit = limit
        self.queue: deque[LiveEvent] = deque()
        self.replaying = False
        self.overflowed = False
        self._ready = asyncio.Event()

    def offer(self, item: LiveEvent) -> None:
        if not subject_matches(self.subject, item.event.type):
            return
        try:
            wanted = self.accepts(item.event)
        except Exception as exc:  # a filter must not break the fan-out for the others
            log.warning("subscription filter failed on %s: %s", item.event.type, type(exc).__name__)
            return
        if not wanted:
            return
        if len(self.queue) >= self.limit:
            self.overflowed = True
            if self.replaying:
                self.queue.clear()  # the replay reads these again from the stream
            return
        self.queue.append(item)
        self._ready.set()

    async def wait(self, within: float | None) -> bool:
        """Until something is queued (True) or `within` seconds passed (False)."""
        if self.queue:
            return True
        self._ready.clear()
        try:
            async with asyncio.timeout(within):
                await self._ready.wait()
        except TimeoutError:
            return bool(self.queue)
        return True


class EventFanout:
    """The process's live reader of `subject` (a background worker of the service skeleton: `run`, `stop`,
    `close`)."""

    def __init__(self, nats_url: str, *, subject: str, name: str, queue_size: int = 1000) -> None:
        self.nats_url = nats_url
        self.subject = subject
        self.name = name
        self.queue_size = queue_size
        self.position = 0
        """The last stream sequence read (and offered to the feeds)."""
        self.feeds: set[Feed] = set()
        self._nc: Client | None = None
        self._sub: Any = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._started = False

    @property
    def connection(self) -> Client:
        if self._nc is None or self._nc.is_closed or not self._ready.is_set():
            raise Unavailable("live events are not available right now; subscribe again in a few seconds")
        return self._nc

    async def ready(self, within: float = 5.0) -> Client:
        """The NATS connection, once the fan-out reads (Unavailable if it does not within `within` seconds)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._ready.wait()
        return self.connection

    def register(self, feed: Feed) -> int:
        """Start offering live events to `feed`; the position it starts after."""
        self.feeds.add(feed)
        return self.position

    def unregister(self, feed: Feed) -> None:
        self.feeds.discard(feed)

    async def stream_bounds(self) -> tuple[int, int]:
        """The stream's first and last sequences now."""
        info = await (await self.ready()).jetstream().stream_info(STREAM)
        return int(info.state.first_seq), int(info.state.last_seq)

    async def run(self) -> None:
        """Connect and read until stopped; a failure to start is retried."""
        while not self._stop.is_set():
            try:
                await self._start()
                await self._stop.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: live events: %s: %s; retrying", self.name, type(exc).__name__, exc)
                await self.close()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._stop.wait()
        await self.close()

    async def _start(self) -> None:
        self._nc = await connect(self.nats_url, name=f"{self.name}-live", connect_timeout=2.0)
        js = self._nc.jetstream()
        if not self._started:  # live means from now; after a failed start, resume where reading stopped
            self.position = int((await js.stream_info(STREAM)).state.last_seq)
            self._started = True
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.position + 1)
        self._sub = await js.subscribe(
            self.subject, stream=STREAM, ordered_consumer=True, config=config, idle_heartbeat=2.0, cb=self._on_message
        )
        self._ready.set()
        log.info("%s: live events from %s after sequence %d", self.name, self.subject, self.position)

    async def _on_message(self, msg: Msg) -> None:
        sequence = msg.metadata.sequence.stream
        if sequence <= self.position:
            return  # already offered (a consumer reset after a reconnect may deliver it again)
        self.position = sequence
        try:
            event = CloudEvent.from_json(msg.data)
        except InvalidEvent as exc:
            log.warning("%s: live event %d is not a CloudEvent: %s", self.name, sequence, exc)
            return
        self.dispatch(LiveEvent(sequence, event))

    def dispatch(self, item: LiveEvent) -> None:
        for feed in tuple(self.feeds):
            feed.offer(item)

    def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        self._ready.clear()
        nc, self._nc, self._sub = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await nc.close()
