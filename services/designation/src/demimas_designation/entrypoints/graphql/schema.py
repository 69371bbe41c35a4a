"""The designation subgraph's schema: the proposal workflow's query and mutations (issue 4; designations and the
summary come next)."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.types import Info

from demimas_common.errors import BadUserInput
from demimas_common.graphql.schema import build_schema
from demimas_designation.adapters import proposals as repo
from demimas_designation.domain.assessment import Evidence
from demimas_designation.domain.vocabulary import EvidenceKind
from demimas_designation.entrypoints.graphql.context import DesignationContext
from demimas_designation.entrypoints.graphql.types import CriteriaAssessment, Designation, Proposal, Village
from demimas_designation.service_layer import designations as designation_flow
from demimas_designation.service_layer import proposals as flow

__all__ = ["Mutation", "Query", "schema"]

Ctx = Info[DesignationContext, None]
EvidenceKindEnum = strawberry.enum(EvidenceKind, name="EvidenceKind")
PROPOSE, VERIFY, DECIDE = [["designation:propose"]], [["designation:verify"]], [["designation:decide"]]
READERS = [["designation:propose"], ["designation:verify"], ["designation:decide"]]


def _id(value: strawberry.ID, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadUserInput(f"{field} must be a UUID", field=field) from None


@strawberry.input
class EvidenceInput:
    kind: EvidenceKindEnum  # type: ignore[valid-type]
    title: str
    document_date: dt.date
    sha256: str = strawberry.field(description="SHA-256 of the document (the document itself stays outside).")
    number: str | None = None
    term_end: dt.date | None = None
    note: str | None = None


@strawberry.type
class Query:
    @strawberry.federation.field(requires_scopes=READERS, description="A proposal by its id.")
    async def proposal(self, info: Ctx, id: strawberry.ID) -> Proposal | None:
        ctx = info.context
        principal = ctx.require_principal()
        async with ctx.engine.connect() as conn:
            found = await repo.load_proposal(conn, _id(id))
        principal.require_region(found.village_code)
        return Proposal.from_domain(found)


@strawberry.type
class Mutation:
    @strawberry.federation.field(requires_scopes=PROPOSE, description="Draft a proposal for a village of your region.")
    async def propose_village(self, info: Ctx, village_code: str, justification: str) -> Proposal | None:
        ctx = info.context
        p = await flow.propose(ctx.engine, ctx.require_principal(), village_code, justification, ctx.workflow)
        return Proposal.from_domain(p)

    @strawberry.federation.field(requires_scopes=PROPOSE)
    async def submit_proposal(self, info: Ctx, id: strawberry.ID) -> Proposal | None:
        ctx = info.context
        return Proposal.from_domain(await flow.submit(ctx.engine, ctx.require_principal(), _id(id), ctx.workflow))

    @strawberry.federation.field(requires_scopes=VERIFY)
    async def verify_proposal(self, info: Ctx, id: strawberry.ID, note: str | None = None) -> Proposal | None:
        ctx = info.context
        p = await flow.verify(ctx.engine, ctx.require_principal(), _id(id), note, ctx.workflow)
        return Proposal.from_domain(p)

    @strawberry.federation.field(requires_scopes=[["designation:propose"], ["designation:verify"]])
    async def add_evidence(self, info: Ctx, proposal_id: strawberry.ID, input: EvidenceInput) -> Proposal | None:
        ctx = info.context
        item = Evidence(uuid.uuid4(), EvidenceKind(input.kind), input.title, input.document_date, input.sha256,
                        input.number, input.term_end, input.note)  # fmt: skip
        pid = _id(proposal_id, "proposalId")
        await flow.add_evidence(ctx.engine, ctx.require_principal(), pid, item, ctx.workflow)
        async with ctx.engine.connect() as conn:
            return Proposal.from_domain(await repo.load_proposal(conn, pid))

    @strawberry.federation.field(requires_scopes=[["designation:verify"], ["designation:decide"]])
    async def assess_proposal(self, info: Ctx, id: strawberry.ID) -> CriteriaAssessment | None:
        ctx = info.context
        _, result = await flow.assess_proposal(ctx.engine, ctx.require_principal(), _id(id), ctx.workflow)
        return CriteriaAssessment.from_domain(result)

    @strawberry.federation.field(requires_scopes=DECIDE, description="Approve with the decree (SK Menteri P2MI).")
    async def approve_proposal(self, info: Ctx, id: strawberry.ID, decree_number: str, decree_date: dt.date,
                               override_reason: str | None = None) -> Proposal | None:  # fmt: skip
        ctx = info.context
        p = await flow.approve(ctx.engine, ctx.require_principal(), _id(id), decree_number, decree_date,
                               override_reason, ctx.workflow)  # fmt: skip
        return Proposal.from_domain(p)

    @strawberry.federation.field(requires_scopes=DECIDE)
    async def reject_proposal(self, info: Ctx, id: strawberry.ID, reason: str) -> Proposal | None:
        ctx = info.context
        p = await flow.reject(ctx.engine, ctx.require_principal(), _id(id), reason, ctx.workflow)
        return Proposal.from_domain(p)

    @strawberry.federation.field(requires_scopes=PROPOSE)
    async def withdraw_proposal(self, info: Ctx, id: strawberry.ID, reason: str | None = None) -> Proposal | None:
        ctx = info.context
        p = await flow.withdraw(ctx.engine, ctx.require_principal(), _id(id), reason, ctx.workflow)
        return Proposal.from_domain(p)

    @strawberry.federation.field(requires_scopes=DECIDE, description="Suspend a designation (a reason is required).")
    async def suspend_designation(self, info: Ctx, id: strawberry.ID, reason: str) -> Designation | None:
        ctx = info.context
        d = await designation_flow.suspend(ctx.engine, ctx.require_principal(), _id(id), reason, ctx.workflow)
        return Designation.from_domain(d)

    @strawberry.federation.field(requires_scopes=DECIDE, description="Make a suspended designation active again.")
    async def reinstate_designation(self, info: Ctx, id: strawberry.ID, note: str | None = None) -> Designation | None:
        ctx = info.context
        d = await designation_flow.reinstate(ctx.engine, ctx.require_principal(), _id(id), note, ctx.workflow)
        return Designation.from_domain(d)

    @strawberry.federation.field(
        requires_scopes=DECIDE, description="Revoke a designation (final; a reason is required)."
    )
    async def revoke_designation(self, info: Ctx, id: strawberry.ID, reason: str) -> Designation | None:
        ctx = info.context
        d = await designation_flow.revoke(ctx.engine, ctx.require_principal(), _id(id), reason, ctx.workflow)
        return Designation.from_domain(d)


schema = build_schema(query=Query, mutation=Mutation, types=[Village, Proposal, Designation])
