"""A village's ten-pillar progress: per pillar, the activities and people reached in the window (the last 12
months by default) and the outputs, the protection cases opened and resolved in the window for the pillar that
counts them (domain/cases.py), and the overall coverage (pillars served / 10)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from demimas_pillars.domain.cases import CASES_PILLAR
from demimas_pillars.domain.vocabulary import SERVES, EmasPillar, OutputKind, ServicePillar

__all__ = ["CaseCounts", "PillarFigures", "PillarProgress", "VillageProgress", "progress_of"]


@dataclass(frozen=True)
class CaseCounts:
    """A village's protection cases in the window: opened in it, and resolved in it (not reopened since)."""

    opened: int = 0
    resolved: int = 0


@dataclass(frozen=True)
class PillarFigures:
    """What the database aggregates for one pillar of one village in the window."""

    pillar: ServicePillar
    activities: int
    people_reached: int
    last_activity_on: dt.date | None
    outputs: Mapping[OutputKind, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PillarProgress:
    pillar: ServicePillar
    emas_pillar: EmasPillar
    activities: int
    people_reached: int
    last_activity_on: dt.date | None
    outputs: tuple[tuple[OutputKind, int], ...]
    cases: CaseCounts | None = None
    """The protection cases, for the pillar that counts them (`CASES_PILLAR`); None for the others."""

    @property
    def served(self) -> bool:
        """An activity was delivered in the window (cases are shown beside the activities, not counted as one)."""
        return self.activities > 0


@dataclass(frozen=True)
class VillageProgress:
    village_code: str
    window_from: dt.date
    window_to: dt.date
    pillars: tuple[PillarProgress, ...]

    @property
    def pillars_served(self) -> int:
        return sum(p.served for p in self.pillars)

    @property
    def coverage(self) -> float:
        return self.pillars_served / len(ServicePillar)


def progress_of(
    village_code: str,
    figures: Iterable[PillarFigures],
    *,
    window_from: dt.date,
    window_to: dt.date,
    cases: CaseCounts | None = None,
) -> VillageProgress:
    """All ten pillars in KP2MI's order, a pillar without activity at zero; the village's protection cases (None:
    none in the window) on the pillar that counts them."""
    found = {f.pillar: f for f in figures}
    pillars = []
    for pillar in ServicePillar:
        f = found.get(pillar)
        outputs = tuple(sorted(f.outputs.items())) if f else ()
        pillars.append(
            PillarProgress(
                pillar,
                SERVES[pillar],
                f.activities if f else 0,
                f.people_reached if f else 0,
                f.last_activity_on if f else None,
                outputs,
                (cases or CaseCounts()) if pillar is CASES_PILLAR else None,
            )
        )
    return VillageProgress(village_code, window_from, window_to, tuple(pillars))
