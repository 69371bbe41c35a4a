"""The parts of a case as the API shows it (the case itself is in graph.py).

What a case is (kind, phase, village, status, clocks, who holds it, its referrals'
parties and times) is open to every caller who sees the case (`case:read`); its content (the people concerned, the
reporter, the description, notes, reasons, outcomes, the resolution) goes through the content gate: purpose
PROTECTION_CASE, a restricted case only for its owner and the agencies that accepted a referral, every read recorded
(content.py). A withheld content field is null with its error; the rest of the case still answers."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.dataloader import DataLoader

from demimas_cases.adapters.legal_aid import LegalAidRepository
from demimas_cases.domain import case as model
from demimas_cases.domain.case import overdue_items
from demimas_cases.domain.legal_aid import LegalAidOrganisation as DomainOrganisation
from demimas_cases.entrypoints.graphql.common import READ
from demimas_cases.entrypoints.graphql.context import Ctx
from demimas_cases.entrypoints.graphql.enums import (
    AgencyEnum,
    CaseStatusEnum,
    OverdueKindEnum,
    ReferralStatusEnum,
)

__all__ = ["CONTENT", "CaseNote", "CaseStep", "LegalAidOrganisation", "OverdueItem", "Referral", "Reporter"]

CONTENT = "Case content: needs the purpose PROTECTION_CASE; on a RESTRICTED case only for its owner and the agencies "
CONTENT += "that accepted a referral. Every read is recorded."


@strawberry.type(description="Who reported the case (may be anonymous).")
class Reporter:
    anonymous: bool
    name: str | None
    contact: str | None
    relation: str | None


@strawberry.type(description="A service clock that ran out.")
class OverdueItem:
    kind: OverdueKindEnum  # type: ignore[valid-type]
    due_at: dt.datetime
    held_by: AgencyEnum  # type: ignore[valid-type]
    referral_id: strawberry.ID | None


@strawberry.type(description="A legal aid organisation accredited under UU 16/2011, in KP2MI's register.")
class LegalAidOrganisation:
    id: strawberry.ID
    name: str
    accreditation_number: str
    regions_served: list[str]
    contact: str | None
    active: bool

    @classmethod
    def from_domain(cls, o: DomainOrganisation) -> LegalAidOrganisation:
        return cls(
            id=strawberry.ID(str(o.id)),
            name=o.name,
            accreditation_number=o.accreditation_number,
            regions_served=list(o.regions_served),
            contact=o.contact,
            active=o.active,
        )


async def _organisations(info: Ctx, org_id: uuid.UUID) -> DomainOrganisation | None:
    ctx = info.context

    async def load(ids: list[uuid.UUID]) -> list[DomainOrganisation | None]:
        async with ctx.engine.connect() as conn:
            found = await LegalAidRepository(conn).get_many(ids)
        return [found.get(i) for i in ids]

    loader: DataLoader[uuid.UUID, DomainOrganisation | None] = ctx.loader("legal-aid", lambda: DataLoader(load))
    return await loader.load(org_id)


@strawberry.type(description="A referral of a case to an agency or to a legal aid organisation.")
class Referral:
    id: strawberry.ID
    to_agency: AgencyEnum | None  # type: ignore[valid-type]
    referred_by: AgencyEnum  # type: ignore[valid-type]
    referred_at: dt.datetime
    due_at: dt.datetime = strawberry.field(description="When the receiving side must have accepted or declined.")
    status: ReferralStatusEnum  # type: ignore[valid-type]
    responded_at: dt.datetime | None
    overdue: bool
    ref: strawberry.Private[model.Referral]
    case: strawberry.Private[model.Case]

    @strawberry.field
    async def legal_aid_organisation(self, info: Ctx) -> LegalAidOrganisation | None:
        org_id = self.ref.legal_aid_organisation_id
        found = await _organisations(info, org_id) if org_id else None
        return LegalAidOrganisation.from_domain(found) if found else None

    @strawberry.federation.field(requires_scopes=READ, description="Why it was referred. " + CONTENT)
    async def reason(self, info: Ctx) -> str | None:
        await info.context.content.gate(self.case, "referrals.reason")
        return self.ref.reason

    @strawberry.federation.field(requires_scopes=READ, description="Why it was declined. " + CONTENT)
    async def decline_reason(self, info: Ctx) -> str | None:
        await info.context.content.gate(self.case, "referrals.declineReason")
        return self.ref.decline_reason

    @strawberry.federation.field(requires_scopes=READ, description="What came of it. " + CONTENT)
    async def outcome(self, info: Ctx) -> str | None:
        await info.context.content.gate(self.case, "referrals.outcome")
        return self.ref.outcome

    @classmethod
    def from_domain(cls, r: model.Referral, c: model.Case, now: dt.datetime) -> Referral:
        return cls(
            id=strawberry.ID(str(r.id)),
            to_agency=r.to_agency,
            referred_by=r.referred_by,
            referred_at=r.referred_at,
            due_at=r.due_at,
            status=r.status,
            responded_at=r.responded_at,
            overdue=any(i.referral_id == r.id for i in overdue_items(c, now)),
            ref=r,
            case=c,
        )


@strawberry.type(description="A note on a case by one of the agencies holding it.")
class CaseNote:
    id: strawberry.ID
    agency: AgencyEnum  # type: ignore[valid-type]
    created_at: dt.datetime
    text: str


@strawberry.type(description="One step of a case's trail: who changed it, when, and who held it after (no content).")
class CaseStep:
    version: int
    step: str
    at: dt.datetime
    agency: AgencyEnum  # type: ignore[valid-type]
    status: CaseStatusEnum  # type: ignore[valid-type]
    held_by: list[AgencyEnum]  # type: ignore[valid-type]
    village_code: strawberry.Private[str]

    def region_code(self, info: Ctx) -> str:
        return self.village_code
