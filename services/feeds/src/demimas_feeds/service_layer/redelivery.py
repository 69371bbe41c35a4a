"""Redelivery and replay, asked for by an agency through the API (scope feeds:manage, its own endpoints only).

- `redeliver(deliveryId)`: the same delivery again, with the same `webhook-id` (receivers recognise it): it becomes
  PENDING, due now, and the dispatcher sends it as the endpoint's head (it is older than what waits). Its attempt
  count goes on from where it was, so an exhausted (FAILED) delivery gets exactly one more attempt, a delivered one
  the rest of the schedule. A delivery of a disabled endpoint is refused (CONFLICT): enable the endpoint first.
- `replay(endpointId, since)` (only by a token holding every grant the endpoint delivers with, as for rotating its
  secret: the answer counts the endpoint's events): the endpoint's events since a time that are still in the
  stream, read from the stream and filtered as live deliveries are (types, region, the endpoint's frozen grants),
  queued as new PENDING deliveries (new ids, `replay_of` = one id per replay request), after what already waits. At
  most `MAX_REPLAY` deliveries per request, fewer by what already waits (CONFLICT `queue_full` when that is
  `MAX_REPLAY`), and at most `MAX_REPLAY_SCAN` stream messages read: the answer says how many were queued; replay
  again from a later time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from uuid_utils.compat import uuid7

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from demimas_common.events.envelope import CloudEvent, InvalidEvent
from demimas_feeds.adapters.deliveries import NewDeliveries, changed_since, insert_deliveries, notify
from demimas_feeds.adapters.stream_reader import StreamReader, subjects_for
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.domain.endpoint import EndpointStatus, require_full_grants, require_visible
from demimas_feeds.service_layer.fanout import delivery_body, still_deliverable
from demimas_feeds.visibility import Audience, matches_types, receivable

__all__ = ["MAX_REPLAY", "redeliver", "replay"]

MANAGE = "feeds:manage"
MAX_REPLAY = 100_000
"""Deliveries one replay queues at most, and the most an endpoint's queue may hold for a replay to start."""
MAX_REPLAY_SCAN = 1_000_000
"""Stream messages one replay reads at most (a sparse filter over years of events must not read the whole stream)."""
SCAN_PAGE = 10_000
_COLUMNS = (
    "id, endpoint_id, seq, stream_seq, event_id, event_type, status, attempts, next_attempt_at, created_at, "
    "delivered_at, last_status_code, last_error, replay_of"
)


async def redeliver(uow: FeedsUnitOfWork, principal: Principal, delivery_id: UUID) -> Any:
    principal.require_scope(MANAGE)
    conn = await uow.driver_connection()
    row = await conn.fetchrow(
        "SELECT endpoint_id, event_type, body FROM feeds.deliveries WHERE id = $1 FOR UPDATE", delivery_id
    )
    if row is None or not receivable(row["event_type"], Audience.of(principal)):  # as the delivery log hides it
        raise NotFound("no webhook delivery with this id", field="deliveryId")
    endpoint = require_visible(await uow.endpoints.get(row["endpoint_id"]), principal, field="deliveryId")
    if endpoint.status is not EndpointStatus.ACTIVE:
        raise Conflict("the endpoint is disabled: enable it before redelivering", field="deliveryId")
    if not still_deliverable(row["body"], endpoint.event_types, endpoint.audience, endpoint.region_prefix):
        raise Forbidden(
            "the endpoint's present grants, types or region filter would not deliver this event: it is not sent again",
            field="deliveryId",
            reason="not_receivable",
        )
    updated = await conn.fetchrow(
        f"UPDATE feeds.deliveries SET status = 'PENDING', next_attempt_at = now() WHERE id = $1 "  # noqa: S608
        f"RETURNING {_COLUMNS}",
        delivery_id,
    )
    if await changed_since(conn, {endpoint.id: endpoint.version}):  # an update came meanwhile: it decides
        raise Conflict("the webhook endpoint changed meanwhile; redeliver again", field="deliveryId", reason="version")
    await notify(conn, [endpoint.id])
    await uow.commit()
    return SimpleNamespace(**dict(updated))


async def replay(
    uow: FeedsUnitOfWork, principal: Principal, endpoint_id: UUID, since: dt.datetime, reader: StreamReader
) -> int:
    principal.require_scope(MANAGE)
    endpoint = require_visible(await uow.endpoints.get(endpoint_id), principal)
    # The number queued is the number of the endpoint's events since `since`: a token narrowed below the grants the
    # endpoint delivers with would count, replay after replay, events its own grants do not let it see (the delivery
    # log hides them from it). Only a token holding every such grant replays, as only such a token rotates.
    require_full_grants(endpoint, principal, "replay it")
    if since.tzinfo is None:
        raise BadUserInput("since needs a time zone", field="since")
    if since > dt.datetime.now(dt.UTC):
        raise BadUserInput("since lies in the future", field="since")
    conn = await uow.driver_connection()
    # What already waits counts against the replay: asking again and again while a queue drains would grow it
    # without bound (each request up to MAX_REPLAY deliveries of years of events).
    waiting = await conn.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM feeds.deliveries WHERE endpoint_id = $1 AND status = 'PENDING' "
        "LIMIT $2) AS w",
        endpoint.id,
        MAX_REPLAY,
    )
    budget = MAX_REPLAY - int(waiting)
    if budget <= 0:
        raise Conflict(
            f"the endpoint already has {MAX_REPLAY} deliveries waiting: replay again once they are sent",
            field="id",
            reason="queue_full",
        )
    replay_id = uuid7()
    audience = endpoint.audience
    new = NewDeliveries.empty()
    after: int | None = None
    total_scanned = 0
    while len(new) < budget and total_scanned < MAX_REPLAY_SCAN:
        scanned = 0
        stream = reader.read(
            after=after,
            since=since if after is None else None,
            subjects=subjects_for(list(endpoint.event_types)),
            max_messages=SCAN_PAGE,
        )
        async with contextlib.aclosing(stream):
            async for msg in stream:
                scanned += 1
                total_scanned += 1
                after = msg.sequence
                try:
                    event = CloudEvent.from_json(msg.data)
                except InvalidEvent:
                    continue
                if not matches_types(event.type, endpoint.event_types):
                    continue
                body = delivery_body(event.to_dict(), audience, endpoint.region_prefix, msg.sequence)
                if body is not None:
                    new.add(uuid7(), endpoint.id, msg.sequence, event.id, event.type, body, replay_id)
                    if len(new) >= budget:
                        break
        if scanned < SCAN_PAGE:
            break
    await insert_deliveries(conn, new)
    # Read with the grants the endpoint had when the replay began: an update that came meanwhile (its check of the
    # queue could not see these rows) decides what it receives, so the replay is refused rather than queued.
    if new and await changed_since(conn, {endpoint.id: endpoint.version}):
        raise Conflict("the webhook endpoint changed meanwhile; replay again", field="id", reason="version")
    if new:
        await notify(conn, [endpoint.id])
    await uow.commit()
    return len(new)
