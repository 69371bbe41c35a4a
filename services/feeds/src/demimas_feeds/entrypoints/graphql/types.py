"""The feeds subgraph's types: webhook endpoints (an entity, keyed by id, only ever shown to their own agency), their
deliveries and attempts, and the change feed's events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput
from demimas_common.events.schemas import KNOWN_TYPES
from demimas_common.graphql.ids import parse_uuid
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.types import PageInfo
from demimas_feeds.adapters.delivery_queries import DeliveryQueries
from demimas_feeds.adapters.endpoints import EndpointRepository
from demimas_feeds.domain.endpoint import Endpoint, require_visible
from demimas_feeds.entrypoints.graphql.context import Ctx, FeedsContext
from demimas_feeds.service_layer.changes import Change
from demimas_feeds.visibility import Audience, receivable

__all__ = [
    "MANAGE",
    "READ",
    "ChangeConnection",
    "ChangeEdge",
    "ChangeEvent",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryConnection",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEndpointConnection",
    "WebhookEndpointStatus",
    "delivery_page",
    "readable_types",
    "time_cursor",
]

MANAGE = [["feeds:manage"]]
READ = [["feeds:read"]]


@strawberry.enum(description="Whether an endpoint receives deliveries.")
class WebhookEndpointStatus(Enum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


def time_cursor(after: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    if after is None:
        return None
    at, raw = decode_cursor(after, length=2)
    try:
        return dt.datetime.fromisoformat(str(at)), uuid.UUID(str(raw))
    except ValueError:
        raise BadUserInput(
            "after is not a cursor of this list; pass an endCursor you were given", field="after"
        ) from None


@strawberry.type(description="One try of a delivery: what the receiver answered, or why there was no answer.")
class WebhookAttempt:
    attempted_at: dt.datetime
    status_code: int | None = strawberry.field(description="The receiver's HTTP status; null when none came.")
    error: str | None = strawberry.field(
        description="Why it failed without a status: timeout, connect, refused_address, too_large, tls, protocol."
    )
    duration_ms: int
    response_excerpt: str = strawberry.field(description="The first kilobyte of the answer.")

    @classmethod
    def from_row(cls, r: Any) -> WebhookAttempt:
        return cls(
            attempted_at=r.attempted_at,
            status_code=r.status_code,
            error=r.error,
            duration_ms=r.duration_ms,
            response_excerpt=r.response_excerpt,
        )


@strawberry.type(description="One event sent to one endpoint; its id is the `webhook-id` header, kept across retries.")
class WebhookDelivery:
    id: strawberry.ID
    event_id: str
    event_type: str
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None = strawberry.field(
        description="The last attempt's error word (timeout, connect, refused_address, too_large, tls, protocol), why "
        "the delivery was CANCELLED, or, on the delivery at an endpoint's head when the engine disabled it, the "
        'notice why ("endpoint disabled: failing since ..."); null when none. Written by the service only: never '
        "the receiver's answer, never personal data."
    )

    @strawberry.field(description="Every attempt, oldest first.")
    async def attempt_log(self, info: Ctx) -> list[WebhookAttempt]:
        ctx = info.context

        async def load(ids: list[uuid.UUID]) -> list[list[WebhookAttempt]]:
            async with ctx.engine.connect() as conn:
                found = await DeliveryQueries(conn).attempts_of(ids)
            return [[WebhookAttempt.from_row(r) for r in found.get(i, [])] for i in ids]

        loader: DataLoader[uuid.UUID, list[WebhookAttempt]] = ctx.loader("attempts", lambda: DataLoader(load))
        return await loader.load(uuid.UUID(str(self.id)))

    @classmethod
    def from_row(cls, r: Any) -> WebhookDelivery:
        """From a row of feeds.deliveries, or anything with its column names as attributes."""
        return cls(
            id=strawberry.ID(str(r.id)),
            event_id=str(r.event_id),
            event_type=r.event_type,
            status=WebhookDeliveryStatus(str(getattr(r.status, "value", r.status))),
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            created_at=r.created_at,
            delivered_at=r.delivered_at,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
        )


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type(description="A page of deliveries, newest first; the next with `first` and `after: endCursor`.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    endpoint_id: strawberry.Private[uuid.UUID]
    status_filter: strawberry.Private[str | None]
    context: strawberry.Private[FeedsContext]
    event_types: strawberry.Private[list[str]]

    @strawberry.field(description="How many deliveries the whole list has (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        async with self.context.engine.connect() as conn:
            return await DeliveryQueries(conn).count(self.endpoint_id, self.status_filter, self.event_types)


def readable_types(principal: Principal) -> list[str]:
    """The event types whose deliveries a caller may see in the log: those its own token may receive (a token of
    the agency narrowed below the endpoint's grants does not learn which of those events happened when)."""
    audience = Audience.of(principal)
    return sorted(t for t in KNOWN_TYPES if receivable(t, audience))


async def delivery_page(
    ctx: FeedsContext,
    endpoint_id: uuid.UUID,
    status: WebhookDeliveryStatus | None,
    first: int | None,
    after: str | None,
) -> WebhookDeliveryConnection:
    limit = validate_first(first)
    cursor = time_cursor(after)
    status_value = status.value if status is not None else None
    types = readable_types(ctx.require_principal())
    async with ctx.engine.connect() as conn:
        rows = await DeliveryQueries(conn).page(
            endpoint_id, status=status_value, first=limit, after=cursor, event_types=types
        )
    edges = [
        WebhookDeliveryEdge(cursor=encode_cursor((r.created_at.isoformat(), r.id)), node=WebhookDelivery.from_row(r))
        for r in rows[:limit]
    ]
    return WebhookDeliveryConnection(
        edges=edges,
        page_info=PageInfo.of([e.cursor for e in edges], has_next=len(rows) > limit, after=after),
        endpoint_id=endpoint_id,
        status_filter=status_value,
        context=ctx,
        event_types=types,
    )


@strawberry.federation.type(
    keys=["id"],
    requires_scopes=MANAGE,
    description="A receiver of signed event deliveries registered by an agency; only that agency sees it.",
)
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str
    event_types: list[str] = strawberry.field(
        description="Exact types, prefixes ending in '.*' (e.g. demimas.registry.worker.*), or '*'."
    )
    region_prefix: str | None = strawberry.field(description="Only events of villages within this region.")
    status: WebhookEndpointStatus
    disabled_reason: str | None = strawberry.field(
        description="by_agency, or failing (disabled after failing continuously for the configured time)."
    )
    created_at: dt.datetime
    failing_since: dt.datetime | None
    last_success_at: dt.datetime | None

    @strawberry.field(description="The endpoint's deliveries, newest first.")
    async def deliveries(
        self,
        info: Ctx,
        status: WebhookDeliveryStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        return await delivery_page(info.context, uuid.UUID(str(self.id)), status, first, after)

    @classmethod
    def from_domain(cls, e: Endpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(str(e.id)),
            url=e.url,
            description=e.description,
            event_types=list(e.event_types),
            region_prefix=e.region_prefix,
            status=WebhookEndpointStatus(e.status.value),
            disabled_reason=e.disabled_reason,
            created_at=e.created_at,
            failing_since=e.failing_since,
            last_success_at=e.last_success_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> WebhookEndpoint:
        ctx = info.context
        principal = ctx.require_principal()
        async with ctx.engine.connect() as conn:
            found = await EndpointRepository(conn).get(parse_uuid(id))
        return cls.from_domain(require_visible(found, principal))


@strawberry.type
class WebhookEndpointEdge:
    cursor: str
    node: WebhookEndpoint


@strawberry.type(description="A page of the agency's endpoints, oldest first.")
class WebhookEndpointConnection:
    edges: list[WebhookEndpointEdge]
    page_info: PageInfo
    context: strawberry.Private[FeedsContext]

    @strawberry.field(description="How many endpoints the agency has (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        principal = self.context.require_principal()
        async with self.context.engine.connect() as conn:
            return await EndpointRepository(conn).count(principal)


@strawberry.type(description="An event as the change feed hands it over: a CloudEvent with its stream sequence.")
class ChangeEvent:
    id: str
    type: str
    source: str
    subject: str
    time: dt.datetime
    sequence: str = strawberry.field(description="The event's position in the stream (its cursor).")
    village_code: str | None
    data: JSON = strawberry.field(description="The event's data: only the fields of its contract schema.")

    @classmethod
    def of(cls, change: Change) -> ChangeEvent:
        e = change.event
        data = e["data"]
        village = data.get("villageCode")
        return cls(
            id=str(e["id"]),
            type=str(e["type"]),
            source=str(e["source"]),
            subject=str(e["subject"]),
            time=dt.datetime.fromisoformat(str(e["time"]).replace("Z", "+00:00")),
            sequence=change.cursor,
            village_code=village if isinstance(village, str) else None,
            data=cast(JSON, data),
        )


@strawberry.type
class ChangeEdge:
    cursor: str
    node: ChangeEvent


@strawberry.type(
    description="A page of the change feed. `endCursor` is set even when the page is empty (it is past what the "
    "call scanned); go on with `after: endCursor` while `hasNextPage`, and later from the last `endCursor`."
)
class ChangeConnection:
    edges: list[ChangeEdge]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="How many events the caller may see from this call's start (`after`, `since` or the stream's "
        "start) to the stream's end now, with the same `types` and `regionPrefix`. Costs a scan of the stream (at "
        "most the feed's scan limit, else BAD_USER_INPUT): select it only when needed."
    )
    async def total_count(self) -> int:
        return await self.count_query()
