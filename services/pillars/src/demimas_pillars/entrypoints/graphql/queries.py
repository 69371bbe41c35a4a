"""The pillars subgraph's queries: an activity or a pilot by id, the pilot tracker (pilots by region, agency,
programme and status; overdue milestones), and the pillar table integrators read to know who may record what."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

import strawberry

from demimas_common.auth.principal import Agency
from demimas_common.errors import BadUserInput
from demimas_common.graphql.labels import labels_field
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.types import PageInfo
from demimas_common.graphql.village import VILLAGE_CODE, parse_region_prefix
from demimas_pillars.adapters.pilots import PilotRepository
from demimas_pillars.adapters.thematic import OverlapFilter, ThematicStatusRepository
from demimas_pillars.domain.vocabulary import OUTPUTS, SERVES, PilotStatus, ServicePillar, ThematicProgramme
from demimas_pillars.entrypoints.graphql.common import PILOT_READ, READ, Ctx
from demimas_pillars.entrypoints.graphql.enums import (
    AgencyEnum,
    EmasPillarEnum,
    OutputKindEnum,
    ServicePillarEnum,
    ThematicProgrammeEnum,
)
from demimas_pillars.entrypoints.graphql.graph import Activity, PilotProject, Village
from demimas_pillars.entrypoints.graphql.inputs import PilotFilter
from demimas_pillars.entrypoints.graphql.pilots import Milestone
from demimas_pillars.entrypoints.graphql.thematic import THEMATIC_READ, ProgrammeVillageFilter
from demimas_pillars.labels import LABELS

__all__ = ["Query"]

REGION = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


@strawberry.type
class PilotProjectEdge:
    cursor: str
    node: PilotProject


@strawberry.type
class PilotProjectConnection:
    edges: list[PilotProjectEdge]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="How many pilot projects the whole list has (costs a count: select it only when needed)."
    )
    async def total_count(self) -> int:
        return await self.count_query()


@strawberry.type
class OverdueMilestone:
    pilot: PilotProject
    milestone: Milestone
    days_overdue: int

    def region_code(self, info: Ctx) -> str:
        return self.pilot.village_code


@strawberry.type(description="A village in thematic programmes, with whether Demimas has designated it.")
class ProgrammeVillageEdge:
    cursor: str
    node: Village
    designated: bool = strawberry.field(description="A Demimas designation in force (pillars' portfolio is OPEN).")
    programmes: list[ThematicProgrammeEnum] = strawberry.field(  # type: ignore[valid-type]
        description="Every programme the village has an ACTIVE status in."
    )


@strawberry.type
class ProgrammeVillageConnection:
    edges: list[ProgrammeVillageEdge]
    page_info: PageInfo
    count_query: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many villages the whole list has (costs a count: select it only when needed).")
    async def total_count(self) -> int:
        return await self.count_query()


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


@strawberry.type
class Query:
    pillars_labels = labels_field("pillars", LABELS)

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
        region, caller_region = _region(f.region_prefix), principal.region
        agency = Agency(f.agency).value if f.agency else None
        programme = ThematicProgramme(f.programme) if f.programme else None
        status = PilotStatus(f.status) if f.status else None
        async with ctx.engine.connect() as conn:
            repository = PilotRepository(conn)
            ids, more = await repository.page(
                region=region,
                caller_region=caller_region,
                agency=agency,
                programme=programme,
                status=status,
                village=None,
                first=limit,
                after=cursor,
            )
            found = await repository.get_many(ids)
        today = ctx.delivery.today()
        edges = [
            PilotProjectEdge(cursor=encode_cursor((p.village_code, str(p.id))), node=PilotProject.from_domain(p, today))
            for p in found
        ]

        async def count() -> int:
            async with ctx.engine.connect() as c:
                return await PilotRepository(c).count(
                    region=region, caller_region=caller_region, agency=agency, programme=programme, status=status
                )

        return PilotProjectConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after), count_query=count
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
            repository = PilotRepository(conn)
            pairs = await repository.overdue(
                agency=Agency(agency).value if agency else None,
                today=today,
                caller_region=principal.region,
                limit=validate_first(first),
            )
            found = {p.id: p for p in await repository.get_many(list(dict.fromkeys(p for p, _ in pairs)))}
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

    @strawberry.federation.field(
        requires_scopes=THEMATIC_READ,
        description="Overlap sites for pilots: villages with an ACTIVE thematic status (in every programme of "
        "filter.programmes when given), designated by Demimas or not, by village code.",
    )
    async def programme_villages(
        self, info: Ctx, filter: ProgrammeVillageFilter | None = None, first: int | None = 50, after: str | None = None
    ) -> ProgrammeVillageConnection | None:
        principal = info.context.require_principal()
        engine = info.context.engine
        f = filter or ProgrammeVillageFilter()
        limit = validate_first(first)
        cursor = None
        if after is not None:
            [code] = decode_cursor(after, length=1)
            if not isinstance(code, str) or not VILLAGE_CODE.match(code):
                raise BadUserInput(
                    "after is not a cursor of this list; pass an endCursor you were given", field="after"
                )
            cursor = code
        overlap = OverlapFilter(
            designated=f.designated,
            programmes=tuple(ThematicProgramme(p) for p in f.programmes or ()),
            region=parse_region_prefix(f.region_prefix, "filter.regionPrefix"),
            caller_region=principal.region,
        )
        async with engine.connect() as conn:
            found, more = await ThematicStatusRepository(conn).overlap_page(overlap, first=limit, after=cursor)
        edges = [
            ProgrammeVillageEdge(cursor=encode_cursor((v.village_code,)), node=Village(code=v.village_code),
                                 designated=v.designated, programmes=list(v.programmes))
            for v in found
        ]  # fmt: skip

        async def count() -> int:
            async with engine.connect() as c:
                return await ThematicStatusRepository(c).overlap_count(overlap)

        return ProgrammeVillageConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after), count_query=count
        )
