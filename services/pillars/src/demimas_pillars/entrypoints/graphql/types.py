"""GraphQL types of the pillars subgraph: `Activity`, `Enrolment`, `PilotProject`, `Milestone` (owned here), and
`Village` and `Worker` (owned by the registry) extended with pillar progress, activities, pilots and enrolments.

Who took part in an activity is personal: the registered participants' ids need `registry:read` (workers) and
`family:read` (family members); counts are open to every `pillars:read` caller."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from demimas_common.auth.principal import region_covers
from demimas_common.errors import BadUserInput, NotFound
from demimas_common.graphql.access import ANYWHERE
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.types import PageInfo
from demimas_pillars.adapters import activities as activity_repo
from demimas_pillars.adapters import enrolments as enrolment_repo
from demimas_pillars.adapters import people as people_repo
from demimas_pillars.adapters import pilots as pilot_repo
from demimas_pillars.adapters.progress import progress_of_villages
from demimas_pillars.adapters.tables import portfolios
from demimas_pillars.domain import activity as domain_activity
from demimas_pillars.domain import enrolment as domain_enrolment
from demimas_pillars.domain import pilot as domain_pilot
from demimas_pillars.domain import progress as domain_progress
from demimas_pillars.domain.pilot import is_overdue
from demimas_pillars.domain.vocabulary import SERVES, PersonKind, ReintegrationStatus, ServicePillar
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.enums import (
    AgencyEnum,
    EmasPillarEnum,
    EnrolmentProgrammeEnum,
    EnrolmentStatusEnum,
    OutputKindEnum,
    ParticipantGroupEnum,
    PersonKindEnum,
    PilotStatusEnum,
    ReintegrationStatusEnum,
    ServicePillarEnum,
    SexEnum,
    ThematicProgrammeEnum,
)
from demimas_pillars.service_layer.delivery import VILLAGE_CODE

__all__ = ["Activity", "ActivityConnection", "Enrolment", "Milestone", "PilotProject", "Village", "Worker"]

Ctx = Info[PillarsContext, None]
READ, PILOT_READ = [["pillars:read"]], [["pilot:read"]]
PERSON = [["registry:read"]]  # who a person is: the registry's rule, wherever pillars hands out a person


def parse_id(value: strawberry.ID | str, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadUserInput(f"{field} must be a UUID", field=field) from None


@strawberry.type
class OutputValue:
    kind: OutputKindEnum  # type: ignore[valid-type]
    value: int


@strawberry.type(description="People reached who are not registered, by sex and group.")
class AnonymousCount:
    sex: SexEnum  # type: ignore[valid-type]
    group: ParticipantGroupEnum  # type: ignore[valid-type]
    count: int


@strawberry.federation.type(
    keys=["id"], requires_scopes=PERSON, description="A migrant worker (owned by the registry)."
)
class Worker:
    id: strawberry.ID
    asked_for: strawberry.Private[bool] = False
    """Made from an id the caller sent (`_entities`), not from pillars data."""

    def region_code(self, info: Ctx) -> str | Awaitable[str | None]:
        """The worker's village as the `people` projection knows it; a person it does not know (not yet, or never)
        has no pillars data to show: ANYWHERE. A worker the caller named by id is ANYWHERE too, so that a person of
        another region answers exactly as an unknown id does (`enrolments` then leaves out, as the region rule
        does, every enrolment outside the caller's region): echoing the caller's own id tells it nothing."""
        if self.asked_for:
            return ANYWHERE
        return _person_villages(info.context).load(parse_id(self.id))

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Worker:
        return cls(id=id, asked_for=True)

    @strawberry.federation.field(requires_scopes=READ, description="Programmes this worker and the family joined.")
    async def enrolments(self, info: Ctx) -> list[Enrolment] | None:
        ctx = info.context
        ctx.require_principal()
        loader = ctx.loader("enrolments", lambda: DataLoader(load_fn=lambda keys: _enrolments(ctx, keys)))
        found: list[domain_enrolment.Enrolment] = await loader.load(parse_id(self.id))
        return [Enrolment.from_domain(e) for e in found]


def _person_villages(ctx: PillarsContext) -> DataLoader[uuid.UUID, str]:
    """The request's loader of people's villages (ANYWHERE for a person the projection does not know)."""

    async def load(ids: list[uuid.UUID]) -> list[str]:
        async with ctx.engine.connect() as conn:
            found = await people_repo.villages_of_people(conn, list(ids))
        return [found.get(i, ANYWHERE) for i in ids]

    loader: DataLoader[uuid.UUID, str] = ctx.loader("person_villages", lambda: DataLoader(load_fn=load))
    return loader


async def _enrolments(ctx: PillarsContext, keys: list[uuid.UUID]) -> list[list[domain_enrolment.Enrolment]]:
    async with ctx.engine.connect() as conn:
        found = await enrolment_repo.enrolments_of_workers(conn, list(keys))
    return [found.get(k, []) for k in keys]


@strawberry.type
class ActivityParticipants:
    registered: int = strawberry.field(description="Registered workers and family members who took part.")
    anonymous: list[AnonymousCount]
    worker_ids: strawberry.Private[tuple[uuid.UUID, ...]]
    family_member_ids_: strawberry.Private[tuple[uuid.UUID, ...]]

    @strawberry.federation.field(requires_scopes=[["registry:read"]], description="The registered workers.")
    def workers(self) -> list[Worker] | None:
        return [Worker(id=strawberry.ID(str(i))) for i in self.worker_ids]

    @strawberry.federation.field(requires_scopes=[["family:read"]], description="Ids of the family members.")
    async def family_member_ids(self, info: Ctx) -> list[strawberry.ID] | None:
        ids = self.family_member_ids_
        region = info.context.require_principal().region
        if region is not None and ids:
            # Ids are not objects the region filter sees: a family living elsewhere is left out here, as its
            # worker is left out of `workers` (people the projection does not know are left out too).
            villages = await _person_villages(info.context).load_many(list(ids))
            ids = tuple(i for i, v in zip(ids, villages, strict=True) if v != ANYWHERE and region_covers(region, v))
        return [strawberry.ID(str(i)) for i in ids]


@strawberry.federation.type(
    keys=["id"], requires_scopes=READ, description="One delivery of a service pillar in a village by an agency."
)
class Activity:
    id: strawberry.ID
    village_code: str
    pillar: ServicePillarEnum  # type: ignore[valid-type]
    emas_pillar: EmasPillarEnum  # type: ignore[valid-type]
    title: str
    description: str | None
    occurred_on: dt.date
    agency: AgencyEnum  # type: ignore[valid-type]
    programme: ThematicProgrammeEnum | None  # type: ignore[valid-type]
    people_reached: int
    participants: ActivityParticipants
    outputs: list[OutputValue]
    recorded_at: dt.datetime

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field
    def village(self) -> Village:
        return Village(code=self.village_code)

    @classmethod
    def from_domain(cls, a: domain_activity.Activity) -> Activity:
        participants = ActivityParticipants(
            registered=len(a.worker_ids) + len(a.family_member_ids),
            anonymous=[AnonymousCount(sex=c.sex, group=c.group, count=c.count) for c in a.anonymous],
            worker_ids=a.worker_ids,
            family_member_ids_=a.family_member_ids,
        )
        return cls(
            id=strawberry.ID(str(a.id)),
            village_code=a.village_code,
            pillar=a.pillar,
            emas_pillar=SERVES[a.pillar],
            title=a.title,
            description=a.description,
            occurred_on=a.occurred_on,
            agency=a.agency,
            programme=a.programme,
            people_reached=a.people_reached,
            participants=participants,
            outputs=[OutputValue(kind=k, value=v) for k, v in sorted(a.outputs.items())],
            recorded_at=a.recorded_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Activity | None:
        info.context.require_principal()
        async with info.context.engine.connect() as conn:
            try:
                [found] = await activity_repo.load_activities(conn, [parse_id(id)])
            except NotFound:
                return None  # as for one outside the caller's region: null, nothing tells the two apart
        return cls.from_domain(found)


@strawberry.type
class ActivityEdge:
    cursor: str
    node: Activity


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo


@strawberry.type(description="One pillar of a village: activities and people reached in the window, and outputs.")
class PillarDelivery:
    pillar: ServicePillarEnum  # type: ignore[valid-type]
    emas_pillar: EmasPillarEnum  # type: ignore[valid-type]
    activities: int
    people_reached: int = strawberry.field(description="Distinct registered participants plus anonymous counts.")
    last_activity_on: dt.date | None
    outputs: list[OutputValue]
    served: bool


@strawberry.type(description="A designated village's ten-pillar portfolio, opened by its designation.")
class Portfolio:
    status: str = strawberry.field(description="OPEN, SUSPENDED (designation suspended) or CLOSED (revoked).")
    designation_id: strawberry.ID
    opened_at: dt.datetime


@strawberry.type(description="A village's ten pillars over the window (the last 12 months by default).")
class PillarProgress:
    village_code: str
    window_from: dt.date
    window_to: dt.date
    pillars: list[PillarDelivery]
    pillars_served: int
    coverage: float = strawberry.field(description="Pillars served / 10.")
    portfolio: Portfolio | None

    @classmethod
    def from_domain(cls, p: domain_progress.VillageProgress, portfolio: Portfolio | None) -> PillarProgress:
        pillars = [
            PillarDelivery(
                pillar=x.pillar,
                emas_pillar=x.emas_pillar,
                activities=x.activities,
                people_reached=x.people_reached,
                last_activity_on=x.last_activity_on,
                outputs=[OutputValue(kind=k, value=v) for k, v in x.outputs],
                served=x.served,
            )
            for x in p.pillars
        ]
        return cls(
            village_code=p.village_code,
            window_from=p.window_from,
            window_to=p.window_to,
            pillars=pillars,
            pillars_served=p.pillars_served,
            coverage=p.coverage,
            portfolio=portfolio,
        )


@strawberry.type(
    description="A worker's or family member's enrolment in a programme. Who it is (the person's id, the worker, "
    "the note about them) needs registry:read, a family member's id family:read too, as everywhere else; the "
    "programme and status are open to every pillars:read caller."
)
class Enrolment:
    id: strawberry.ID
    person_kind: PersonKindEnum  # type: ignore[valid-type]
    programme: EnrolmentProgrammeEnum  # type: ignore[valid-type]
    status: EnrolmentStatusEnum  # type: ignore[valid-type]
    village_code: str
    enrolled_on: dt.date
    agency: AgencyEnum  # type: ignore[valid-type]
    updated_at: dt.datetime
    person: strawberry.Private[uuid.UUID]
    note_: strawberry.Private[str | None]
    worker_id: strawberry.Private[uuid.UUID]

    @strawberry.federation.field(requires_scopes=PERSON, description="The worker's or family member's id.")
    def person_id(self, info: Ctx) -> strawberry.ID | None:
        if self.person_kind == PersonKind.FAMILY_MEMBER:
            info.context.require_principal().require_scope("family:read")
        return strawberry.ID(str(self.person))

    @strawberry.federation.field(requires_scopes=PERSON, description="Free text about the person's enrolment.")
    def note(self) -> str | None:
        return self.note_

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.federation.field(
        requires_scopes=PERSON, description="The worker (for a family member, the worker of the family)."
    )
    def worker(self) -> Worker | None:
        return Worker(id=strawberry.ID(str(self.worker_id)))

    @classmethod
    def from_domain(cls, e: domain_enrolment.Enrolment) -> Enrolment:
        return cls(
            id=strawberry.ID(str(e.id)),
            person=e.person_id,
            person_kind=e.person_kind,
            programme=e.programme,
            status=e.status,
            village_code=e.village_code,
            enrolled_on=e.enrolled_on,
            agency=e.agency,
            updated_at=e.updated_at,
            note_=e.note,
            worker_id=e.worker_id,
        )


@strawberry.type(description="A returnee (purna PMI) in the village's reintegration queue.")
class Returnee:
    returned_at: dt.datetime
    status: ReintegrationStatusEnum  # type: ignore[valid-type]
    updated_at: dt.datetime
    note_: strawberry.Private[str | None]
    worker_id: strawberry.Private[uuid.UUID]

    @strawberry.federation.field(requires_scopes=PERSON, description="Free text about the returnee's reintegration.")
    def note(self) -> str | None:
        return self.note_

    @strawberry.federation.field(requires_scopes=PERSON, description="Who returned (registry:read).")
    def worker(self) -> Worker | None:
        return Worker(id=strawberry.ID(str(self.worker_id)))

    @classmethod
    def from_entry(cls, e: enrolment_repo.QueueEntry) -> Returnee:
        return cls(
            returned_at=e.returned_at, status=e.status, updated_at=e.updated_at, note_=e.note, worker_id=e.worker_id
        )


@strawberry.type
class ReturneeEdge:
    cursor: str
    node: Returnee


@strawberry.type
class ReturneeConnection:
    edges: list[ReturneeEdge]
    page_info: PageInfo


@strawberry.type(description="A partner agency of a joint pilot, with its thematic programme and commitment.")
class Partner:
    agency: AgencyEnum  # type: ignore[valid-type]
    programme: ThematicProgrammeEnum | None  # type: ignore[valid-type]
    commitment: str


@strawberry.type(description="A milestone of a joint pilot project.")
class Milestone:
    id: strawberry.ID
    title: str
    due_date: dt.date
    responsible_agency: AgencyEnum  # type: ignore[valid-type]
    completed_on: dt.date | None
    completed_by: AgencyEnum | None  # type: ignore[valid-type]
    overdue: bool
    village_code: strawberry.Private[str]

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @classmethod
    def from_domain(cls, m: domain_pilot.Milestone, p: domain_pilot.Pilot, today: dt.date) -> Milestone:
        return cls(
            id=strawberry.ID(str(m.id)),
            title=m.title,
            due_date=m.due_date,
            responsible_agency=m.responsible_agency,
            completed_on=m.completed_on,
            completed_by=m.completed_by,
            overdue=is_overdue(m, p.status, today),
            village_code=p.village_code,
        )


@strawberry.federation.type(
    keys=["id"],
    requires_scopes=PILOT_READ,
    description="A joint pilot project: Demimas combined with partners' "
    "thematic-village programmes in one village (Kemenko Polkam, 19 Feb 2026).",
)
class PilotProject:
    id: strawberry.ID
    title: str
    village_code: str
    coordinator: AgencyEnum  # type: ignore[valid-type]
    status: PilotStatusEnum  # type: ignore[valid-type]
    status_reason: str | None
    start_date: dt.date
    partners: list[Partner]
    milestones: list[Milestone]
    created_at: dt.datetime

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field
    def village(self) -> Village:
        return Village(code=self.village_code)

    @strawberry.field(description="Activities linked to this pilot, newest first.")
    async def activities(self, info: Ctx) -> list[Activity]:
        ctx = info.context
        async with ctx.engine.connect() as conn:
            linked = await pilot_repo.activity_ids_of(conn, [parse_id(self.id)])
            found = await activity_repo.load_activities(conn, linked.get(parse_id(self.id), []))
        found.sort(key=lambda a: (a.occurred_on, a.id), reverse=True)
        return [Activity.from_domain(a) for a in found]

    @classmethod
    def from_domain(cls, p: domain_pilot.Pilot, today: dt.date) -> PilotProject:
        return cls(
            id=strawberry.ID(str(p.id)),
            title=p.title,
            village_code=p.village_code,
            coordinator=p.coordinator,
            status=p.status,
            status_reason=p.status_reason,
            start_date=p.start_date,
            partners=[Partner(agency=x.agency, programme=x.programme, commitment=x.commitment) for x in p.partners],
            milestones=[Milestone.from_domain(m, p, today) for m in p.milestones],
            created_at=p.created_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> PilotProject | None:
        ctx = info.context
        ctx.require_principal()
        async with ctx.engine.connect() as conn:
            try:
                [found] = await pilot_repo.load_pilots(conn, [parse_id(id)])
            except NotFound:
                return None  # as for one outside the caller's region: null, nothing tells the two apart
        return cls.from_domain(found, ctx.delivery.today())


async def _progress(ctx: PillarsContext, codes: list[str]) -> list[PillarProgress]:
    today = ctx.delivery.today()
    window_from = today - dt.timedelta(days=ctx.delivery.window_days - 1)
    async with ctx.engine.connect() as conn:
        found = await progress_of_villages(conn, list(codes), window_from=window_from, window_to=today)
        rows = await conn.execute(portfolios.select().where(portfolios.c.village_code.in_(list(codes))))
        opened = {
            r.village_code: Portfolio(
                status=r.status, designation_id=strawberry.ID(str(r.designation_id)), opened_at=r.opened_at
            )
            for r in rows
        }
    return [PillarProgress.from_domain(found[c], opened.get(c)) for c in codes]


def _date_cursor(after: str | None) -> tuple[dt.date, uuid.UUID] | None:
    if after is None:
        return None
    day, raw = decode_cursor(after, length=2)
    try:
        return dt.date.fromisoformat(str(day)), uuid.UUID(str(raw))
    except ValueError:
        raise BadUserInput("after is not a cursor of this list", field="after") from None


@strawberry.federation.type(keys=["code"], description="A desa/kelurahan (owned by the registry).")
class Village:
    code: str

    def region_code(self, info: Ctx) -> str:
        return self.code

    @classmethod
    def resolve_reference(cls, code: str) -> Village | None:
        return cls(code=code) if VILLAGE_CODE.match(code) else None  # "16.06" is a regency, not a village

    @strawberry.federation.field(requires_scopes=READ, description="The ten pillars over the last 12 months.")
    async def pillar_progress(self, info: Ctx) -> PillarProgress | None:
        ctx = info.context
        ctx.require_principal()
        loader = ctx.loader("progress", lambda: DataLoader(load_fn=lambda keys: _progress(ctx, keys)))
        result: PillarProgress = await loader.load(self.code)
        return result

    @strawberry.federation.field(requires_scopes=READ, description="Activities in this village, newest first.")
    async def activities(
        self,
        info: Ctx,
        pillar: ServicePillarEnum | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> ActivityConnection | None:
        ctx = info.context
        ctx.require_principal()
        limit = validate_first(first)
        async with ctx.engine.connect() as conn:
            ids, more = await activity_repo.village_activity_page(
                conn,
                self.code,
                pillar=ServicePillar(pillar) if pillar else None,
                first=limit,
                after=_date_cursor(after),
            )
            found = await activity_repo.load_activities(conn, ids)
        edges = [ActivityEdge(cursor=encode_cursor((a.occurred_on, a.id)), node=Activity.from_domain(a)) for a in found]
        return ActivityConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after)
        )

    @strawberry.federation.field(requires_scopes=PILOT_READ, description="Joint pilot projects in this village.")
    async def pilot_projects(self, info: Ctx) -> list[PilotProject] | None:
        ctx = info.context
        ctx.require_principal()
        async with ctx.engine.connect() as conn:
            ids, _ = await pilot_repo.pilot_page(
                conn,
                region=None,
                caller_region=None,
                agency=None,
                programme=None,
                status=None,
                village=self.code,
                first=500,
                after=None,
            )
            found = await pilot_repo.load_pilots(conn, ids)
        today = ctx.delivery.today()
        return [PilotProject.from_domain(p, today) for p in found]

    @strawberry.federation.field(requires_scopes=READ, description="Returnees of this village, in order of return.")
    async def reintegration_queue(
        self,
        info: Ctx,
        status: ReintegrationStatusEnum | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> ReturneeConnection | None:
        ctx = info.context
        ctx.require_principal()
        limit = validate_first(first)
        cursor = None
        if after is not None:
            at, raw = decode_cursor(after, length=2)
            try:
                cursor = (dt.datetime.fromisoformat(str(at)), uuid.UUID(str(raw)))
            except ValueError:
                raise BadUserInput("after is not a cursor of this list", field="after") from None
        async with ctx.engine.connect() as conn:
            entries, more = await enrolment_repo.queue_page(
                conn, self.code, status=ReintegrationStatus(status) if status else None, first=limit, after=cursor
            )
        edges = [
            ReturneeEdge(cursor=encode_cursor((e.returned_at, e.worker_id)), node=Returnee.from_entry(e))
            for e in entries
        ]
        return ReturneeConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after)
        )
