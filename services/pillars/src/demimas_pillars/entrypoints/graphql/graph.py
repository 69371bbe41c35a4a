"""The types of the pillars graph that refer to each other: `Activity` (one delivery of a service pillar in a village
by an agency), `PilotProject` (a joint pilot project with its partners, milestones and linked activities) and
`Village` (owned by the registry, extended with its pillars' progress, activities, pilots and reintegration queue),
with `PilotVillage` (one of a pilot's villages, its linked activities and progress).
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
from demimas_pillars.entrypoints.graphql.common import (
    PILOT_READ,
    READ,
    Ctx,
    OutputValue,
    date_cursor,
    parse_id,
    shown_village,
)
from demimas_pillars.entrypoints.graphql.context import PillarsContext
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

__all__ = ["Activity", "ActivityConnection", "ActivityEdge", "PilotProject", "PilotVillage", "Village"]


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


async def linked_activities(ctx: PillarsContext, pilot_id: uuid.UUID) -> list[Activity]:
    """The activities linked to a pilot, newest first: one DataLoader per request, so a page of pilots (and their
    villages) reads the links and the activities in two statements."""

    async def load(keys: list[uuid.UUID]) -> list[list[Activity]]:
        async with ctx.engine.connect() as conn:
            linked = await PilotRepository(conn).activity_ids_of(list(keys))
            found = await ActivityRepository(conn).get_many([a for k in keys for a in linked.get(k, [])])
        by_id = {a.id: a for a in found}
        answers = []
        for k in keys:
            held = sorted((by_id[i] for i in linked.get(k, [])), key=lambda a: (a.occurred_on, a.id), reverse=True)
            answers.append([Activity.from_domain(a) for a in held])
        return answers

    loader = ctx.loader("pilot-activities", lambda: DataLoader(load_fn=load))
    result: list[Activity] = await loader.load(pilot_id)
    return result


async def village_progress(ctx: PillarsContext, code: str) -> PillarProgress:
    """`Village.pillarProgress`'s DataLoader (one statement per request, whatever asks)."""
    loader = ctx.loader("progress", lambda: DataLoader(load_fn=lambda keys: load_progress(ctx, keys)))
    result: PillarProgress = await loader.load(code)
    return result


@strawberry.type(description="One of a joint pilot's villages: whether it is the lead, its linked activities and its "
                 "ten pillars.")  # fmt: skip
class PilotVillage:
    village_code: str
    lead: bool = strawberry.field(description="The pilot's lead village (its `villageCode`), which stays.")
    pilot_id_: strawberry.Private[uuid.UUID]

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @strawberry.field
    def village(self) -> Village:
        return Village(code=self.village_code)

    @strawberry.field(description="Activities linked to the pilot held in this village, newest first.")
    async def activities(self, info: Ctx) -> list[Activity]:
        return [a for a in await linked_activities(info.context, self.pilot_id_) if a.village_code == self.village_code]

    @strawberry.federation.field(
        requires_scopes=READ, description="The village's ten pillars over the window, as `Village.pillarProgress`."
    )
    async def progress(self, info: Ctx) -> PillarProgress | None:
        info.context.require_principal()
        return await village_progress(info.context, self.village_code)


@strawberry.federation.type(
    keys=["id"],
    requires_scopes=PILOT_READ,
    description="A joint pilot project: Demimas combined with partners' "
    "thematic-village programmes in one or more villages (Kemenko Polkam, 19 Feb 2026).",
)
class PilotProject:
    id: strawberry.ID
    title: str
    coordinator: AgencyEnum  # type: ignore[valid-type]
    status: PilotStatusEnum  # type: ignore[valid-type]
    status_reason: str | None
    start_date: dt.date
    partners: list[Partner]
    milestones: list[Milestone]
    created_at: dt.datetime
    villages_: strawberry.Private[tuple[str, ...]]
    """Every village of the pilot, the lead first."""

    def region_code(self, info: Ctx) -> str:
        return shown_village(self.villages_, info.context.principal)

    @strawberry.field(
        description="The lead village. A caller whose region leaves the lead out (the pilot is visible to it "
        "through another of its villages) gets the first of the pilot's villages inside its region."
    )
    def village_code(self, info: Ctx) -> str:
        return shown_village(self.villages_, info.context.principal)

    @strawberry.field(description="The lead village (see `villageCode`).")
    def village(self, info: Ctx) -> Village:
        return Village(code=shown_village(self.villages_, info.context.principal))

    @strawberry.field(
        description="The pilot's villages, the lead first, then by code; a caller with a region sees those inside it."
    )
    def villages(self) -> list[PilotVillage]:
        pilot_id = parse_id(self.id)
        return [PilotVillage(village_code=c, lead=i == 0, pilot_id_=pilot_id) for i, c in enumerate(self.villages_)]

    @strawberry.field(description="How many of the milestones this caller sees are overdue.")
    def overdue_milestones(self, info: Ctx) -> int:
        principal = info.context.principal
        return sum(
            1 for m in self.milestones if m.overdue and (principal is None or principal.covers(m.region_code(info)))
        )

    @strawberry.field(description="Activities linked to this pilot, newest first.")
    async def activities(self, info: Ctx) -> list[Activity]:
        return await linked_activities(info.context, parse_id(self.id))

    @classmethod
    def from_domain(cls, p: domain_pilot.Pilot, today: dt.date) -> PilotProject:
        return cls(
            id=strawberry.ID(str(p.id)),
            title=p.title,
            coordinator=p.coordinator,
            status=p.status,
            status_reason=p.status_reason,
            start_date=p.start_date,
            partners=[Partner(agency=x.agency, programme=x.programme, commitment=x.commitment) for x in p.partners],
            milestones=[Milestone.from_domain(m, p, today) for m in p.milestones],
            created_at=p.created_at,
            villages_=p.village_codes,
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
        info.context.require_principal()
        return await village_progress(info.context, self.code)

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

    @strawberry.federation.field(
        requires_scopes=PILOT_READ, description="Joint pilot projects with this village among their villages."
    )
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
