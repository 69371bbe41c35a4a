"""GraphQL types of the designation subgraph: `Proposal` (owned here) and `Village` extended with its proposals and
its live assessment against the criteria."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from demimas_common.errors import NotFound
from demimas_common.graphql.ids import parse_uuid
from demimas_common.graphql.village import VillageKey
from demimas_designation.adapters.designations import DesignationRepository
from demimas_designation.adapters.proposals import ProposalRepository
from demimas_designation.domain import assessment as domain_assessment
from demimas_designation.domain import designation as domain_designation
from demimas_designation.domain import proposal as domain
from demimas_designation.domain import snapshot as domain_snapshot
from demimas_designation.domain.vocabulary import (
    Criterion,
    CriterionStatus,
    DesignationStatus,
    EvidenceKind,
    EvidenceSource,
    Programme,
    ProposalStatus,
)
from demimas_designation.entrypoints.graphql.context import DesignationContext
from demimas_designation.service_layer.proposals import assessment_of

__all__ = ["CriteriaAssessment", "DecisionAssessment", "Designation", "Evidence", "Proposal", "Village"]

ProposalStatusEnum = strawberry.enum(ProposalStatus, name="ProposalStatus")
CriterionEnum = strawberry.enum(Criterion, name="Criterion")
CriterionStatusEnum = strawberry.enum(CriterionStatus, name="CriterionStatus")
EvidenceSourceEnum = strawberry.enum(EvidenceSource, name="EvidenceSource")
EvidenceKindEnum = strawberry.enum(EvidenceKind, name="EvidenceKind")
Ctx = Info[DesignationContext, None]
READERS = [["designation:propose"], ["designation:verify"], ["designation:decide"]]
CASE_STATS = [["case:read"], ["stats:read"]]
ASSESSMENT_READERS = [["stats:read"], *READERS]
"""The live assessment's values are registry counts (stats:read) and the proposal's evidence (designation:*)."""
"""A village's protection-case figures: what the cases service's `Village.caseStats` asks."""


@strawberry.type(description="One step of a proposal: who moved it, when, and why.")
class ProposalTransition:
    status: ProposalStatusEnum  # type: ignore[valid-type]
    at: dt.datetime
    agency: str
    reason: str | None


@strawberry.federation.type(
    keys=["id"], requires_scopes=READERS, description="A regency's proposal to designate a village."
)
class Proposal:
    id: strawberry.ID
    village_code: str
    justification: str
    status: ProposalStatusEnum  # type: ignore[valid-type]
    decree_number: str | None
    decree_date: dt.date | None
    eligibility_override: str | None = strawberry.field(
        description="KP2MI's reason for approving a village the assessment did not find eligible."
    )
    history: list[ProposalTransition]

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field(description="The village proposed (the registry's `Village`).")
    def village(self) -> Village:
        return Village(code=self.village_code)

    @strawberry.field(description="The evidence added to this proposal (`addEvidence`), oldest document first.")
    async def evidence(self, info: Ctx) -> list[Evidence]:
        found = await _evidence_loader(info.context).load(uuid.UUID(str(self.id)))
        return [Evidence.from_domain(e) for e in found]

    @strawberry.field(
        description="The assessment that justified the decision, frozen when the proposal was approved or rejected "
        "(null before a decision)."
    )
    async def decision_assessment(self, info: Ctx) -> DecisionAssessment | None:
        found = await _decision_loader(info.context).load(uuid.UUID(str(self.id)))
        return DecisionAssessment.from_domain(found) if found else None

    @classmethod
    def from_domain(cls, p: domain.Proposal) -> Proposal:
        return cls(
            id=strawberry.ID(str(p.id)),
            village_code=p.village_code,
            justification=p.justification,
            status=p.status,
            decree_number=p.decree.number if p.decree else None,
            decree_date=p.decree.date if p.decree else None,
            eligibility_override=p.eligibility_override,
            history=[ProposalTransition(status=t.status, at=t.at, agency=t.agency, reason=t.reason) for t in p.history],
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Proposal | None:
        async with info.context.engine.connect() as conn:
            try:
                return cls.from_domain(await ProposalRepository(conn).get(parse_uuid(id)))
            except NotFound:
                return None  # as for one outside the caller's region


DesignationStatusEnum = strawberry.enum(DesignationStatus, name="DesignationStatus")
ProgrammeEnum = strawberry.enum(Programme, name="Programme")


@strawberry.type(description="One step of a designation: who changed it, when, and why.")
class DesignationTransition:
    status: DesignationStatusEnum  # type: ignore[valid-type]
    at: dt.datetime
    agency: str
    reason: str | None


@strawberry.federation.type(keys=["id"], description="A village designated Desa Migran EMAS by decree.")
class Designation:
    id: strawberry.ID
    village_code: str
    status: DesignationStatusEnum  # type: ignore[valid-type]
    decree_number: str
    decree_date: dt.date
    programme: ProgrammeEnum  # type: ignore[valid-type]
    proposal_id: strawberry.ID | None
    history: list[DesignationTransition]

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field(description="The village designated (the registry's `Village`).")
    def village(self) -> Village:
        return Village(code=self.village_code)

    @strawberry.federation.field(
        requires_scopes=READERS,
        description="The proposal the designation was approved on (null for villages carried over from Desmigratif).",
    )
    async def proposal(self, info: Ctx) -> Proposal | None:
        if self.proposal_id is None:
            return None
        return await Proposal.resolve_reference(info, self.proposal_id)

    @strawberry.federation.field(
        requires_scopes=READERS,
        description="The assessment the approval rested on, as frozen with the decision (null for villages carried "
        "over from Desmigratif).",
    )
    async def assessment(self, info: Ctx) -> DecisionAssessment | None:
        if self.proposal_id is None:
            return None
        found = await _decision_loader(info.context).load(uuid.UUID(str(self.proposal_id)))
        return DecisionAssessment.from_domain(found) if found else None

    @classmethod
    def from_domain(cls, d: domain_designation.Designation) -> Designation:
        return cls(
            id=strawberry.ID(str(d.id)),
            village_code=d.village_code,
            status=d.status,
            decree_number=d.decree.number,
            decree_date=d.decree.date,
            programme=d.programme,
            proposal_id=strawberry.ID(str(d.proposal_id)) if d.proposal_id else None,
            history=[
                DesignationTransition(status=t.status, at=t.at, agency=t.agency, reason=t.reason) for t in d.history
            ],
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Designation | None:
        async with info.context.engine.connect() as conn:
            try:
                found = await DesignationRepository(conn).get(parse_uuid(id))
            except NotFound:
                return None  # as for one outside the caller's region
        return cls.from_domain(found)


@strawberry.type(description="A village's protection cases (from the cases service's events) over the window.")
class ProtectionCaseFigures:
    window_days: int = strawberry.field(description="The window: this many days, ending on the assessment's day.")
    handled: int = strawberry.field(description="Cases still open, or opened, resolved or closed in the window.")
    opened: int = strawberry.field(description="Cases opened in the window.")
    resolved: int = strawberry.field(description="Cases resolved in the window and not reopened since.")
    open: int = strawberry.field(description="Cases not resolved or closed (whenever opened).")
    overdue: int = strawberry.field(
        description="Cases with an item past its service clock, escalated to KP2MI, not settled since."
    )
    median_days_to_resolution: float | None = strawberry.field(
        description="Median days from opening to resolution of the cases resolved in the window."
    )


@strawberry.type
class CriterionResult:
    criterion: CriterionEnum  # type: ignore[valid-type]
    status: CriterionStatusEnum  # type: ignore[valid-type]
    source: EvidenceSourceEnum  # type: ignore[valid-type]
    value: str | None
    note: str | None
    cases_: strawberry.Private[domain_assessment.CaseFigures | None] = None

    @strawberry.federation.field(
        requires_scopes=CASE_STATS,
        description="The protection-case figures the result cites (SUSTAINED_PROTECTION; null for the others).",
    )
    def case_figures(self) -> ProtectionCaseFigures | None:
        c = self.cases_
        if c is None:
            return None
        return ProtectionCaseFigures(window_days=c.window_days, handled=c.handled, opened=c.opened,
                                     resolved=c.resolved, open=c.open, overdue=c.overdue,
                                     median_days_to_resolution=c.median_days_to_resolution)  # fmt: skip


@strawberry.type(description="A village against the six criteria and the two minimum conditions, as of now.")
class CriteriaAssessment:
    eligible: bool
    results: list[CriterionResult]

    @classmethod
    def from_domain(cls, a: domain_assessment.CriteriaAssessment) -> CriteriaAssessment:
        results = [CriterionResult(criterion=r.criterion, status=r.status, source=r.source, value=r.value, note=r.note,
                                   cases_=r.cases) for r in a.results]  # fmt: skip
        return cls(eligible=a.eligible, results=results)


@strawberry.type(
    description="A document added to a proposal as evidence: the document itself stays outside, its SHA-256 names it."
)
class Evidence:
    id: strawberry.ID
    kind: EvidenceKindEnum  # type: ignore[valid-type]
    title: str
    document_date: dt.date
    sha256: str
    number: str | None
    term_end: dt.date | None
    note: str | None

    @classmethod
    def from_domain(cls, e: domain_assessment.Evidence) -> Evidence:
        return cls(id=strawberry.ID(str(e.id)), kind=e.kind, title=e.title, document_date=e.document_date,
                   sha256=e.sha256, number=e.number, term_end=e.term_end, note=e.note)  # fmt: skip


@strawberry.type(
    description="The assessment that justified a decision on a proposal, frozen when KP2MI approved or rejected it: "
    "the criteria results (status, value, source), the threshold in force and the evidence read, as they were."
)
class DecisionAssessment:
    decision: ProposalStatusEnum  # type: ignore[valid-type]
    assessed_at: dt.datetime
    eligible: bool
    procedural_threshold: float
    results: list[CriterionResult]
    evidence: list[Evidence] = strawberry.field(description="The evidence the assessment read, as it was then.")

    @classmethod
    def from_domain(cls, s: domain_snapshot.DecisionAssessment) -> DecisionAssessment:
        return cls(decision=s.decision, assessed_at=s.assessed_at, eligible=s.eligible,
                   procedural_threshold=s.procedural_threshold,
                   results=CriteriaAssessment.from_domain(s.assessment).results,
                   evidence=[Evidence.from_domain(e) for e in s.evidence])  # fmt: skip


def _evidence_loader(ctx: DesignationContext) -> DataLoader[uuid.UUID, list[domain_assessment.Evidence]]:
    async def load(ids: list[uuid.UUID]) -> list[list[domain_assessment.Evidence]]:
        async with ctx.engine.connect() as conn:
            found = await ProposalRepository(conn).evidence_of_proposals(list(ids))
        return [found.get(i, []) for i in ids]

    return ctx.loader("proposal-evidence", lambda: DataLoader(load_fn=load))


def _decision_loader(ctx: DesignationContext) -> DataLoader[uuid.UUID, domain_snapshot.DecisionAssessment | None]:
    async def load(ids: list[uuid.UUID]) -> list[domain_snapshot.DecisionAssessment | None]:
        async with ctx.engine.connect() as conn:
            found = await ProposalRepository(conn).decision_assessments(list(ids))
        return [found.get(i) for i in ids]

    return ctx.loader("decision-assessments", lambda: DataLoader(load_fn=load))


async def _designations(ctx: DesignationContext, codes: list[str]) -> list[domain_designation.Designation | None]:
    """A page of villages' designations at once (the gateway sends them in one `_entities` call)."""
    async with ctx.engine.connect() as conn:
        found = await DesignationRepository(conn).current_of(list(codes))
    return [found.get(code) for code in codes]


@strawberry.federation.type(keys=["code"], description="A desa/kelurahan (owned by the registry).")
class Village(VillageKey):
    code: str

    @strawberry.federation.field(authenticated=True, description="The village's current designation, if any.")
    async def designation(self, info: Ctx) -> Designation | None:
        ctx = info.context
        ctx.require_principal()
        loader = ctx.loader("designations", lambda: DataLoader(load_fn=lambda codes: _designations(ctx, codes)))
        found: domain_designation.Designation | None = await loader.load(self.code)
        return Designation.from_domain(found) if found else None

    @strawberry.federation.field(requires_scopes=READERS, description="Proposals of this village, newest first.")
    async def proposals(self, info: Ctx) -> list[Proposal] | None:
        ctx = info.context
        ctx.require_principal()
        async with ctx.engine.connect() as conn:
            repo = ProposalRepository(conn)
            found = [await repo.get(i) for i in await repo.ids_of_village(self.code)]
        found.sort(key=lambda p: p.history[0].at if p.history else dt.datetime.min, reverse=True)
        return [Proposal.from_domain(p) for p in found]

    @strawberry.federation.field(
        requires_scopes=ASSESSMENT_READERS,
        description="Assessed now from registry data and evidence (stats:read, whose numbers its values quote, or a"
        " designation:* scope).",
    )
    async def criteria_assessment(self, info: Ctx) -> CriteriaAssessment | None:
        ctx = info.context
        ctx.require_principal()
        async with ctx.unit_of_work() as uow:
            result = await assessment_of(uow, self.code, ctx.workflow, ctx.workflow.clock().date())
        return CriteriaAssessment.from_domain(result)
