"""The designation subgraph's schema: the proposal workflow's query and mutations (issue 4; designations and the
summary come next)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from strawberry.types import Info

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput
from demimas_common.graphql.ids import parse_uuid
from demimas_common.graphql.labels import labels_field
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.schema import build_schema
from demimas_common.graphql.types import PageInfo
from demimas_designation.adapters import queries
from demimas_designation.adapters.designations import DesignationRepository
from demimas_designation.adapters.proposals import ProposalRepository
from demimas_designation.domain import commands as cmd
from demimas_designation.domain.assessment import Evidence
from demimas_designation.domain.vocabulary import DesignationStatus, EvidenceKind
from demimas_designation.entrypoints.graphql.context import DesignationContext
from demimas_designation.entrypoints.graphql.subscriptions import Subscription
from demimas_designation.entrypoints.graphql.types import (
    CriteriaAssessment,
    Designation,
    DesignationStatusEnum,
    EvidenceKindEnum,
    ProgrammeEnum,
    Proposal,
    ProposalStatusEnum,
    Village,
)
from demimas_designation.labels import LABELS
from demimas_designation.service_layer import designations as designation_flow
from demimas_designation.service_layer import proposals as flow
from demimas_designation.service_layer.ports import DesignationUoW
from demimas_designation.service_layer.proposals import WorkflowSettings

__all__ = ["Mutation", "Query", "schema"]

Ctx = Info[DesignationContext, None]
PROPOSE, VERIFY, DECIDE = [["designation:propose"]], [["designation:verify"]], [["designation:decide"]]
READERS = [["designation:propose"], ["designation:verify"], ["designation:decide"]]
C = TypeVar("C")
R = TypeVar("R")


async def _run(info: Ctx, handler: Callable[[C, DesignationUoW, Principal, WorkflowSettings], Awaitable[R]],
               command: C) -> R:  # fmt: skip
    """A use case in a unit of work of its own, for the caller (the handler commits)."""
    ctx = info.context
    return await ctx.run(handler, command, ctx.require_principal(), ctx.workflow)


@strawberry.input
class EvidenceInput:
    kind: EvidenceKindEnum  # type: ignore[valid-type]
    title: str
    document_date: dt.date
    sha256: str = strawberry.field(description="SHA-256 of the document (the document itself stays outside).")
    number: str | None = None
    term_end: dt.date | None = None
    note: str | None = None


@strawberry.input
class DesignationFilter:
    status: DesignationStatusEnum | None = None  # type: ignore[valid-type]
    region_prefix: str | None = strawberry.field(
        default=None, description="Designations of villages whose Kemendagri code lies in this prefix (16, 16.06)."
    )
    province_code: str | None = strawberry.field(default=None, deprecation_reason="Use regionPrefix")
    regency_code: str | None = strawberry.field(default=None, deprecation_reason="Use regionPrefix")
    programme: ProgrammeEnum | None = None  # type: ignore[valid-type]


@strawberry.input
class ProposalFilter:
    status: ProposalStatusEnum | None = None  # type: ignore[valid-type]
    region_prefix: str | None = None


@strawberry.type
class DesignationEdge:
    cursor: str
    node: Designation


@strawberry.type
class DesignationConnection:
    edges: list[DesignationEdge]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="How many designations the whole list has (costs a count: select it only when needed)."
    )
    async def total_count(self) -> int:
        return await self.count_query()


@strawberry.type
class ProposalEdge:
    cursor: str
    node: Proposal


@strawberry.type
class ProposalConnection:
    edges: list[ProposalEdge]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many proposals the whole list has (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        return await self.count_query()


@strawberry.type
class StatusCount:
    status: DesignationStatusEnum  # type: ignore[valid-type]
    count: int


@strawberry.type(description="Designated villages (not revoked) and the provinces and regencies they lie in.")
class DesignationSummary:
    villages: int
    provinces: int
    regencies: int
    by_status: list[StatusCount]


REGION = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


def _region(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not REGION.match(value):
        raise BadUserInput(f"{field} must be a region code prefix such as 16 or 16.06", field=field)
    return value


def _after(after: str | None) -> tuple[str, uuid.UUID] | None:
    if after is None:
        return None
    code, raw = decode_cursor(after, length=2)
    try:
        return str(code), uuid.UUID(str(raw))
    except ValueError:
        raise BadUserInput("after is not a cursor of this list", field="after") from None


@strawberry.type
class Query:
    designation_labels = labels_field("designation", LABELS)

    @strawberry.federation.field(authenticated=True, description="Designated villages, by village code.")
    async def designations(
        self, info: Ctx, filter: DesignationFilter | None = None, first: int | None = None, after: str | None = None
    ) -> DesignationConnection | None:
        ctx = info.context
        principal = ctx.require_principal()
        f = filter or DesignationFilter()
        if f.region_prefix is not None and (f.province_code is not None or f.regency_code is not None):
            raise BadUserInput(
                "give regionPrefix alone: provinceCode and regencyCode are deprecated forms of it", field="regionPrefix"
            )
        region = (
            _region(f.region_prefix, "regionPrefix")
            or _region(f.regency_code, "regencyCode")
            or _region(f.province_code, "provinceCode")
        )
        status = f.status.value if f.status else None
        programme = f.programme.value if f.programme else None
        limit = validate_first(first)
        async with ctx.engine.connect() as conn:
            ids, more = await queries.designation_page(
                conn, status=status, region=region, caller_region=principal.region,
                programme=programme, first=limit, after=_after(after),
            )  # fmt: skip
            found = [await DesignationRepository(conn).get(i) for i in ids]
        edges = [DesignationEdge(cursor=encode_cursor((d.village_code, str(d.id))), node=Designation.from_domain(d))
                 for d in found]  # fmt: skip

        async def count() -> int:
            async with ctx.engine.connect() as c:
                return await queries.designation_count(
                    c, status=status, region=region, caller_region=principal.region, programme=programme
                )

        return DesignationConnection(edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more,
                                                                         after=after), count_query=count)  # fmt: skip

    @strawberry.federation.field(requires_scopes=READERS, description="Proposals, by village code.")
    async def proposals(
        self, info: Ctx, filter: ProposalFilter | None = None, first: int | None = None, after: str | None = None
    ) -> ProposalConnection | None:
        ctx = info.context
        principal = ctx.require_principal()
        f = filter or ProposalFilter()
        limit = validate_first(first)
        status = f.status.value if f.status else None
        region = _region(f.region_prefix, "regionPrefix")
        async with ctx.engine.connect() as conn:
            ids, more = await queries.proposal_page(
                conn, status=status, region=region, caller_region=principal.region, first=limit, after=_after(after),
            )  # fmt: skip
            found = [await ProposalRepository(conn).get(i) for i in ids]
        edges = [ProposalEdge(cursor=encode_cursor((p.village_code, str(p.id))), node=Proposal.from_domain(p))
                 for p in found]  # fmt: skip

        async def count() -> int:
            async with ctx.engine.connect() as c:
                return await queries.proposal_count(c, status=status, region=region, caller_region=principal.region)

        return ProposalConnection(edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more,
                                                                     after=after), count_query=count)  # fmt: skip

    @strawberry.federation.field(authenticated=True, description="The figure the ministry quotes.")
    async def designation_summary(self, info: Ctx, region_prefix: str | None = None) -> DesignationSummary | None:
        ctx = info.context
        principal = ctx.require_principal()
        async with ctx.engine.connect() as conn:
            s = await queries.summary(conn, _region(region_prefix, "regionPrefix"), principal.region)
        counts = [StatusCount(status=DesignationStatus(k), count=v) for k, v in sorted(s.by_status.items())]
        return DesignationSummary(villages=s.villages, provinces=s.provinces, regencies=s.regencies, by_status=counts)

    @strawberry.federation.field(requires_scopes=READERS, description="A proposal by its id.")
    async def proposal(self, info: Ctx, id: strawberry.ID) -> Proposal | None:
        # Unknown, or outside the caller's region (the region rule nulls it): the same null, no error.
        return await Proposal.resolve_reference(info, id)


@strawberry.type
class Mutation:
    @strawberry.federation.field(requires_scopes=PROPOSE, description="Draft a proposal for a village of your region.")
    async def propose_village(self, info: Ctx, village_code: str, justification: str) -> Proposal | None:
        p = await _run(info, flow.propose, cmd.ProposeVillage(village_code, justification))
        return Proposal.from_domain(p)

    @strawberry.federation.field(requires_scopes=PROPOSE)
    async def submit_proposal(self, info: Ctx, id: strawberry.ID) -> Proposal | None:
        return Proposal.from_domain(await _run(info, flow.submit, cmd.SubmitProposal(parse_uuid(id))))

    @strawberry.federation.field(requires_scopes=VERIFY)
    async def verify_proposal(self, info: Ctx, id: strawberry.ID, note: str | None = None) -> Proposal | None:
        return Proposal.from_domain(await _run(info, flow.verify, cmd.VerifyProposal(parse_uuid(id), note)))

    @strawberry.federation.field(requires_scopes=[["designation:propose"], ["designation:verify"]])
    async def add_evidence(self, info: Ctx, proposal_id: strawberry.ID, input: EvidenceInput) -> Proposal | None:
        item = Evidence(uuid.uuid4(), EvidenceKind(input.kind), input.title, input.document_date, input.sha256,
                        input.number, input.term_end, input.note)  # fmt: skip
        pid = parse_uuid(proposal_id, "proposalId")
        await _run(info, flow.add_evidence, cmd.AddEvidence(pid, item))
        async with info.context.engine.connect() as conn:
            return Proposal.from_domain(await ProposalRepository(conn).get(pid))

    @strawberry.federation.field(requires_scopes=[["designation:verify"], ["designation:decide"]])
    async def assess_proposal(self, info: Ctx, id: strawberry.ID) -> CriteriaAssessment | None:
        _, result = await _run(info, flow.assess_proposal, cmd.AssessProposal(parse_uuid(id)))
        return CriteriaAssessment.from_domain(result)

    @strawberry.federation.field(requires_scopes=DECIDE, description="Approve with the decree (SK Menteri P2MI).")
    async def approve_proposal(self, info: Ctx, id: strawberry.ID, decree_number: str, decree_date: dt.date,
                               override_reason: str | None = None) -> Proposal | None:  # fmt: skip
        command = cmd.ApproveProposal(parse_uuid(id), decree_number, decree_date, override_reason)
        return Proposal.from_domain(await _run(info, flow.approve, command))

    @strawberry.federation.field(requires_scopes=DECIDE)
    async def reject_proposal(self, info: Ctx, id: strawberry.ID, reason: str) -> Proposal | None:
        return Proposal.from_domain(await _run(info, flow.reject, cmd.RejectProposal(parse_uuid(id), reason)))

    @strawberry.federation.field(requires_scopes=PROPOSE)
    async def withdraw_proposal(self, info: Ctx, id: strawberry.ID, reason: str | None = None) -> Proposal | None:
        return Proposal.from_domain(await _run(info, flow.withdraw, cmd.WithdrawProposal(parse_uuid(id), reason)))

    @strawberry.federation.field(requires_scopes=DECIDE, description="Suspend a designation (a reason is required).")
    async def suspend_designation(self, info: Ctx, id: strawberry.ID, reason: str) -> Designation | None:
        d = await _run(info, designation_flow.suspend, cmd.SuspendDesignation(parse_uuid(id), reason))
        return Designation.from_domain(d)

    @strawberry.federation.field(requires_scopes=DECIDE, description="Make a suspended designation active again.")
    async def reinstate_designation(self, info: Ctx, id: strawberry.ID, note: str | None = None) -> Designation | None:
        d = await _run(info, designation_flow.reinstate, cmd.ReinstateDesignation(parse_uuid(id), note))
        return Designation.from_domain(d)

    @strawberry.federation.field(
        requires_scopes=DECIDE, description="Revoke a designation (final; a reason is required)."
    )
    async def revoke_designation(self, info: Ctx, id: strawberry.ID, reason: str) -> Designation | None:
        d = await _run(info, designation_flow.revoke, cmd.RevokeDesignation(parse_uuid(id), reason))
        return Designation.from_domain(d)


schema = build_schema(query=Query, mutation=Mutation, subscription=Subscription, types=[Village, Proposal, Designation])
