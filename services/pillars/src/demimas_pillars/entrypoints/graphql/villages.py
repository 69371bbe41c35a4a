"""What pillars knows of a village's ten pillars: progress over the window and the portfolio (`Village` itself is in
graph.py)."""

from __future__ import annotations

import datetime as dt

import strawberry

from demimas_pillars.adapters.portfolios import PortfolioRepository
from demimas_pillars.adapters.progress import progress_of_villages
from demimas_pillars.domain import progress as domain_progress
from demimas_pillars.entrypoints.graphql.common import OutputValue
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.enums import EmasPillarEnum, ServicePillarEnum

__all__ = ["PillarProgress", "load_progress"]


CASE_STATS = [["case:read"], ["stats:read"]]
"""A village's protection-case counts: what the cases service's `Village.caseStats` asks."""


@strawberry.type(description="One pillar of a village: activities and people reached in the window, and outputs.")
class PillarDelivery:
    pillar: ServicePillarEnum  # type: ignore[valid-type]
    emas_pillar: EmasPillarEnum  # type: ignore[valid-type]
    activities: int
    people_reached: int = strawberry.field(description="Distinct registered participants plus anonymous counts.")
    last_activity_on: dt.date | None
    outputs: list[OutputValue]
    served: bool = strawberry.field(description="An activity of the pillar in the window (cases do not count).")
    cases_: strawberry.Private[domain_progress.CaseCounts | None] = None

    @strawberry.federation.field(
        requires_scopes=CASE_STATS,
        description="Protection cases of the village opened in the window (the cases service), for the pillar that "
        "counts them (NONPROCEDURAL_AND_TRAFFICKING_PREVENTION); null for the other pillars.",
    )
    def cases_opened(self) -> int | None:
        return None if self.cases_ is None else self.cases_.opened

    @strawberry.federation.field(
        requires_scopes=CASE_STATS,
        description="Protection cases of the village resolved in the window and not reopened since, for the pillar "
        "that counts them; null for the other pillars.",
    )
    def cases_resolved(self) -> int | None:
        return None if self.cases_ is None else self.cases_.resolved


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
                cases_=x.cases,
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


async def load_progress(ctx: PillarsContext, codes: list[str]) -> list[PillarProgress]:
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
