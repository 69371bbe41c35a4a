"""A subscription field's stream of events: replay from a cursor, hand over to the live fan-out, no gap and no
duplicate; the caller's region and token checked on every event.

    @strawberry.subscription
    async def worker_changed(self, info, filter=None, after=None) -> AsyncGenerator[WorkerChange, None]:
        principal = info.context.require_principal()
        return await live_events(info.context, EventQuery(
            subject="demimas.registry.worker.>", after=after, village_of=lambda e: e.data["villageCode"],
            matches=..., build=lambda cursor, event: WorkerChange.of(cursor, event)))

The resolver is a coroutine that returns the generator (not a generator itself): what can be refused up front (the
caller, the cursor) is refused before the stream opens, as a GraphQL `error` message rather than a `next` one.

Handover. The feed is registered with the fan-out first, so from then on every live event it accepts is queued.
Then a replay consumer (ordered, ephemeral, filtered on the subject) reads from `after + 1` to the end of the
stream (the message whose `num_pending` is 0). Everything before the registration is in the stream by then, and
everything after is in the queue; the queue is then drained skipping what the replay already sent (by sequence).
If the queue overflowed while the replay ran, it was emptied and the replay simply goes on from where it stopped.

Ends: the token's expiry (UNAUTHENTICATED, reason `expired`), a live queue that overflows (SLOW_CONSUMER with the
last cursor sent), or the client completing the operation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy

from demimas_common.auth.principal import Principal, region_covers
from demimas_common.errors import SlowConsumer, Unauthenticated, Unavailable
from demimas_common.events.envelope import CloudEvent, InvalidEvent
from demimas_common.events.stream import STREAM
from demimas_common.subscriptions.cursor import check_cursor, encode_cursor, parse_cursor
from demimas_common.subscriptions.fanout import EventFanout, Feed, LiveEvent

__all__ = ["EventQuery", "live_events", "visible_in_region"]

T = TypeVar("T")
log = logging.getLogger("demimas.subscriptions")
REPLAY_IDLE_SECONDS = 5.0
"""A replay that receives nothing for this long while the consumer says more is pending is restarted."""


@dataclass(frozen=True)
class EventQuery(Generic[T]):
    subject: str
    """The NATS subject pattern of the events (within the fan-out's subject)."""
    build: Callable[[str, CloudEvent], T | None]
    """The GraphQL object of an event, given its cursor; None skips the event."""
    village_of: Callable[[CloudEvent], str | None]
    """The Kemendagri code the event belongs to, for the region rule (None: unknown, never shown to a regional
    caller)."""
    matches: Callable[[CloudEvent], bool] = lambda event: True
    """The subscription's own filters (its arguments)."""
    after: str | None = None
    admit: Callable[[CloudEvent], Awaitable[bool]] | None = None
    """A check that needs I/O (the cases service reads the case to know who may see it), awaited per event in the
    subscription's own task, after the cheap filters above; False drops the event for this subscriber."""


def visible_in_region(principal: Principal, code: str | None) -> bool:
    """The region rule for an event: a caller with a region sees only events of villages inside it."""
    if principal.region is None:
        return True
    return code is not None and region_covers(principal.region, code)


def shown_code(principal: Principal, code: str | None) -> str | None:
    """A village code an event object names besides its own (the village a worker left, ...): the code when it lies
    inside the caller's region, else None. The object is delivered for its own village; another village named in it
    would tell a regional office where a person came from outside its region (the feeds' projection drops such
    codes from webhooks and the change feed for the same reason)."""
    return code if code is not None and visible_in_region(principal, code) else None


async def live_events(context: Any, query: EventQuery[T]) -> AsyncGenerator[T, None]:
    """Validate the caller and cursor now; then the generator of the subscription's objects."""
    principal: Principal = context.require_principal()
    _check_not_expired(principal)
    fanout: EventFanout | None = getattr(context, "live", None)
    if fanout is None:
        raise Unavailable("this service does not serve live events")
    after = parse_cursor(query.after)
    await fanout.ready()
    if after is not None:
        first_seq, last_seq = await fanout.stream_bounds()
        check_cursor(after, first_seq=first_seq, last_seq=last_seq)

    def accepts(event: CloudEvent) -> bool:
        return visible_in_region(principal, query.village_of(event)) and query.matches(event)

    feed = Feed(query.subject, accepts, fanout.queue_size)
    feed.replaying = after is not None
    return _stream(context, principal, fanout, feed, query, after)


async def _stream(
    context: Any, principal: Principal, fanout: EventFanout, feed: Feed, query: EventQuery[T], after: int | None
) -> AsyncGenerator[T, None]:
    last = after if after is not None else 0
    renew = getattr(context, "renew", None)
    # Registered when the stream is first read (strawberry does so at once), so that a stream never read leaves
    # nothing behind in the fan-out.
    fanout.register(feed)
    try:
        if after is not None:
            while True:
                async for item in _replay(fanout, feed, last):
                    _check_not_expired(principal)
                    last = item.sequence
                    if query.admit is not None and not await query.admit(item.event):
                        continue
                    built = query.build(encode_cursor(item.sequence), item.event)
                    if built is not None:
                        if renew is not None:
                            renew()
                        yield built
                if not feed.overflowed:
                    break
                feed.overflowed = False  # what it dropped is in the stream: read on from `last`
            feed.replaying = False
        while True:
            if feed.overflowed:
                raise SlowConsumer(
                    f"this subscription fell more than {feed.limit} events behind and was ended: subscribe again "
                    f'with after: "{last}" to receive what it missed',
                    lastCursor=encode_cursor(last) if last else None,
                )
            if not feed.queue and not await feed.wait(_seconds_left(principal)):
                _check_not_expired(principal)
                continue
            item = feed.queue.popleft()
            if item.sequence <= last:
                continue  # the replay sent it already
            _check_not_expired(principal)
            last = item.sequence
            if query.admit is not None and not await query.admit(item.event):
                continue
            built = query.build(encode_cursor(item.sequence), item.event)
            if built is None:
                continue
            if renew is not None:
                renew()
            yield built
    finally:
        fanout.unregister(feed)


async def _replay(fanout: EventFanout, feed: Feed, after: int) -> AsyncGenerator[LiveEvent, None]:
    """The events of `feed` after `after` up to the stream's end, read by an ordered ephemeral consumer."""
    js = (await fanout.ready()).jetstream()
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
    sub = await js.subscribe(feed.subject, stream=STREAM, ordered_consumer=True, config=config, idle_heartbeat=2.0)
    try:
        info = await sub.consumer_info()
        if info.num_pending == 0 and (info.delivered is None or not info.delivered.consumer_seq):
            return
        while True:
            try:
                msg = await sub.next_msg(timeout=REPLAY_IDLE_SECONDS)
            except (NatsTimeout, TimeoutError):
                return  # nothing more arrived: the end of the stream, as far as the replay can tell
            meta = msg.metadata
            try:
                event = CloudEvent.from_json(msg.data)
            except InvalidEvent:
                event = None
            if event is not None and feed.accepts(event):
                yield LiveEvent(meta.sequence.stream, event)
            if meta.num_pending == 0:
                return
    finally:
        try:
            await sub.unsubscribe()
        except Exception as exc:  # the connection may be gone; the server drops the ephemeral consumer itself
            log.debug("replay unsubscribe: %s", type(exc).__name__)


def _seconds_left(principal: Principal) -> float | None:
    if principal.expires_at is None:
        return None
    return max(0.0, principal.expires_at - time.time())


def _check_not_expired(principal: Principal) -> None:
    if principal.expires_at is not None and time.time() >= principal.expires_at:
        raise Unauthenticated("the token expired during the subscription; subscribe again with a new token "
                              "(pass the last cursor as `after` to miss nothing)", reason="expired")  # fmt: skip
