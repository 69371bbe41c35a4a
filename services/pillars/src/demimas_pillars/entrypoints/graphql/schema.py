"""The pillars subgraph's schema: the activity, enrolment and pilot-project mutations, the tracker's queries, and the
pillar table integrators read to know who may record what."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated

import strawberry
from strawberry.types import Info

from demimas_common.auth.principal import Agency
from demimas_common.errors import BadUserInput
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.schema import build_schema
from demimas_common.graphql.types import PageInfo
from demimas_pillars.adapters import pilots as pilot_repo
from demimas_pillars.domain.activity import Activity as DomainActivity
from demimas_pillars.domain.activity import AnonymousCount as DomainAnonymousCount
from demimas_pillars.domain.pilot import Milestone as DomainMilestone
from demimas_pillars.domain.pilot import Partner as DomainPartner
from demimas_pillars.domain.pilot import Pilot
from demimas_pillars.domain.vocabulary import (
    OUTPUTS,
    SERVES,
    EnrolmentProgramme,
    EnrolmentStatus,
    OutputKind,
    ParticipantGroup,
    PilotStatus,
    ReintegrationStatus,
    ServicePillar,
    Sex,
    ThematicProgramme,
)
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.enums import (
    AgencyEnum,
    EmasPillarEnum,
    EnrolmentProgrammeEnum,
    EnrolmentStatusEnum,
    OutputKindEnum,
    ParticipantGroupEnum,
    PilotStatusEnum,
    ReintegrationStatusEnum,
    ServicePillarEnum,
    SexEnum,
    ThematicProgrammeEnum,
)
from demimas_pillars.entrypoints.graphql.types import (
    Activity,
    Enrolment,
    Milestone,
    PilotProject,
    Returnee,
    Village,
    Worker,
    parse_id,
)
from demimas_pillars.service_layer import activities as activity_flow
from demimas_pillars.service_layer import enrolments as enrolment_flow
from demimas_pillars.service_layer import pilots as pilot_flow

__all__ = ["Mutation", "Query", "schema"]

Ctx = Info[PillarsContext, None]
READ, WRITE = [["pillars:read"]], [["pillars:write"]]
PILOT_READ, PILOT_WRITE = [["pilot:read"]], [["pilot:write"]]
REGION = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
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


@strawberry.input
class PilotProjectInput:
    village_code: str
    title: str
    start_date: dt.date
    partners: list[PartnerInput]
    milestones: list[MilestoneInput] = strawberry.field(default_factory=list)
    coordinator: AgencyEnum = Agency.KEMENKO_POLKAM  # type: ignore[valid-type]
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input
class PilotFilter:
    region_prefix: str | None = None
    agency: AgencyEnum | None = None  # type: ignore[valid-type]
    programme: ThematicProgrammeEnum | None = None  # type: ignore[valid-type]
    status: PilotStatusEnum | None = None  # type: ignore[valid-type]


@strawberry.type
class PilotProjectEdge:
    cursor: str
    node: PilotProject


@strawberry.type
class PilotProjectConnection:
    edges: list[PilotProjectEdge]
    page_info: PageInfo


@strawberry.type
class OverdueMilestone:
    pilot: PilotProject
    milestone: Milestone
    days_overdue: int

    def region_code(self, info: Ctx) -> str:
        return self.pilot.village_code


@strawberry.type(description="A service pillar: the EMAS pillar it serves, who may record it, what it may report.")
class PillarInfo:
    pillar: ServicePillarEnum  # type: ignore[valid-type]
    emas_pillar: EmasPillarEnum  # type: ignore[valid-type]
    agencies: list[AgencyEnum]  # type: ignore[valid-type]
    outputs: list[OutputKindEnum]  # type: ignore[valid-type]


def _region(value: str | None) -> str | None:
    if value is not None and not REGION.match(value):
        raise BadUserInput("regionPrefix must be a region code prefix such as 16 or 16.06", field="regionPrefix")
    return value


def _ids(values: list[strawberry.ID], field: str) -> tuple[uuid.UUID, ...]:
    return tuple(parse_id(v, field) for v in values)


def _activity(info: Ctx, input: ActivityInput) -> DomainActivity:
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


def _milestone(m: MilestoneInput) -> DomainMilestone:
    return DomainMilestone(uuid.uuid4(), m.title, m.due_date, Agency(m.responsible_agency).value)


@strawberry.type
class Query:
    @strawberry.federation.field(requires_scopes=READ, description="An activity by its id.")
    async def activity(self, info: Ctx, id: strawberry.ID) -> Activity | None:
        return await Activity.resolve_reference(info, id)

    @strawberry.federation.field(requires_scopes=PILOT_READ, description="A joint pilot project by its id.")
    async def pilot_project(self, info: Ctx, id: strawberry.ID) -> PilotProject | None:
        return await PilotProject.resolve_reference(info, id)

    @strawberry.federation.field(requires_scopes=PILOT_READ, description="Joint pilot projects, by village code.")
    async def pilot_projects(
        self, info: Ctx, filter: PilotFilter | None = None, first: int | None = None, after: str | None = None
    ) -> PilotProjectConnection | None:
        ctx = info.context
        principal = ctx.require_principal()
        f = filter or PilotFilter()
        limit = validate_first(first)
        cursor = None
        if after is not None:
            code, raw = decode_cursor(after, length=2)
            try:
                cursor = (str(code), uuid.UUID(str(raw)))
            except ValueError:
                raise BadUserInput("after is not a cursor of this list", field="after") from None
        async with ctx.engine.connect() as conn:
            ids, more = await pilot_repo.pilot_page(
                conn,
                region=_region(f.region_prefix),
                caller_region=principal.region,
                agency=Agency(f.agency).value if f.agency else None,
                programme=ThematicProgramme(f.programme) if f.programme else None,
                status=PilotStatus(f.status) if f.status else None,
                village=None,
                first=limit,
                after=cursor,
            )
            found = await pilot_repo.load_pilots(conn, ids)
        today = ctx.delivery.today()
        edges = [
            PilotProjectEdge(cursor=encode_cursor((p.village_code, str(p.id))), node=PilotProject.from_domain(p, today))
            for p in found
        ]
        return PilotProjectConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after)
        )

    @strawberry.federation.field(
        requires_scopes=PILOT_READ, description="Milestones past due and not completed, oldest first."
    )
    async def overdue_milestones(
        self,
        info: Ctx,
        agency: AgencyEnum | None = None,  # type: ignore[valid-type]
        first: int | None = None,
    ) -> list[OverdueMilestone] | None:
        ctx = info.context
        principal = ctx.require_principal()
        today = ctx.delivery.today()
        async with ctx.engine.connect() as conn:
            pairs = await pilot_repo.overdue(
                conn,
                agency=Agency(agency).value if agency else None,
                today=today,
                caller_region=principal.region,
                limit=validate_first(first),
            )
            found = {p.id: p for p in await pilot_repo.load_pilots(conn, list(dict.fromkeys(p for p, _ in pairs)))}
        result = []
        for pilot_id, milestone_id in pairs:
            pilot = found[pilot_id]
            m = next(m for m in pilot.milestones if m.id == milestone_id)
            result.append(
                OverdueMilestone(
                    pilot=PilotProject.from_domain(pilot, today),
                    milestone=Milestone.from_domain(m, pilot, today),
                    days_overdue=(today - m.due_date).days,
                )
            )
        return result

    @strawberry.federation.field(requires_scopes=READ, description="The ten pillars and who may record each.")
    def service_pillars(self, info: Ctx) -> list[PillarInfo] | None:
        table = info.context.delivery.pillar_agencies
        return [
            PillarInfo(
                pillar=p, emas_pillar=SERVES[p], agencies=sorted(table.get(p, frozenset())), outputs=sorted(OUTPUTS[p])
            )
            for p in ServicePillar
        ]


@strawberry.type
class Mutation:
    @strawberry.federation.field(requires_scopes=WRITE, description="Record one delivery of a pillar in a village.")
    async def record_activity(self, info: Ctx, input: ActivityInput) -> Activity | None:
        ctx = info.context
        a = await activity_flow.record_activity(
            ctx.engine,
            ctx.require_principal(),
            _activity(info, input),
            ctx.delivery,
            idempotency_key=input.idempotency_key,
        )
        return Activity.from_domain(a)

    @strawberry.federation.field(requires_scopes=PILOT_WRITE, description="Start a joint pilot project.")
    async def create_pilot_project(self, info: Ctx, input: PilotProjectInput) -> PilotProject | None:
        ctx = info.context
        principal = ctx.require_principal()
        pilot = Pilot(
            id=uuid.uuid4(),
            village_code=input.village_code,
            title=input.title,
            coordinator=Agency(input.coordinator).value,
            status=PilotStatus.PLANNED,
            start_date=input.start_date,
            partners=tuple(
                DomainPartner(
                    Agency(x.agency).value, ThematicProgramme(x.programme) if x.programme else None, x.commitment
                )
                for x in input.partners
            ),
            milestones=tuple(_milestone(m) for m in input.milestones),
            created_at=ctx.delivery.clock(),
        )
        created = await pilot_flow.create_pilot(
            ctx.engine, principal, pilot, ctx.delivery, idempotency_key=input.idempotency_key
        )
        return PilotProject.from_domain(created, ctx.delivery.today())

    @strawberry.federation.field(requires_scopes=PILOT_WRITE)
    async def add_milestone(
        self,
        info: Ctx,
        pilot_id: strawberry.ID,
        input: MilestoneInput,
        idempotency_key: Annotated[str | None, strawberry.argument(description=IDEMPOTENCY_KEY)] = None,
    ) -> PilotProject | None:
        ctx = info.context
        p = await pilot_flow.add_milestone(
            ctx.engine,
            ctx.require_principal(),
            parse_id(pilot_id, "pilotId"),
            _milestone(input),
            ctx.delivery,
            idempotency_key=idempotency_key,
        )
        return PilotProject.from_domain(p, ctx.delivery.today())

    @strawberry.federation.field(
        requires_scopes=[["pilot:write"], ["pillars:write"]],
        description="By the milestone's responsible agency or the coordinator.",
    )
    async def complete_milestone(
        self, info: Ctx, pilot_id: strawberry.ID, milestone_id: strawberry.ID, completed_on: dt.date
    ) -> PilotProject | None:
        ctx = info.context
        p = await pilot_flow.complete(
            ctx.engine,
            ctx.require_principal(),
            parse_id(pilot_id, "pilotId"),
            parse_id(milestone_id, "milestoneId"),
            completed_on,
            ctx.delivery,
        )
        return PilotProject.from_domain(p, ctx.delivery.today())

    @strawberry.federation.field(requires_scopes=PILOT_WRITE, description="Count an activity towards a pilot.")
    async def link_activity(
        self, info: Ctx, pilot_id: strawberry.ID, activity_id: strawberry.ID
    ) -> PilotProject | None:
        ctx = info.context
        p = await pilot_flow.link_activity(
            ctx.engine,
            ctx.require_principal(),
            parse_id(pilot_id, "pilotId"),
            parse_id(activity_id, "activityId"),
            ctx.delivery,
        )
        return PilotProject.from_domain(p, ctx.delivery.today())

    @strawberry.federation.field(requires_scopes=PILOT_WRITE, description="The coordinator moves the pilot on.")
    async def set_pilot_status(
        self,
        info: Ctx,
        id: strawberry.ID,
        status: PilotStatusEnum,  # type: ignore[valid-type]
        reason: str | None = None,
    ) -> PilotProject | None:
        ctx = info.context
        p = await pilot_flow.set_status(
            ctx.engine, ctx.require_principal(), parse_id(id), PilotStatus(status), reason, ctx.delivery
        )
        return PilotProject.from_domain(p, ctx.delivery.today())

    @strawberry.federation.field(requires_scopes=WRITE, description="Enrol a registered worker or family member.")
    async def enrol(
        self,
        info: Ctx,
        person_id: strawberry.ID,
        programme: EnrolmentProgrammeEnum,  # type: ignore[valid-type]
        note: str | None = None,
    ) -> Enrolment | None:
        ctx = info.context
        e = await enrolment_flow.enrol(
            ctx.engine,
            ctx.require_principal(),
            parse_id(person_id, "personId"),
            EnrolmentProgramme(programme),
            note,
            ctx.delivery,
        )
        return Enrolment.from_domain(e)

    @strawberry.federation.field(requires_scopes=WRITE)
    async def update_enrolment(
        self,
        info: Ctx,
        id: strawberry.ID,
        status: EnrolmentStatusEnum,  # type: ignore[valid-type]
        note: str | None = None,
    ) -> Enrolment | None:
        ctx = info.context
        e = await enrolment_flow.move_enrolment(
            ctx.engine, ctx.require_principal(), parse_id(id), EnrolmentStatus(status), note, ctx.delivery
        )
        return Enrolment.from_domain(e)

    @strawberry.federation.field(requires_scopes=WRITE, description="Move a returnee through the reintegration queue.")
    async def update_reintegration(
        self,
        info: Ctx,
        worker_id: strawberry.ID,
        status: ReintegrationStatusEnum,  # type: ignore[valid-type]
        note: str | None = None,
    ) -> Returnee | None:
        ctx = info.context
        entry = await enrolment_flow.move_returnee(
            ctx.engine,
            ctx.require_principal(),
            parse_id(worker_id, "workerId"),
            ReintegrationStatus(status),
            note,
            ctx.delivery,
        )
        return Returnee.from_entry(entry)


schema = build_schema(query=Query, mutation=Mutation, types=[Village, Worker, Activity, PilotProject])
