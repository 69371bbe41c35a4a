"""The audit subgraph's schema: events by filter, one trace, chain verification (all `audit:read`), and the
data-subject report (`subject:report`).

The reads call the query functions of `adapters/queries.py` directly (the read side: they change and decide
nothing); the report is a use case (`service_layer/report.py`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from demimas_audit.adapters import queries
from demimas_audit.domain.commands import RequestPersonalDataReport
from demimas_audit.entrypoints.graphql.context import AuditContext
from demimas_audit.entrypoints.graphql.subscriptions import Subscription
from demimas_audit.entrypoints.graphql.types import AuditEvent, ChainVerification, Worker
from demimas_audit.service_layer.report import personal_data_report
from demimas_common.errors import BadUserInput
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.schema import build_schema
from demimas_common.graphql.types import PageInfo

__all__ = ["Query", "schema"]

Ctx = Info[AuditContext, None]
READ = [["audit:read"]]
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


@strawberry.input
class AuditEventFilter:
    type: str | None = None
    source: str | None = None
    actor_agency: str | None = None
    subject: str | None = None
    trace_id: str | None = None
    from_: dt.datetime | None = strawberry.field(default=None, name="from")
    to: dt.datetime | None = None


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo


def _trace_id(value: str | None) -> str | None:
    if value is not None and not TRACE_ID.match(value):
        raise BadUserInput("traceId must be 32 lowercase hex digits (W3C trace context)", field="traceId")
    return value


def _sequence(value: int | None, field: str) -> int | None:
    if value is not None and value < 1:
        raise BadUserInput(f"{field} must be 1 or more", field=field)
    return value


@strawberry.type
class Query:
    @strawberry.federation.field(requires_scopes=READ, description="Events in chain order, filtered.")
    async def audit_events(
        self, info: Ctx, filter: AuditEventFilter | None = None, first: int | None = None, after: str | None = None
    ) -> AuditEventConnection | None:
        info.context.require_principal()
        f = filter or AuditEventFilter()
        if f.from_ and f.to and f.from_ >= f.to:
            raise BadUserInput("from must be before to", field="filter.from")
        cursor = None
        if after is not None:
            (raw,) = decode_cursor(after, length=1)
            if not isinstance(raw, int):
                raise BadUserInput("after is not a cursor of this list", field="after")
            cursor = raw
        criteria = queries.EventFilter(
            f.type, f.source, f.actor_agency, f.subject, _trace_id(f.trace_id), f.from_, f.to
        )
        async with info.context.engine.connect() as conn:
            rows, more = await queries.event_page(conn, criteria, first=validate_first(first), after=cursor)
        edges = [AuditEventEdge(cursor=encode_cursor((r["seq"],)), node=AuditEvent.from_row(r)) for r in rows]
        return AuditEventConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after)
        )

    @strawberry.federation.field(
        requires_scopes=READ, description="Every event of one trace across services, in order, with causes."
    )
    async def audit_trace(self, info: Ctx, trace_id: str) -> list[AuditEvent] | None:
        info.context.require_principal()
        async with info.context.engine.connect() as conn:
            rows = await queries.trace(conn, _trace_id(trace_id) or "")
        return [AuditEvent.from_row(r) for r in rows]

    @strawberry.federation.field(requires_scopes=READ, description="Check the hash chain (the whole of it by default).")
    async def verify_audit_chain(
        self, info: Ctx, from_sequence: int | None = None, to_sequence: int | None = None
    ) -> ChainVerification | None:
        info.context.require_principal()
        first, last = _sequence(from_sequence, "fromSequence"), _sequence(to_sequence, "toSequence")
        if first is not None and last is not None and first > last:
            raise BadUserInput("fromSequence is after toSequence", field="fromSequence")
        async with info.context.engine.connect() as conn:
            return ChainVerification.of(await queries.verify_range(conn, first, last))

    @strawberry.federation.field(
        requires_scopes=[["subject:report"]],
        description="One person's data from every service and who read it (UU 27/2022 Pasal 32), as one JSON "
        "document; needs the purpose DATA_SUBJECT_REQUEST, and is itself recorded as an access.",
    )
    async def personal_data_report(self, info: Ctx, worker_id: strawberry.ID) -> JSON | None:
        ctx = info.context
        principal = ctx.require_principal()
        authorization = ctx.request.headers.get("authorization", "") if ctx.request is not None else ""
        cmd = RequestPersonalDataReport(str(worker_id), authorization)
        document = await personal_data_report(cmd, ctx.gateway(), principal)
        return cast(JSON, document)


schema = build_schema(query=Query, subscription=Subscription, types=[Worker, AuditEvent])
