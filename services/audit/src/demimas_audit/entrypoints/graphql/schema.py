"""The audit subgraph's schema: events by filter, one trace, reads of personal data by filter, chain verification
(all `audit:read`), and the data-subject report (`subject:report`).

The reads call the query functions of `adapters/queries.py` directly (the read side: they change and decide
nothing); the report is a use case (`service_layer/report.py`)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from demimas_audit.adapters import queries
from demimas_audit.domain.commands import RequestPersonalDataReport
from demimas_audit.entrypoints.graphql.context import AuditContext
from demimas_audit.entrypoints.graphql.subscriptions import Subscription
from demimas_audit.entrypoints.graphql.types import (
    AuditEvent,
    ChainVerification,
    PersonalDataAccess,
    SignedCheckpoint,
    Worker,
)
from demimas_audit.service_layer.report import personal_data_report
from demimas_common.errors import BadUserInput
from demimas_common.graphql.pagination import Connection, decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.schema import build_schema
from demimas_common.graphql.types import PageInfo
from demimas_common.graphql.village import VILLAGE_CODE

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
    correlation_id: str | None = strawberry.field(
        default=None, description="Events of one flow (a case, a proposal): their correlation id."
    )
    village_code: str | None = strawberry.field(
        default=None, description="Events about one village (Kemendagri code): those naming it in `data.villageCode`."
    )


@strawberry.input(description="Reads of personal data: each criterion given must hold.")
class PersonalDataAccessFilter:
    worker_id: strawberry.ID | None = strawberry.field(
        default=None, description="Reads that returned this worker's data, alone or with other workers."
    )
    agency: str | None = strawberry.field(default=None, description="The agency that read (e.g. DISNAKER).")
    purpose: str | None = strawberry.field(default=None, description="The purpose declared (e.g. PLACEMENT_SERVICE).")
    from_: dt.datetime | None = strawberry.field(default=None, name="from")
    to: dt.datetime | None = strawberry.field(default=None, description="Before this time (exclusive).")


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many events match the filter (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        return await self.count_query()


def _trace_id(value: str | None) -> str | None:
    if value is not None and not TRACE_ID.match(value):
        raise BadUserInput("traceId must be 32 lowercase hex digits (W3C trace context)", field="traceId")
    return value


def _seq_cursor(after: str | None) -> int | None:
    if after is None:
        return None
    (raw,) = decode_cursor(after, length=1)
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise BadUserInput("after is not a cursor of this list", field="after")
    return raw


def _worker_id(value: strawberry.ID | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise BadUserInput("workerId is not a worker's id (a UUID)", field="filter.workerId") from None


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
        principal = info.context.require_principal()
        f = filter or AuditEventFilter()
        if f.from_ and f.to and f.from_ >= f.to:
            raise BadUserInput("from must be before to", field="filter.from")
        cursor = _seq_cursor(after)
        if principal.region is not None:  # audit records lie in no region: a regional token gets none, nor a count
            return AuditEventConnection(edges=[], page_info=PageInfo.of([], has_next=False, after=after),
                                        count_query=_zero)  # fmt: skip
        if f.village_code is not None and not VILLAGE_CODE.match(f.village_code):
            raise BadUserInput("villageCode must be a village's code (NN.NN.NN.NNNN)", field="filter.villageCode")
        criteria = queries.EventFilter(
            f.type,
            f.source,
            f.actor_agency,
            f.subject,
            _trace_id(f.trace_id),
            f.from_,
            f.to,
            correlation_id=f.correlation_id,
            village_code=f.village_code,
        )
        async with info.context.engine.connect() as conn:
            rows, more = await queries.event_page(conn, criteria, first=validate_first(first), after=cursor)
        edges = [AuditEventEdge(cursor=encode_cursor((r["seq"],)), node=AuditEvent.from_row(r)) for r in rows]
        engine = info.context.engine

        async def count() -> int:
            async with engine.connect() as c:
                return await queries.event_count(c, criteria)

        return AuditEventConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after), count_query=count
        )

    @strawberry.federation.field(
        requires_scopes=READ,
        description="Reads of personal data recorded by the registry and the cases service, newest first: who read "
        "whose data, for which purpose, through which operation. `workerId` finds a person's reads whether they were "
        "read alone or with others (a page of workers).",
    )
    async def personal_data_accesses(
        self,
        info: Ctx,
        filter: PersonalDataAccessFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PersonalDataAccess] | None:
        principal = info.context.require_principal()
        f = filter or PersonalDataAccessFilter()
        if f.from_ and f.to and f.from_ >= f.to:
            raise BadUserInput("from must be before to", field="filter.from")
        limit, before = validate_first(first), _seq_cursor(after)
        criteria = queries.AccessFilter(_worker_id(f.worker_id), f.agency, f.purpose, f.from_, f.to)
        engine = info.context.engine
        if principal.region is not None:  # audit records lie in no region: a regional token gets none, nor a count
            return Connection[PersonalDataAccess](edges=[], page_info=PageInfo.of([], has_next=False, after=after),
                                                  count_total=_zero)  # fmt: skip
        async with engine.connect() as conn:
            rows = await queries.access_page(conn, criteria, first=limit, before=before)

        async def count() -> int:
            async with engine.connect() as conn:
                return await queries.access_count(conn, criteria)

        return Connection[PersonalDataAccess].from_rows(
            rows,
            first=limit,
            cursor=lambda r: (r["seq"],),
            node=PersonalDataAccess.from_row,
            after=after,
            count_total=count,
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
            verification = await queries.verify_range(conn, first, last)
            found = await queries.last_checkpoint(conn, verification.last_seq)
        signed = SignedCheckpoint.of(*found, info.context.public_key) if found else None
        return ChainVerification.of(verification, signed)

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


async def _zero() -> int:
    return 0


schema = build_schema(query=Query, subscription=Subscription, types=[Worker, AuditEvent, PersonalDataAccess])
