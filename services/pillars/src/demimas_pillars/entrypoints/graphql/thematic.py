"""A village's thematic statuses (which partner ministry's thematic-village programme it is in: domain/thematic.py),
the input that sets one, and the overlap filter. `Village.thematicStatuses` is in graph.py, `programmeVillages` in
queries.py, the mutations in mutations.py."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.dataloader import DataLoader

from demimas_pillars.adapters.thematic import ThematicStatusRepository
from demimas_pillars.domain import thematic as domain_thematic
from demimas_pillars.entrypoints.graphql.common import Ctx
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.enums import AgencyEnum, ThematicProgrammeEnum, ThematicStatusStateEnum

__all__ = [
    "THEMATIC_READ",
    "THEMATIC_WRITE",
    "ProgrammeVillageFilter",
    "ThematicStatus",
    "ThematicStatusInput",
    "statuses_of",
]

THEMATIC_READ = [["pillars:read"], ["pilot:read"]]
THEMATIC_WRITE = [["pillars:write"], ["pilot:write"]]


@strawberry.federation.type(
    requires_scopes=THEMATIC_READ,
    description="A village's status in a partner ministry's thematic-village programme (Desa Tematik K/L), set and "
    "ended by the programme's owning agency only.",
)
class ThematicStatus:
    id: strawberry.ID
    village_code: str
    programme: ThematicProgrammeEnum  # type: ignore[valid-type]
    agency: AgencyEnum = strawberry.field(description="The programme's owning agency, which set the status.")  # type: ignore[valid-type]
    since: dt.date
    reference: str = strawberry.field(description="The decree or letter that put the village in the programme.")
    status: ThematicStatusStateEnum  # type: ignore[valid-type]
    ended_on: dt.date | None
    end_reason: str | None
    version: int = strawberry.field(description="1 when set, one more at each correction and at its end.")

    def region_code(self, info: Ctx) -> str:
        return self.village_code

    @classmethod
    def from_domain(cls, s: domain_thematic.ThematicStatus) -> ThematicStatus:
        return cls(
            id=strawberry.ID(str(s.id)),
            village_code=s.village_code,
            programme=s.programme,
            agency=s.agency,
            since=s.since,
            reference=s.reference,
            status=s.status,
            ended_on=s.ended_on,
            end_reason=s.end_reason,
            version=s.version,
        )


@strawberry.input(description="A village's status in a thematic programme, by the programme's owning agency.")
class ThematicStatusInput:
    village_code: str
    programme: ThematicProgrammeEnum  # type: ignore[valid-type]
    since: dt.date = strawberry.field(description="The day the village entered the programme (not in the future).")
    reference: str = strawberry.field(description="The decree or letter number, 3 to 100 characters.")


@strawberry.input(description="Which villages `programmeVillages` lists (every condition given must hold).")
class ProgrammeVillageFilter:
    designated: bool | None = strawberry.field(
        default=None,
        description="true: a Demimas designation in force; false: not designated (or suspended, revoked); null: "
        "either.",
    )
    programmes: list[ThematicProgrammeEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="An ACTIVE status in every one of them (null or empty: in any programme)."
    )
    region_prefix: str | None = None


async def _load(ctx: PillarsContext, keys: list[tuple[str, bool]]) -> list[list[ThematicStatus]]:
    by_flag: dict[bool, dict[str, list[domain_thematic.ThematicStatus]]] = {}
    async with ctx.engine.connect() as conn:
        repository = ThematicStatusRepository(conn)
        for flag in {f for _, f in keys}:
            codes = sorted({c for c, f in keys if f is flag})
            by_flag[flag] = await repository.of_villages(codes, include_ended=flag)
    return [[ThematicStatus.from_domain(s) for s in by_flag[f].get(c, [])] for c, f in keys]


async def statuses_of(ctx: PillarsContext, code: str, include_ended: bool) -> list[ThematicStatus]:
    """A village's statuses, the villages of one request read together (the gateway's `_entities` batches)."""
    loader = ctx.loader("thematic", lambda: DataLoader(load_fn=lambda keys: _load(ctx, list(keys))))
    found: list[ThematicStatus] = await loader.load((code, include_ended))
    return found
