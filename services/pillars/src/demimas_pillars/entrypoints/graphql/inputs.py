"""The pillars subgraph's inputs, and the domain values the mutations make of them (ids, agency, recorder and time
come from the server and the token, never from the input)."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry

from demimas_common.auth.principal import Agency
from demimas_common.errors import BadUserInput
from demimas_pillars.domain.activity import Activity as DomainActivity
from demimas_pillars.domain.activity import AnonymousCount as DomainAnonymousCount
from demimas_pillars.domain.pilot import Milestone as DomainMilestone
from demimas_pillars.domain.pilot import Partner as DomainPartner
from demimas_pillars.domain.pilot import Pilot
from demimas_pillars.domain.vocabulary import (
    OutputKind,
    ParticipantGroup,
    PilotStatus,
    ServicePillar,
    Sex,
    ThematicProgramme,
)
from demimas_pillars.entrypoints.graphql.common import Ctx, parse_id
from demimas_pillars.entrypoints.graphql.enums import (
    AgencyEnum,
    OutputKindEnum,
    ParticipantGroupEnum,
    PilotStatusEnum,
    ServicePillarEnum,
    SexEnum,
    ThematicProgrammeEnum,
)

__all__ = [
    "IDEMPOTENCY_KEY",
    "ActivityInput",
    "MilestoneInput",
    "PilotFilter",
    "PilotProjectInput",
    "activity_of",
    "milestone_of",
    "pilot_of",
]

IDEMPOTENCY_KEY = (
    "Optional: makes a retry after a lost answer safe. 1 to 100 printable ASCII characters (a UUID), new per request, "
    "the same on its retries, per agency. The same key and input again returns what the first attempt made; the key "
    "with another input is a CONFLICT (reason idempotency_key_reused)."
)


@strawberry.input
class OutputInput:
    kind: OutputKindEnum  # type: ignore[valid-type]
    value: int


@strawberry.input(description="Unregistered people reached, by sex and group.")
class AnonymousCountInput:
    sex: SexEnum  # type: ignore[valid-type]
    group: ParticipantGroupEnum  # type: ignore[valid-type]
    count: int


@strawberry.input
class ParticipantsInput:
    worker_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    family_member_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    anonymous: list[AnonymousCountInput] = strawberry.field(default_factory=list)


@strawberry.input
class ActivityInput:
    village_code: str
    pillar: ServicePillarEnum  # type: ignore[valid-type]
    title: str
    occurred_on: dt.date
    programme: ThematicProgrammeEnum | None = None  # type: ignore[valid-type]
    description: str | None = None
    participants: ParticipantsInput | None = None
    outputs: list[OutputInput] = strawberry.field(default_factory=list)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input
class PartnerInput:
    agency: AgencyEnum  # type: ignore[valid-type]
    commitment: str
    programme: ThematicProgrammeEnum | None = None  # type: ignore[valid-type]


@strawberry.input
class MilestoneInput:
    title: str
    due_date: dt.date
    responsible_agency: AgencyEnum  # type: ignore[valid-type]
    village_code: str | None = strawberry.field(
        default=None, description="Optional: the one of the pilot's villages this milestone concerns."
    )


@strawberry.input
class PilotProjectInput:
    village_code: str
    title: str
    start_date: dt.date
    partners: list[PartnerInput]
    milestones: list[MilestoneInput] = strawberry.field(default_factory=list)
    coordinator: AgencyEnum = Agency.KEMENKO_POLKAM  # type: ignore[valid-type]
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)
    village_codes: list[str] | None = strawberry.field(
        default=None,
        description="More villages besides `villageCode`, which stays the lead village: all within the creator's "
        "region, each once, at most 50 villages in all.",
    )


@strawberry.input
class PilotFilter:
    region_prefix: str | None = None
    agency: AgencyEnum | None = None  # type: ignore[valid-type]
    programme: ThematicProgrammeEnum | None = None  # type: ignore[valid-type]
    status: PilotStatusEnum | None = None  # type: ignore[valid-type]


def _ids(values: list[strawberry.ID], field: str) -> tuple[uuid.UUID, ...]:
    return tuple(parse_id(v, field) for v in values)


def activity_of(info: Ctx, input: ActivityInput) -> DomainActivity:
    principal = info.context.require_principal()
    p = input.participants or ParticipantsInput()
    outputs: dict[OutputKind, int] = {}
    for o in input.outputs:
        if OutputKind(o.kind) in outputs:
            raise BadUserInput(f"output {o.kind} appears twice", field="outputs.kind")
        outputs[OutputKind(o.kind)] = o.value
    return DomainActivity(
        id=uuid.uuid4(),
        village_code=input.village_code,
        pillar=ServicePillar(input.pillar),
        title=input.title,
        occurred_on=input.occurred_on,
        agency=principal.agency.value,
        recorded_by=principal.sub,
        recorded_at=info.context.delivery.clock(),
        programme=ThematicProgramme(input.programme) if input.programme else None,
        description=input.description,
        worker_ids=_ids(p.worker_ids, "participants.workerIds"),
        family_member_ids=_ids(p.family_member_ids, "participants.familyMemberIds"),
        anonymous=tuple(DomainAnonymousCount(Sex(a.sex), ParticipantGroup(a.group), a.count) for a in p.anonymous),
        outputs=outputs,
    )


def milestone_of(m: MilestoneInput) -> DomainMilestone:
    return DomainMilestone(
        uuid.uuid4(), m.title, m.due_date, Agency(m.responsible_agency).value, village_code=m.village_code
    )


def pilot_of(info: Ctx, input: PilotProjectInput) -> Pilot:
    return Pilot(
        id=uuid.uuid4(),
        village_code=input.village_code,
        title=input.title,
        coordinator=Agency(input.coordinator).value,
        status=PilotStatus.PLANNED,
        start_date=input.start_date,
        partners=tuple(
            DomainPartner(Agency(x.agency).value, ThematicProgramme(x.programme) if x.programme else None, x.commitment)
            for x in input.partners
        ),
        milestones=tuple(milestone_of(m) for m in input.milestones),
        created_at=info.context.delivery.clock(),
        villages=tuple(sorted(input.village_codes or ())),
    )
