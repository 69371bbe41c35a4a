"""Fan-out: the durable consumer `feeds-fanout` on `demimas.>` turns each event into one PENDING delivery per ACTIVE
endpoint whose types, region and visibility (visibility.py, with the endpoint's frozen owner grants) let it through.

- A fetched batch (up to 100 events) becomes one INSERT of every (event, endpoint) delivery (arrays, `unnest`), in
  the transaction that records the events in the consumer's inbox: a delivery exists once per event and endpoint,
  and the queue order (`seq`) follows the stream order.
- The active endpoints are cached in memory and reloaded when the endpoints table changed (a count and the latest
  `updated_at`, checked once per batch); endpoints with the same audience and region filter share one projection
  of each event, so the body is built once per group.
- Only one process fans out at a time (a session advisory lock, `FANOUT_LOCK`): with several replicas the others
  wait, so the order of `seq` is the stream's order even when replicas take turns.
- The body is the projected CloudEvent with `sequence` (the stream sequence, a string as the CloudEvents sequence
  extension says), the exact bytes that are signed and sent.
- **No event skipped ahead.** Events fetched by a fan-out that then died (kill -9 mid-batch, or a NATS node lost
  with a batch in flight) come back from the server only after the consumer's ack wait (30 s), while later events
  flow; queued then, they would go out after events that followed them. So before a batch the fan-out looks for a
  gap between the last stream sequence it handled (at start: the consumer's ack floor) and the batch's first, and
  reads the missing events from the stream by sequence first (`_fill_gap`; the inbox drops those already handled,
  and the server's later redelivery of each the same way).
- After the commit, the dispatcher of this process is woken with the endpoints that got deliveries, and every other
  process's by the NOTIFY sent in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from uuid_utils.compat import uuid7

from demimas_common.events.consumer import EventConsumer
from demimas_common.events.envelope import CloudEvent, InvalidEvent
from demimas_common.events.schemas import validate_event
from demimas_common.events.stream import STREAM
from demimas_feeds.adapters.deliveries import (
    ActiveEndpoint,
    NewDeliveries,
    active_endpoints,
    changed_since,
    direct_connection,
    endpoints_version,
    insert_deliveries,
    notify,
)
from demimas_feeds.visibility import Audience, matches_types, project

__all__ = ["DURABLE", "FANOUT_LOCK", "EndpointCache", "Fanout", "FanoutConsumer", "delivery_body", "still_deliverable"]

log = logging.getLogger("demimas.feeds.fanout")
DURABLE = "feeds-fanout"
FANOUT_LOCK = 0x46454544_46414E4F  # "FEEDFANO"
GAP_LIMIT = 10_000
"""At most this many events are read by sequence to close a gap (the consumer holds at most 1,000 unacknowledged)."""
GroupKey = tuple[str, frozenset[str], str | None, str | None]


class EndpointCache:
    """The ACTIVE endpoints, grouped by what decides a body (agency, owner scopes, owner region, region filter)."""

    def __init__(self) -> None:
        self.version: tuple[int, dt.datetime | None] | None = None
        self.endpoints: list[ActiveEndpoint] = []
        self.groups: dict[GroupKey, list[ActiveEndpoint]] = {}

    async def current(self, conn: Any) -> dict[GroupKey, list[ActiveEndpoint]]:
        version = await endpoints_version(conn)
        if version != self.version:
            self.endpoints = await active_endpoints(conn)
            self.version = version
            groups: dict[GroupKey, list[ActiveEndpoint]] = {}
            for e in self.endpoints:
                groups.setdefault((e.agency, e.owner_scopes, e.owner_region, e.region_prefix), []).append(e)
            self.groups = groups
        return self.groups


def delivery_body(event: dict[str, Any], audience: Audience, region_prefix: str | None, sequence: int) -> bytes | None:
    """The exact bytes delivered to an endpoint of this audience and filter, or None when it may not see the event."""
    projected = project(event, audience, region_prefix=region_prefix)
    if projected is None:
        return None
    projected["sequence"] = str(sequence)
    return orjson.dumps(projected)


def still_deliverable(body: bytes, event_types: Sequence[str], audience: Audience, region_prefix: str | None) -> bool:
    """Whether a stored body (projected for the grants frozen on its endpoint when the event came) is exactly what
    the endpoint's present types, grants and region filter would deliver: an update by a token with fewer grants, or
    a narrower filter, must not send what was projected for wider ones (queued or redelivered)."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(event, dict) or not matches_types(str(event.get("type", "")), tuple(event_types)):
        return False
    sequence = event.pop("sequence", None)
    if not isinstance(sequence, str) or not sequence.isdigit():
        return False
    return delivery_body(event, audience, region_prefix, int(sequence)) == bytes(body)


class Fanout:
    """The batch handler: events (with their stream sequences) to deliveries."""

    def __init__(self) -> None:
        self.origin = uuid.uuid4().hex
        """Names this fan-out in its NOTIFYs (the dispatcher it wakes in process ignores them)."""
        self.cache = EndpointCache()
        self.sequences: dict[str, int] = {}
        """Stream sequence per event id of the batch being handled (set by the consumer before each batch)."""
        self.touched: set[uuid.UUID] = set()
        """Endpoints that got deliveries in transactions not yet reported to the dispatcher."""

    async def apply(self, conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        for _ in range(5):
            groups = await self.cache.current(driver)
            if not groups:
                return
            new = NewDeliveries.empty()
            for event in events:
                self.add(new, groups, event, self.sequences.get(event.id, 0))
            if not new:
                return
            # An endpoint updated meanwhile (a narrower token, a new URL) must not get bodies projected for the
            # grants it had: the versions are checked under a row lock after the insert, and the batch is fanned
            # out again with the endpoints read afresh when one changed.
            await driver.execute("SAVEPOINT feeds_fanout")
            await insert_deliveries(driver, new)
            versions = {e.id: e.version for members in groups.values() for e in members}
            if not await changed_since(driver, {i: versions[i] for i in set(new.endpoint_ids)}):
                await driver.execute("RELEASE SAVEPOINT feeds_fanout")
                break
            await driver.execute("ROLLBACK TO SAVEPOINT feeds_fanout")
            self.cache.version = None
        else:
            raise RuntimeError("the webhook endpoints kept changing during the fan-out of a batch")
        await notify(driver, new.endpoint_ids, origin=self.origin)
        self.touched.update(new.endpoint_ids)

    @staticmethod
    def add(new: NewDeliveries, groups: dict[GroupKey, list[ActiveEndpoint]], event: CloudEvent, sequence: int,
            replay_of: uuid.UUID | None = None) -> None:  # fmt: skip
        body_source: dict[str, Any] | None = None
        for (agency, scopes, region, prefix), members in groups.items():
            matching = [e for e in members if matches_types(event.type, e.event_types)]
            if not matching:
                continue
            if body_source is None:
                body_source = event.to_dict()
            body = delivery_body(body_source, Audience(agency, scopes, region), prefix, sequence)
            if body is None:
                continue
            for endpoint in matching:
                new.add(uuid7(), endpoint.id, sequence, event.id, event.type, body, replay_of)


def _event_id(msg: Msg) -> str:
    msg_id = (msg.headers or {}).get("Nats-Msg-Id")
    if msg_id:
        return msg_id.split(":", 1)[0]  # a dead letter's retry has `<id>:retry:<n>`
    try:
        return str(orjson.loads(msg.data).get("id", ""))
    except orjson.JSONDecodeError:
        return ""


class FanoutConsumer(EventConsumer):
    """The common consumer (inbox, retries, dead letters, batches) with the stream sequences handed to the fan-out,
    the in-process wake-up after each commit, and one active fan-out per database."""

    def __init__(self, engine: AsyncEngine, nats_url: str, *, wake: Callable[[Iterable[uuid.UUID]], None],
                 batch_size: int = 100, max_attempts: int = 5, fetch_timeout: float = 1.0) -> None:  # fmt: skip
        self.fanout = Fanout()
        self.wake = wake
        super().__init__(
            engine, "feeds", nats_url, durable=DURABLE, subjects=["demimas.>"],
            handler=lambda conn, event: self.fanout.apply(conn, [event]),
            batch_handler=self.fanout.apply, batch_size=batch_size, max_attempts=max_attempts,
            fetch_timeout=fetch_timeout,
        )  # fmt: skip
        self._lock_conn: Any = None
        self._running = True
        self._next_seq: int | None = None
        """The stream sequence after the last one this fan-out handled (None until its first batch)."""
        self.gap_events = 0
        """Events read from the stream by sequence because another fan-out had fetched them and died (or a batch
        was lost in flight): metrics, tests and the cluster rehearsal."""

    async def process_available(self) -> int:
        messages = await self.pull.next_batch()
        if messages:
            await self._fill_gap(min(m.metadata.sequence.stream for m in messages))
        self.fanout.sequences = {_event_id(m): m.metadata.sequence.stream for m in messages}
        try:
            if not (len(messages) > 1 and await self._handle_batch(messages)):
                for msg in messages:
                    await self._handle(msg)
        finally:
            touched, self.fanout.touched = self.fanout.touched, set()
            if touched:
                self.wake(touched)
        if messages:
            last = max(m.metadata.sequence.stream for m in messages) + 1
            self._next_seq = last if self._next_seq is None else max(self._next_seq, last)
        await self.pull.update_lag()
        return len(messages)

    async def _fill_gap(self, first: int) -> None:
        """Fan out, in order, the events between the last one handled here (at start: the consumer's ack floor) and
        `first`, the batch's first sequence: the server gave them to a fan-out that died (or they were lost in
        flight) and holds them until the ack wait ends. Those already handled are dropped by the inbox."""
        start = self._next_seq
        if start is None:
            info = await self.pull._sub.consumer_info()
            start = int(info.ack_floor.stream_seq) + 1
        if first <= start:
            return
        assert self.pull._nc is not None
        js = self.pull._nc.jetstream()
        start = max(start, int((await js.stream_info(STREAM)).state.first_seq))  # not what retention removed
        if first - start > GAP_LIMIT:
            log.warning("feeds-fanout: %d events held elsewhere; left to their redelivery", first - start)
            return
        filled = 0
        for seq in range(start, first):
            try:
                raw = await js.get_msg(STREAM, seq)
                event = CloudEvent.from_json(raw.data or b"")
                validate_event(event)
            except (NotFoundError, InvalidEvent):
                continue  # gone from the stream, or an event the consumer dead-letters when it comes back
            self.fanout.sequences = {event.id: seq}
            try:
                if await self._apply(event):
                    filled += 1
            finally:
                touched, self.fanout.touched = self.fanout.touched, set()
                if touched:
                    self.wake(touched)
        self._next_seq = first
        if filled:
            self.gap_events += filled
            notice = (
                "feeds-fanout: %d events of sequences %d-%d were held by a fan-out that stopped (or lost in flight)"
            )
            log.warning(notice + "; fanned out from the stream before the later ones", filled, start, first - 1)

    async def _lead(self) -> bool:
        """Take the fan-out lock (held on a connection of its own until stopped); False while another has it."""
        if self._lock_conn is None:
            self._lock_conn = await direct_connection(self.engine)
        return bool(await self._lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", FANOUT_LOCK))

    async def run(self, *, backoff: float = 1.0) -> None:
        while self._running:
            try:
                if await self._lead():
                    break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("feeds-fanout: cannot take the fan-out lock: %s", exc)
                await self._drop_lock()
            await asyncio.sleep(2.0)
        if self._running:
            await super().run(backoff=backoff)

    def stop(self) -> None:
        self._running = False
        super().stop()

    async def _drop_lock(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        await super().close()
        await self._drop_lock()
