"""Regions and the migrant numbers of a village or a region: the statistics side of the registry subgraph, read
with `stats:read` inside the caller's region (counters maintained by every change, domain/stats.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import strawberry

from demimas_common.auth.principal import Principal
from demimas_common.graphql.labels import Lang
from demimas_registry.domain import occupations
from demimas_registry.domain.stats import MigrantStats as MigrantStatsValue
from demimas_registry.domain.vocabulary import PlacementScheme, WorkerStatus
from demimas_registry.entrypoints.graphql.context import Ctx
from demimas_registry.entrypoints.graphql.enums import SchemeEnum
from demimas_registry.labels import LABELS

__all__ = ["MIN_CELL", "BreakdownEntry", "CountryCount", "MigrantStats", "Region", "SchemeCount", "min_cell_for"]


@strawberry.type
class CountryCount:
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 destination country.")
    count: int


@strawberry.type
class SchemeCount:
    scheme: SchemeEnum  # type: ignore[valid-type]
    count: int


@strawberry.type(description="One line of a MigrantStats breakdown: a key, its name, its count.")
class BreakdownEntry:
    key: str = strawberry.field(description="The value counted, e.g. SMK, FEMALE, FORMAL, or a KBJI major group 8.")
    names: strawberry.Private[tuple[str, str] | None]
    count: int

    @strawberry.field(
        description="The key's name in `lang` (Indonesian by default): the education level, sex or sector as"
        " registryLabels gives it, or the KBJI 2014 major group's name; null for a key without one."
    )
    def label(self, lang: Lang = Lang.ID) -> str | None:
        if self.names is None:
            return None
        return self.names[0] if lang is Lang.ID else self.names[1]


Names = Mapping[str, tuple[str, str]]


MIN_CELL = 3
"""Fewest people a value of a breakdown must hold to be shown to a caller without registry:read (statistical
disclosure control): in a village where one person works in Malaysia, "Malaysia: 1" beside their sex, schooling and
occupation group says who went where, to an agency that may not read the registry. A caller with registry:read may
read the people themselves, so it gets every value."""


def min_cell_for(principal: Principal) -> int:
    return 1 if principal.has_scope("registry:read") else MIN_CELL


def _largest_first(counts: dict[str, int], min_cell: int) -> list[tuple[str, int]]:
    """Largest first, then by key; zero counts (the counters never hold them) and values below `min_cell` left out,
    and then the smallest values shown as well until what is left out holds none or at least `min_cell` people
    (secondary suppression): the totals are exact, so what is left out is their difference, and with one value
    of one person left out ("FEMALE: 3" of 4 registered) that difference names its count and, among few keys
    (MALE), its key."""
    items = [(k, n) for k, n in sorted(counts.items(), key=lambda i: (-i[1], i[0])) if n]
    shown = [(k, n) for k, n in items if n >= min_cell]
    left_out = sum(n for _, n in items) - sum(n for _, n in shown)
    while shown and 0 < left_out < min_cell:
        left_out += shown.pop()[1]
    return shown


def _entries(counts: dict[str, int], names: Names, min_cell: int) -> list[BreakdownEntry]:
    return [BreakdownEntry(key=k, names=names.get(k), count=n) for k, n in _largest_first(counts, min_cell)]


OCCUPATION_NAMES: Names = {
    group: (name, occupations.MAJOR_GROUPS_EN[group]) for group, name in occupations.MAJOR_GROUPS.items()
} | {occupations.UNCLASSIFIED: (occupations.UNCLASSIFIED_LABEL, occupations.UNCLASSIFIED_LABEL_EN)}


@strawberry.type(description="A village's (or a region's) migrant numbers, maintained with every registry change.")
class MigrantStats:
    total: int = strawberry.field(description="Workers registered in the village (region), any status.")
    candidates: int
    abroad: int
    returned: int
    departed: int = strawberry.field(description="Workers who departed at least once (abroad or returned).")
    procedural_departed: int = strawberry.field(description="Of those, whose latest departure was procedural.")
    procedural_share: float | None = strawberry.field(
        description="proceduralDeparted / departed (designation criterion 4); null when nobody departed."
    )
    by_destination: list[CountryCount] = strawberry.field(description="Workers abroad now, by country.")
    by_scheme: list[SchemeCount] = strawberry.field(description="Workers abroad now, by placement scheme.")
    by_education: list[BreakdownEntry] = strawberry.field(
        description="Workers registered (any status, summing to total), by education level (EducationLevel)."
    )
    by_sex: list[BreakdownEntry] = strawberry.field(
        description="Workers registered (any status, summing to total), by sex (MALE, FEMALE)."
    )
    by_sector: list[BreakdownEntry] = strawberry.field(
        description="Workers abroad now (summing to abroad), by their latest departure's sector (FORMAL, INFORMAL)."
    )
    by_occupation: list[BreakdownEntry] = strawberry.field(
        description="Workers abroad now (summing to abroad), by the KBJI 2014 major group (0-9) of their latest "
        "departure's occupationCode; UNCLASSIFIED when it has none."
    )
    min_cell: int = strawberry.field(
        description="The fewest people a value of the six breakdowns (byDestination to byOccupation) holds in this"
        " answer: 1 for a caller with registry:read; 3 for the others, to whom values held by fewer people are not"
        " shown, nor, when those hold fewer than 3 together, the smallest values beside them (a breakdown then sums to"
        " less than total or abroad: the difference, how many are not shown, is 0 or at least 3)."
    )

    @classmethod
    def from_value(cls, stats: MigrantStatsValue, principal: Principal) -> MigrantStats:
        """The numbers as `principal` may read them: every breakdown value with registry:read, else those held by
        at least `MIN_CELL` people."""
        min_cell = min_cell_for(principal)
        return cls(
            total=stats.total,
            candidates=stats.by_status.get(WorkerStatus.CANDIDATE.value, 0),
            abroad=stats.by_status.get(WorkerStatus.ABROAD.value, 0),
            returned=stats.by_status.get(WorkerStatus.RETURNED.value, 0),
            departed=stats.departed,
            procedural_departed=stats.procedural,
            procedural_share=stats.procedural_share,
            by_destination=[
                CountryCount(country=c, count=n) for c, n in _largest_first(stats.by_destination, min_cell)
            ],
            by_scheme=[
                SchemeCount(scheme=PlacementScheme(s), count=n) for s, n in _largest_first(stats.by_scheme, min_cell)
            ],
            by_education=_entries(stats.by_education, LABELS["EducationLevel"], min_cell),
            by_sex=_entries(stats.by_sex, LABELS["Sex"], min_cell),
            by_sector=_entries(stats.by_sector, LABELS["Sector"], min_cell),
            by_occupation=_entries(stats.by_occupation, OCCUPATION_NAMES, min_cell),
            min_cell=min_cell,
        )


@strawberry.type(description="A province, regency or district (Kemendagri code and name).")
class Region:
    code: str
    name: str
    # A regional office sees the regions it lies in (its province) and those inside it, not its neighbours.
    region_visibility: ClassVar[str] = "overlapping"

    def region_code(self, info: Ctx) -> str:
        return self.code

    @strawberry.federation.field(
        requires_scopes=[["stats:read"]],
        description="The migrant numbers of every village in the region, summed (the village counters).",
    )
    async def migrant_stats(self, info: Ctx) -> MigrantStats | None:
        principal = info.context.require_principal()
        principal.require_scope("stats:read")
        principal.require_region(self.code)
        return MigrantStats.from_value(await info.context.registry_loaders.region_stats.load(self.code), principal)
