"""The audit service's subscription (docs/audit.md, "Subscriptions"): `auditEventAppended`, every event of every
service as the DEMIMAS stream carries it to the audit trail, read through the process's live fan-out of `demimas.>`
(`demimas_common.subscriptions`).

For auditors: it needs `audit:read` (as `auditEvents`). Events are placed in no region, so a token with a region
receives none (as `AuditEvent` is invisible to it). The event object carries the envelope's attributes (id, type,
source, CloudEvent subject, time, agency of the actor, trace); `auditEvent` is the record in the hash chain (its
data, hash and chain position), null until the ingest has appended it (normally within a second; the chain can
then be read by query).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from demimas_audit.adapters import queries
from demimas_audit.entrypoints.graphql.context import AuditContext
from demimas_audit.entrypoints.graphql.types import AuditEvent
from demimas_common.errors import BadUserInput
from demimas_common.events.envelope import CloudEvent
from demimas_common.subscriptions import EventQuery, live_events, subject_matches

__all__ = ["AuditEventAppended", "AuditEventAppendedFilter", "Subscription"]

Ctx = Info[AuditContext, None]
READ = [["audit:read"]]
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
TYPE_PATTERN = re.compile(r"^demimas(\.[a-z_*]+)*(\.>)?$")


@strawberry.input(description="Which events to receive; all optional, all must match.")
class AuditEventAppendedFilter:
    type: str | None = strawberry.field(
        default=None, description="An event type, or a pattern of them: demimas.registry.> or demimas.*.case.opened."
    )
    source: str | None = None
    actor_agency: str | None = None
    subject: str | None = strawberry.field(default=None, description="The aggregate (the CloudEvent subject).")
    trace_id: str | None = None


@strawberry.type(description="An event on its way into the audit trail: its envelope, never its data in clear.")
class AuditEventAppended:
    cursor: str = strawberry.field(description="The event's position in the stream: pass it as `after` to resume.")
    event_id: strawberry.ID
    type: str
    source: str
    subject: str
    time: dt.datetime
    actor_agency: str | None
    trace_id: str | None

    def region_code(self, info: Ctx) -> None:
        """Placed in no region, as `AuditEvent`: a regional token never sees one."""

    @strawberry.field(description="The record in the hash chain; null until the ingest appended it.")
    async def audit_event(self, info: Ctx) -> AuditEvent | None:
        async with info.context.engine.connect() as conn:
            row = (await queries.events_by_ids(conn, [str(self.event_id)])).get(str(self.event_id))
        return AuditEvent.from_row(row) if row else None

    @classmethod
    def of(cls, cursor: str, event: CloudEvent) -> AuditEventAppended:
        return cls(cursor=cursor, event_id=strawberry.ID(event.id), type=event.type, source=event.source,
                   subject=event.subject, time=event.time, actor_agency=event.actoragency,
                   trace_id=_trace_of(event))  # fmt: skip


def _trace_of(event: CloudEvent) -> str | None:
    parts = (event.traceparent or "").split("-")
    return parts[1] if len(parts) == 4 else None


@strawberry.type
class Subscription:
    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=READ,
        description="Every event of every service as it reaches the audit trail, filtered. With `after` (a cursor "
        "received), every event since then first, then live ones.",
    )
    async def audit_event_appended(
        self, info: Ctx, filter: AuditEventAppendedFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[AuditEventAppended, None]:
        info.context.require_principal().require_scope("audit:read")
        f = filter or AuditEventAppendedFilter()
        if f.type is not None and not TYPE_PATTERN.match(f.type):
            raise BadUserInput("filter.type must be an event type or a pattern such as demimas.registry.>",
                               field="filter.type")  # fmt: skip
        if f.trace_id is not None and not TRACE_ID.match(f.trace_id):
            raise BadUserInput("traceId must be 32 lowercase hex digits (W3C trace context)", field="filter.traceId")

        def matches(event: CloudEvent) -> bool:
            return (
                (f.type is None or subject_matches(f.type, event.type))
                and (f.source is None or event.source == f.source)
                and (f.actor_agency is None or event.actoragency == f.actor_agency)
                and (f.subject is None or event.subject == f.subject)
                and (f.trace_id is None or _trace_of(event) == f.trace_id)
            )

        return await live_events(
            info.context,
            EventQuery(
                subject="demimas.>",
                after=after,
                village_of=lambda event: None,
                matches=matches,
                build=AuditEventAppended.of,
            ),
        )
