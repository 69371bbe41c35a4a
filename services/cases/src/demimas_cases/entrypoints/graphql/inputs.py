"""The cases subgraph's inputs and their translation into domain values (checked by the domain, which names the
field at fault)."""

from __future__ import annotations

import uuid

import strawberry

from demimas_cases.domain import case as domain
from demimas_cases.domain.legal_aid import LegalAidOrganisation
from demimas_cases.domain.vocabulary import (
    CaseChannel,
    CaseKind,
    CasePhase,
    CaseStatus,
    Confidentiality,
    PersonRole,
    Sex,
)
from demimas_cases.entrypoints.graphql.common import parse_id
from demimas_cases.entrypoints.graphql.context import CasesContext
from demimas_cases.entrypoints.graphql.enums import (
    AgencyEnum,
    CaseChannelEnum,
    CaseKindEnum,
    CasePhaseEnum,
    CaseStatusEnum,
    ConfidentialityEnum,
    PersonRoleEnum,
    SexEnum,
)

__all__ = [
    "IDEMPOTENCY_KEY",
    "CaseFilterInput",
    "CasePersonInput",
    "LegalAidOrganisationInput",
    "OpenCaseInput",
    "ReferCaseInput",
    "ReporterInput",
    "TriageCaseInput",
    "case_of",
    "organisation_of",
]

IDEMPOTENCY_KEY = (
    "Optional, 1-100 printable ASCII characters (a UUID is a good key): a retry with the same key and input returns "
    "what the first attempt made instead of making it twice."
)


@strawberry.input(description="A person the case concerns: a registered worker or family member by id, or an "
                  "unregistered person with a name as reported (and sex, birth year when known).")  # fmt: skip
class CasePersonInput:
    role: PersonRoleEnum  # type: ignore[valid-type]
    id: strawberry.ID | None = None
    name: str | None = None
    sex: SexEnum | None = None  # type: ignore[valid-type]
    birth_year: int | None = None
    minor: bool = strawberry.field(default=False, description="Under 18 (a registered family member's comes from "
                                   "the registry).")  # fmt: skip


@strawberry.input(description="Who reported the case: anonymous, or a name with a contact.")
class ReporterInput:
    anonymous: bool
    name: str | None = None
    contact: str | None = None
    relation: str | None = strawberry.field(default=None, description="To the person concerned, e.g. spouse.")


@strawberry.input
class OpenCaseInput:
    village_code: str
    kind: CaseKindEnum  # type: ignore[valid-type]
    phase: CasePhaseEnum  # type: ignore[valid-type]
    channel: CaseChannelEnum  # type: ignore[valid-type]
    description: str
    reporter: ReporterInput
    people: list[CasePersonInput] = strawberry.field(default_factory=list)
    destination_country: str | None = strawberry.field(default=None, description="ISO 3166 alpha-2, e.g. MY.")
    confidentiality: ConfidentialityEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Default: RESTRICTED for suspected trafficking and cases about a child."
    )


@strawberry.input
class TriageCaseInput:
    owner_agency: AgencyEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The agency that holds the case from now on (KP2MI, BP3MI or DISNAKER)."
    )
    kind: CaseKindEnum | None = None  # type: ignore[valid-type]
    phase: CasePhaseEnum | None = None  # type: ignore[valid-type]
    confidentiality: ConfidentialityEnum | None = None  # type: ignore[valid-type]


@strawberry.input(description="Refer to an agency or to a legal aid organisation (one of the two).")
class ReferCaseInput:
    reason: str
    to_agency: AgencyEnum | None = None  # type: ignore[valid-type]
    legal_aid_organisation_id: strawberry.ID | None = None


@strawberry.input
class LegalAidOrganisationInput:
    name: str
    accreditation_number: str
    regions_served: list[str] = strawberry.field(description="Region codes (province 16, regency 16.06, ...).")
    contact: str | None = None


@strawberry.input
class CaseFilterInput:
    status: CaseStatusEnum | None = None  # type: ignore[valid-type]
    kind: CaseKindEnum | None = None  # type: ignore[valid-type]
    phase: CasePhaseEnum | None = None  # type: ignore[valid-type]
    region_prefix: str | None = None
    assigned_to: AgencyEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Cases this agency holds: it owns them or a referral to it is pending or accepted."
    )
    overdue: bool | None = None

    def statuses(self) -> CaseStatus | None:
        return CaseStatus(self.status) if self.status else None


def case_of(ctx: CasesContext, i: OpenCaseInput) -> domain.Case:
    principal = ctx.require_principal()
    now = ctx.rules.clock()
    kind = CaseKind(i.kind)
    people = tuple(
        domain.Person(
            role=PersonRole(p.role),
            id=parse_id(p.id, f"people.{n}.id") if p.id is not None else None,
            name=p.name,
            sex=Sex(p.sex) if p.sex else None,
            birth_year=p.birth_year,
            minor=p.minor,
        )
        for n, p in enumerate(i.people)
    )
    r = i.reporter
    return domain.Case(
        id=uuid.uuid4(),
        kind=kind,
        phase=CasePhase(i.phase),
        channel=CaseChannel(i.channel),
        village_code=i.village_code,
        destination_country=i.destination_country,
        owner_agency=principal.agency.value,
        opened_by=principal.agency.value,
        confidentiality=Confidentiality(i.confidentiality) if i.confidentiality else Confidentiality.STANDARD,
        status=CaseStatus.OPEN,
        version=1,
        people=people,
        reporter=domain.Reporter(anonymous=r.anonymous, name=r.name, contact=r.contact, relation=r.relation),
        description=i.description,
        opened_at=now,
        triage_due_at=ctx.rules.clocks.triage_due(now),
        resolution_due_at=ctx.rules.clocks.resolution_due(kind, now),
    )


def organisation_of(ctx: CasesContext, i: LegalAidOrganisationInput) -> LegalAidOrganisation:
    return LegalAidOrganisation(
        id=uuid.uuid4(),
        name=i.name,
        accreditation_number=i.accreditation_number,
        regions_served=tuple(i.regions_served),
        contact=i.contact,
        active=True,
        registered_at=ctx.rules.clock(),
    )
