"""The types of the pillars graph that refer to each other: `Activity` (one delivery of a service pillar in a village
by an agency), `PilotProject` (a joint pilot project with its partners, milestones and linked activities) and
`Village` (owned by the registry, extended with its pillars' progress, activities, pilots and reintegration queue).
An activity and a pilot name their village and the village lists them, so the three live in one module: imports
then flow one way (this module imports the parts, nothing here is imported back). Who took part in an activity is
personal: the registered participants' ids need `registry:read` (workers) and `family:read` (family members);
counts are open to every `pillars:read` caller."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

import strawberry
from strawberry.dataloader import DataLoader

from demimas_common.errors import BadUserInput, NotFound
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.types import PageInfo
from demimas_common.graphql.village import VillageKey
from demimas_pillars.adapters.activities import ActivityRepository
from demimas_pillars.adapters.pilots import PilotRepository
from demimas_pillars.adapters.reintegration import ReintegrationQueueRepository
from demimas_pillars.domain import activity as domain_activity
from demimas_pillars.domain import pilot as domain_pilot
from demimas_pillars.domain.vocabulary import SERVES, ReintegrationStatus, ServicePillar
from demimas_pillars.entrypoints.graphql.activities import ActivityParticipants, AnonymousCount
from demimas_pillars.entrypoints.graphql.common import PILOT_READ, READ, Ctx, OutputValue, date_cursor, parse_id
from demimas_pillars.entrypoints.graphql.enums import (
    AgencyEnum,
    EmasPillarEnum,
    PilotStatusEnum,
    ReintegrationStatusEnum,
    ServicePillarEnum,
    ThematicProgrammeEnum,
)
from demimas_pillars.entrypoints.graphql.people import Returnee, ReturneeConnection, ReturneeEdge
from demimas_pillars.entrypoints.graphql.pilots import Milestone, Partner
from demimas_pillars.entrypoints.graphql.thematic import THEMATIC_READ, ThematicStatus, statuses_of
from demimas_pillars.entrypoints.graphql.villages import PillarProgress, load_progress

__all__ = ["Activity", "ActivityConnection", "ActivityEdge", "PilotProject", "Village"]


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
                [found] = await ActivityRepository(conn).get_many([parse_id(id)])
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
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many activities the whole list has (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        return await self.count_query()


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
            linked = await PilotRepository(conn).activity_ids_of([parse_id(self.id)])
            found = await ActivityRepository(conn).get_many(linked.get(parse_id(self.id), []))
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
                [found] = await PilotRepository(conn).get_many([parse_id(id)])
            except NotFound:
                return None  # as for one outside the caller's region: null, nothing tells the two apart
        return cls.from_domain(found, ctx.delivery.today())


@strawberry.federation.type(keys=["code"], description="A desa/kelurahan (owned by the registry).")
class Village(VillageKey):
    code: str

    @strawberry.federation.field(requires_scopes=READ, description="The ten pillars over the last 12 months.")
    async def pillar_progress(self, info: Ctx) -> PillarProgress | None:
        ctx = info.context
        ctx.require_principal()
        loader = ctx.loader("progress", lambda: DataLoader(load_fn=lambda keys: load_progress(ctx, keys)))
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
            repository = ActivityRepository(conn)
            ids, more = await repository.village_page(
                self.code,
                pillar=ServicePillar(pillar) if pillar else None,
                first=limit,
                after=date_cursor(after),
            )
            found = await repository.get_many(ids)
        edges = [ActivityEdge(cursor=encode_cursor((a.occurred_on, a.id)), node=Activity.from_domain(a)) for a in found]
        code, chosen = self.code, ServicePillar(pillar) if pillar else None

        async def count() -> int:
            async with ctx.engine.connect() as c:
                return await ActivityRepository(c).village_count(code, pillar=chosen)

        return ActivityConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after), count_query=count
        )

    @strawberry.federation.field(requires_scopes=PILOT_READ, description="Joint pilot projects in this village.")
    async def pilot_projects(self, info: Ctx) -> list[PilotProject] | None:
        ctx = info.context
        ctx.require_principal()
        async with ctx.engine.connect() as conn:
            repository = PilotRepository(conn)
            ids, _ = await repository.page(
                region=None,
                caller_region=None,
                agency=None,
                programme=None,
                status=None,
                village=self.code,
                first=500,
                after=None,
            )
            found = await repository.get_many(ids)
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
            entries, more = await ReintegrationQueueRepository(conn).page(
                self.code, status=ReintegrationStatus(status) if status else None, first=limit, after=cursor
            )
        edges = [
            ReturneeEdge(cursor=encode_cursor((e.returned_at, e.worker_id)), node=Returnee.from_entry(e))
            for e in entries
        ]
        code, chosen = self.code, ReintegrationStatus(status) if status else None

        async def count() -> int:
            async with ctx.engine.connect() as c:
                return await ReintegrationQueueRepository(c).count(code, status=chosen)

        return ReturneeConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after), count_query=count
        )

    @strawberry.federation.field(
        requires_scopes=THEMATIC_READ,
        description="The village's statuses in partner ministries' thematic-village programmes, by programme (the "
        "ACTIVE ones; with includeEnded, ended ones too, newest first within a programme).",
    )
    async def thematic_statuses(self, info: Ctx, include_ended: bool | None = False) -> list[ThematicStatus]:
        info.context.require_principal()
        return await statuses_of(info.context, self.code, bool(include_ended))
