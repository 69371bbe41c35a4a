"""The feeds subgraph's queries: the agency's endpoints and their deliveries (`feeds:manage`), and the change feed
(`feeds:read`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from demimas_common.errors import Unavailable
from demimas_common.graphql.ids import parse_uuid
from demimas_common.graphql.labels import labels_field
from demimas_common.graphql.pagination import encode_cursor, validate_first
from demimas_common.graphql.types import PageInfo
from demimas_feeds.adapters.endpoints import EndpointRepository
from demimas_feeds.domain.endpoint import require_visible
from demimas_feeds.entrypoints.graphql.context import Ctx
from demimas_feeds.entrypoints.graphql.types import (
    MANAGE,
    READ,
    ChangeConnection,
    ChangeEdge,
    ChangeEvent,
    WebhookDeliveryConnection,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointConnection,
    WebhookEndpointEdge,
    delivery_page,
    time_cursor,
)
from demimas_feeds.labels import LABELS
from demimas_feeds.service_layer.changes import DEFAULT_FIRST, ChangeQuery, count_changes, read_changes

__all__ = ["Query"]

Types = Annotated[
    list[str] | None,
    strawberry.argument(description="Exact event types, prefixes ending in '.*', or '*' (default: every type)."),
]


@strawberry.type
class Query:
    feeds_labels = labels_field("feeds", LABELS)

    @strawberry.federation.field(requires_scopes=MANAGE, description="One of the agency's webhook endpoints.")
    async def webhook_endpoint(self, info: Ctx, id: strawberry.ID) -> WebhookEndpoint:
        ctx = info.context
        principal = ctx.require_principal()
        async with ctx.engine.connect() as conn:
            found = await EndpointRepository(conn).get(parse_uuid(id))
        return WebhookEndpoint.from_domain(require_visible(found, principal))

    @strawberry.federation.field(requires_scopes=MANAGE, description="The agency's webhook endpoints, oldest first.")
    async def webhook_endpoints(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> WebhookEndpointConnection:
        ctx = info.context
        principal = ctx.require_principal()
        limit = validate_first(first)
        cursor = time_cursor(after)
        async with ctx.engine.connect() as conn:
            rows = await EndpointRepository(conn).page(principal, first=limit, after=cursor)
        edges = [
            WebhookEndpointEdge(
                cursor=encode_cursor((e.created_at.isoformat(), e.id)), node=WebhookEndpoint.from_domain(e)
            )
            for e in rows[:limit]
        ]
        return WebhookEndpointConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], has_next=len(rows) > limit, after=after),
            context=ctx,
        )

    @strawberry.federation.field(requires_scopes=MANAGE, description="An endpoint's deliveries, newest first.")
    async def webhook_deliveries(
        self,
        info: Ctx,
        endpoint_id: strawberry.ID,
        status: WebhookDeliveryStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        ctx = info.context
        principal = ctx.require_principal()
        validate_first(first)
        time_cursor(after)  # the page's arguments first, as every connection checks them
        endpoint_uuid = parse_uuid(endpoint_id, "endpointId")
        async with ctx.engine.connect() as conn:
            found = await EndpointRepository(conn).get(endpoint_uuid)
        require_visible(found, principal, "endpointId")
        return await delivery_page(ctx, endpoint_uuid, status, first, after)

    @strawberry.federation.field(
        requires_scopes=READ,
        description="The events the caller may see, in stream order, as pages: start with `since` (or from the "
        "oldest event kept), go on with `after: pageInfo.endCursor` while `hasNextPage`. At most 1,000 per page.",
    )
    async def changes(
        self,
        info: Ctx,
        after: str | None = None,
        types: Types = None,
        region_prefix: str | None = None,
        since: dt.datetime | None = None,
        first: int | None = DEFAULT_FIRST,
    ) -> ChangeConnection:
        ctx = info.context
        principal = ctx.require_principal()
        if ctx.reader is None:
            raise Unavailable("this process does not serve the change feed")
        query = ChangeQuery(
            after=after,
            types=tuple(types) if types is not None else None,
            region_prefix=region_prefix,
            since=since,
            first=first,
        )
        page = await read_changes(query, principal, ctx.reader, scan_limit=ctx.settings.feeds_changes_scan_limit)
        edges = [ChangeEdge(cursor=c.cursor, node=ChangeEvent.of(c)) for c in page.changes]
        page_info = PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=page.end_cursor,
        )
        reader, limit = ctx.reader, ctx.settings.feeds_changes_scan_limit

        async def count() -> int:
            return await count_changes(query, principal, reader, scan_limit=limit)

        return ChangeConnection(edges=edges, page_info=page_info, count_query=count)
