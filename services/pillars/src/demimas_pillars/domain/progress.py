"""A village's ten-pillar progress: per pillar, the activities and people reached in the window (the last 12
months by default) and the outputs, and the overall coverage (pillars served / 10)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from demimas_pillars.domain.vocabulary import SERVES, EmasPillar, OutputKind, ServicePillar

__all__ = ["PillarFigures", "PillarProgress", "VillageProgress", "progress_of"]


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

    @property
    def served(self) -> bool:
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
    village_code: str, figures: Iterable[PillarFigures], *, window_from: dt.date, window_to: dt.date
) -> VillageProgress:
    """All ten pillars in KP2MI's order, a pillar without activity at zero."""
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
            )
        )
    return VillageProgress(village_code, window_from, window_to, tuple(pillars))
