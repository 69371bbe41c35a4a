"""GraphQL types of the audit subgraph: `AuditEvent`, `ChainVerification` (owned here) and `Worker` (owned by the
registry) extended with its access log."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import strawberry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import RowMapping
from strawberry.scalars import JSON
from strawberry.types import Info

from demimas_audit.adapters import queries
from demimas_audit.domain.checkpoint import Checkpoint, signature_valid
from demimas_audit.domain.envelope import derive
from demimas_audit.entrypoints.graphql.context import AuditContext

__all__ = [
    "AccessLogEntry",
    "AuditEvent",
    "ChainProblem",
    "ChainVerification",
    "PersonalDataAccess",
    "StreamGap",
    "Worker",
]

Ctx = Info[AuditContext, None]


@strawberry.federation.type(
    keys=["id"], requires_scopes=[["audit:read"]], description="One event of any service, as the audit store holds it."
)
class AuditEvent:
    id: strawberry.ID
    sequence: int = strawberry.field(description="Position in the hash chain.")
    stream_sequence: int = strawberry.field(description="Position in the DEMIMAS stream.")
    type: str
    source: str
    subject: str
    time: dt.datetime
    actor_agency: str | None
    actor_sub: str | None
    trace_id: str | None
    causation_id: str | None
    correlation_id: str | None
    data: JSON
    hash: str = strawberry.field(
        description="SHA-256 of the previous hash and this record's hashed columns (the event in RFC 8785 JSON and, "
        "from format 2, the stream sequence and recording time), hex."
    )
    recorded_at: dt.datetime

    def region_code(self, info: Ctx) -> None:
        """Events are not placed in a region: a regional token never sees them (auditors work nationally)."""

    @strawberry.field(description="The event that caused this one (its causation id), when the store holds it.")
    async def caused_by(self, info: Ctx) -> AuditEvent | None:
        if not self.causation_id:
            return None
        async with info.context.engine.connect() as conn:
            found = await queries.events_by_ids(conn, [self.causation_id])
        row = found.get(self.causation_id)
        return AuditEvent.from_row(row) if row else None

    @strawberry.field(
        description="The events this one caused (their causation id is this event's id), in chain order: what a "
        "command, a decision or an event led to in other services. At most 100."
    )
    async def consequences(self, info: Ctx) -> list[AuditEvent]:
        async with info.context.engine.connect() as conn:
            rows = await queries.consequences(conn, str(self.id))
        return [AuditEvent.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, r: RowMapping) -> AuditEvent:
        """The event's attributes as its hashed event gives them: the stored copies serve the filters' indexes, and a
        copy changed in the database (which `verifyAuditChain` reports) is not what is shown."""
        event: dict[str, Any] = r["event"]
        e = derive(event, stream_seq=r["stream_seq"], recorded_at=r["recorded_at"])
        return cls(
            id=strawberry.ID(str(e["event_id"])),
            sequence=r["seq"],
            stream_sequence=r["stream_seq"],
            type=e["type"],
            source=e["source"],
            subject=e["subject"],
            time=e["time"],
            actor_agency=e["actor_agency"],
            actor_sub=e["actor_sub"],
            trace_id=e["trace_id"],
            causation_id=e["causation_id"],
            correlation_id=e["correlation_id"],
            data=cast(JSON, event.get("data")),
            hash=bytes(r["hash"]).hex(),
            recorded_at=r["recorded_at"],
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> AuditEvent | None:
        info.context.require_principal().require_scope("audit:read")
        async with info.context.engine.connect() as conn:
            row = (await queries.events_by_ids(conn, [str(id)])).get(str(id))
        return cls.from_row(row) if row else None


@strawberry.type
class ChainProblem:
    sequence: int
    kind: str = strawberry.field(description="MODIFIED, INSERTED or REMOVED.")
    detail: str
    column: str | None = strawberry.field(
        description="The column of the record that disagrees with the chain (e.g. actor_agency, event, hash), when "
        "it can be told."
    )


@strawberry.type(description="Messages of the stream the store never received (deleted from the stream, or lost).")
class StreamGap:
    from_stream_sequence: int
    to_stream_sequence: int


@strawberry.type(
    description="A signed checkpoint of the chain's head, as the audit store holds it, checked against the service's "
    "own key and against the chain. An independent proof needs the public key from another channel and the witness "
    "(`demimas audit verify --public-key --witness`, docs/audit.md)."
)
class SignedCheckpoint:
    sequence: int
    hash: str = strawberry.field(description="The head's hash at `sequence`, hex.")
    signed_at: dt.datetime
    key_id: str = strawberry.field(description="The first 16 hex digits of SHA-256 over the raw public key.")
    signature_valid: bool | None = strawberry.field(
        description="The signature verifies with the audit service's current key (null when the service has none "
        "at hand); false after a key change or a forged row."
    )
    matches_chain: bool = strawberry.field(
        description="The chain's record at `sequence` holds this hash (false: the record was rewritten or removed)."
    )

    def region_code(self, info: Ctx) -> None:
        """Not placed in a region, like the chain it signs."""

    @classmethod
    def of(cls, cp: Checkpoint, recorded: bytes | None, key: Ed25519PublicKey | None) -> SignedCheckpoint:
        """`recorded`: the hash the chain's record at the checkpoint's sequence holds now (None: no such record)."""
        return cls(
            sequence=cp.seq,
            hash=cp.hash.hex(),
            signed_at=cp.signed_at,
            key_id=cp.key_id,
            signature_valid=None if key is None else signature_valid(key, cp),
            matches_chain=recorded == cp.hash,
        )


@strawberry.type(description="The chain checked over a range: every link, the writer's head, signed checkpoints.")
class ChainVerification:
    """The chain as a whole: national, like every audit record, so a token limited to a region never sees it."""

    ok: bool
    from_sequence: int
    to_sequence: int
    checked: int
    head_sequence: int
    head_hash: str
    problems: list[ChainProblem]
    gaps: list[StreamGap]
    last_checkpoint: SignedCheckpoint | None = strawberry.field(
        default=None,
        description="The last signed checkpoint at or before the end of the range checked (null when none was signed "
        "yet).",
    )

    def region_code(self, info: Ctx) -> None:
        """Not placed in a region: invisible to a regional token (graphql/access.py)."""

    @classmethod
    def of(cls, v: queries.Verification, last_checkpoint: SignedCheckpoint | None = None) -> ChainVerification:
        return cls(
            last_checkpoint=last_checkpoint,
            ok=not v.problems,
            from_sequence=v.first_seq,
            to_sequence=v.last_seq,
            checked=v.checked,
            head_sequence=v.head_seq,
            head_hash=v.head_hash.hex(),
            problems=[
                ChainProblem(sequence=p.seq, kind=p.kind.value, detail=p.detail, column=p.column) for p in v.problems
            ],
            gaps=[StreamGap(from_stream_sequence=a, to_stream_sequence=b) for a, b in v.gaps],
        )


@strawberry.type(
    description="One read of a person's data: who (agency, token subject), why, which fields, when, through which "
    "service."
)
class AccessLogEntry:
    at: dt.datetime
    agency: str
    subject: str
    purpose: str
    fields: list[str] = strawberry.field(description="The fields read, as the recording service names them.")
    operation: str | None
    event_id: strawberry.ID
    service: str = strawberry.field(
        description="The service that recorded the read (the event's source): registry (the person's registered "
        "data) or cases (the content of protection cases about the person)."
    )


@strawberry.federation.type(keys=["id"], description="A migrant worker (owned by the registry).")
class Worker:
    id: strawberry.ID

    def region_code(self, info: Ctx) -> None:
        """The audit store does not know where a person lives: a regional token never sees an access log."""

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Worker:
        return cls(id=id)

    @strawberry.federation.field(
        requires_scopes=[["audit:read"], ["subject:report"]],
        description="Who read this person's data, newest first: in the registry, and in protection cases about them.",
    )
    async def access_log(self, info: Ctx) -> list[AccessLogEntry] | None:
        info.context.require_principal()
        async with info.context.engine.connect() as conn:
            rows = await queries.access_log(conn, str(self.id))
        entries = []
        for r in rows:
            data: dict[str, Any] = r["event"].get("data", {})
            e = derive(r["event"], stream_seq=r["stream_seq"], recorded_at=r["recorded_at"])  # as in AuditEvent
            entries.append(
                AccessLogEntry(
                    at=e["time"],
                    agency=str(data.get("agency", e["actor_agency"] or "")),
                    subject=str(data.get("subject", e["actor_sub"] or "")),
                    purpose=str(data.get("purpose", "")),
                    fields=list(data.get("fields", [])),
                    operation=data.get("operation"),
                    event_id=strawberry.ID(str(e["event_id"])),
                    service=str(e["source"]).removeprefix("demimas/"),
                )
            )
        return entries


def _ids(data: dict[str, Any], key: str) -> list[strawberry.ID]:
    return [strawberry.ID(str(i)) for i in data.get(key) or ()]


@strawberry.type(
    description="One recorded read of personal data (a `*.personal_data.accessed` event): who read, why, which "
    "fields, how many workers. A read of several workers at once (a page of workers) is one record naming each of "
    "them (ids only, never the values read), so `personalDataAccesses(filter: {workerId})` finds it under each; "
    "the ids themselves are in `event.data.workerIds`."
)
class PersonalDataAccess:
    id: strawberry.ID = strawberry.field(description="The event's id (an `AuditEvent`).")
    sequence: int = strawberry.field(description="Position in the hash chain.")
    at: dt.datetime
    agency: str
    subject: str = strawberry.field(description="The token subject that read (a person or a system).")
    purpose: str
    fields: list[str] = strawberry.field(description="The fields read, as the recording service names them.")
    operation: str | None = strawberry.field(description="The client's GraphQL operation name.")
    service: str = strawberry.field(
        description="The service that recorded the read: registry (registered data) or cases (protection cases)."
    )
    worker_count: int = strawberry.field(
        description="How many workers this read returned (more than 1: a page or batch read)."
    )
    family_member_count: int = strawberry.field(description="How many family members' data this read returned.")
    case_ids: list[strawberry.ID] = strawberry.field(description="The protection cases read (cases service only).")
    trace_id: str | None = strawberry.field(description="The request's W3C trace id: `auditTrace` follows it.")
    row: strawberry.Private[RowMapping]

    def region_code(self, info: Ctx) -> None:
        """Audit records lie in no region: a token limited to one never sees them (auditors work nationally)."""

    @strawberry.field(description="The record in the hash chain (its payload names the people read, by id).")
    def event(self) -> AuditEvent:
        return AuditEvent.from_row(self.row)

    @classmethod
    def from_row(cls, r: RowMapping) -> PersonalDataAccess:
        """As the hashed event gives it (like `AuditEvent.from_row`), not the stored copies of its columns."""
        data: dict[str, Any] = r["event"].get("data") or {}
        e = derive(r["event"], stream_seq=r["stream_seq"], recorded_at=r["recorded_at"])
        return cls(
            id=strawberry.ID(str(e["event_id"])),
            sequence=r["seq"],
            at=e["time"],
            agency=str(data.get("agency", e["actor_agency"] or "")),
            subject=str(data.get("subject", e["actor_sub"] or "")),
            purpose=str(data.get("purpose", "")),
            fields=list(data.get("fields", [])),
            operation=data.get("operation"),
            service=str(e["source"]).removeprefix("demimas/"),
            worker_count=len(data.get("workerIds") or ()),
            family_member_count=len(data.get("familyMemberIds") or ()),
            case_ids=_ids(data, "caseIds"),
            trace_id=e["trace_id"],
            row=r,
        )
