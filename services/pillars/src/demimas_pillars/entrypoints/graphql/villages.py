"""`Village` (owned by the registry) extended with what pillars knows of it: its ten pillars' progress over the
window and its portfolio, its activities, its joint pilots and its reintegration queue."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.dataloader import DataLoader

from demimas_common.errors import BadUserInput
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.types import PageInfo
from demimas_common.graphql.village import VillageKey
from demimas_pillars.adapters.activities import ActivityRepository
from demimas_pillars.adapters.pilots import PilotRepository
from demimas_pillars.adapters.portfolios import PortfolioRepository
from demimas_pillars.adapters.progress import progress_of_villages
from demimas_pillars.adapters.reintegration import ReintegrationQueueRepository
from demimas_pillars.domain import progress as domain_progress
from demimas_pillars.domain.vocabulary import ReintegrationStatus, ServicePillar
from demimas_pillars.entrypoints.graphql.activities import Activity, ActivityConnection, ActivityEdge
from demimas_pillars.entrypoints.graphql.common import PILOT_READ, READ, Ctx, OutputValue, date_cursor
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.enums import EmasPillarEnum, ReintegrationStatusEnum, ServicePillarEnum
from demimas_pillars.entrypoints.graphql.people import Returnee, ReturneeConnection, ReturneeEdge
from demimas_pillars.entrypoints.graphql.pilots import PilotProject

__all__ = ["PillarProgress", "Village"]


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


async def _progress(ctx: PillarsContext, codes: list[str]) -> list[PillarProgress]:
    today = ctx.delivery.today()
    window_from = today - dt.timedelta(days=ctx.delivery.window_days - 1)
    async with ctx.engine.connect() as conn:
        found = await progress_of_villages(conn, list(codes), window_from=window_from, window_to=today)
        held = await PortfolioRepository(conn).of_villages(list(codes))
    opened = {
        code: Portfolio(status=p.status, designation_id=strawberry.ID(str(p.designation_id)), opened_at=p.opened_at)
        for code, p in held.items()
    }
    return [PillarProgress.from_domain(found[c], opened.get(c)) for c in codes]


@strawberry.federation.type(keys=["code"], description="A desa/kelurahan (owned by the registry).")
class Village(VillageKey):
    code: str

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
            repository = ActivityRepository(conn)
            ids, more = await repository.village_page(
                self.code,
                pillar=ServicePillar(pillar) if pillar else None,
                first=limit,
                after=date_cursor(after),
            )
            found = await repository.get_many(ids)
        edges = [ActivityEdge(cursor=encode_cursor((a.occurred_on, a.id)), node=Activity.from_domain(a)) for a in found]
        return ActivityConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after)
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
        return ReturneeConnection(
            edges=edges, page_info=PageInfo.of([e.cursor for e in edges], has_next=more, after=after)
        )
