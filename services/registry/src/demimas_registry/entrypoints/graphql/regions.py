"""Regions and the migrant numbers of a village or a region: the statistics side of the registry subgraph, read
with `stats:read` inside the caller's region (counters maintained by every change, domain/stats.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import strawberry

from demimas_common.graphql.labels import Lang
from demimas_registry.domain import occupations
from demimas_registry.domain.stats import MigrantStats as MigrantStatsValue
from demimas_registry.domain.vocabulary import PlacementScheme, WorkerStatus
from demimas_registry.entrypoints.graphql.context import Ctx
from demimas_registry.entrypoints.graphql.enums import SchemeEnum
from demimas_registry.labels import LABELS

__all__ = ["BreakdownEntry", "CountryCount", "MigrantStats", "Region", "SchemeCount"]


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


def _entries(counts: dict[str, int], names: Names) -> list[BreakdownEntry]:
    """Largest first, then by key; zero counts are left out (the counters never hold them)."""
    items = sorted(counts.items(), key=lambda i: (-i[1], i[0]))
    return [BreakdownEntry(key=k, names=names.get(k), count=n) for k, n in items if n]


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

    @classmethod
    def from_value(cls, stats: MigrantStatsValue) -> MigrantStats:
        return cls(
            total=stats.total,
            candidates=stats.by_status.get(WorkerStatus.CANDIDATE.value, 0),
            abroad=stats.by_status.get(WorkerStatus.ABROAD.value, 0),
            returned=stats.by_status.get(WorkerStatus.RETURNED.value, 0),
            departed=stats.departed,
            procedural_departed=stats.procedural,
            procedural_share=stats.procedural_share,
            by_destination=[
                CountryCount(country=c, count=n) for c, n in sorted(stats.by_destination.items(), key=lambda i: -i[1])
            ],
            by_scheme=[
                SchemeCount(scheme=PlacementScheme(s), count=n)
                for s, n in sorted(stats.by_scheme.items(), key=lambda i: -i[1])
            ],
            by_education=_entries(stats.by_education, LABELS["EducationLevel"]),
            by_sex=_entries(stats.by_sex, LABELS["Sex"]),
            by_sector=_entries(stats.by_sector, LABELS["Sector"]),
            by_occupation=_entries(stats.by_occupation, OCCUPATION_NAMES),
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
        return MigrantStats.from_value(await info.context.registry_loaders.region_stats.load(self.code))
