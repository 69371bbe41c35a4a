"""The ten pillars of a village as a server-rendered SVG bar chart, and the same figures as a table (the chart's
text alternative). Pure geometry: the template draws what `pillar_chart` computes, with classes the stylesheet
colours (no `style=` attribute: the Content-Security-Policy forbids inline styles)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from demimas_portal.i18n import Labels
from demimas_portal.views.enums import SERVICE_PILLARS

__all__ = ["Bar", "PillarChart", "pillar_chart"]

LABEL_WIDTH = 340  # the longest Indonesian pillar name at the chart's font size, with a margin
BAR_WIDTH = 300
ROW_HEIGHT = 28
TOP = 8


@dataclass(frozen=True)
class Bar:
    pillar: str
    label: str
    activities: int
    people_reached: int
    served: bool
    last_activity_on: str | None
    y: int
    width: int
    """Length of the bar in SVG units (0..BAR_WIDTH), proportional to activities against the busiest pillar."""


@dataclass(frozen=True)
class PillarChart:
    village_code: str
    bars: list[Bar]
    pillars_served: int
    coverage_percent: int
    window_from: str
    window_to: str
    width: int = LABEL_WIDTH + BAR_WIDTH + 60
    label_width: int = LABEL_WIDTH
    bar_width: int = BAR_WIDTH
    row_height: int = ROW_HEIGHT

    @property
    def height(self) -> int:
        return TOP * 2 + ROW_HEIGHT * len(self.bars)


def pillar_chart(progress: Mapping[str, Any] | None, labels: Labels) -> PillarChart | None:
    """The chart of `Village.pillarProgress` (None when the village has none), every one of the ten pillars in the
    API's order, a pillar the answer leaves out drawn as zero."""
    if not progress:
        return None
    by_pillar = {p["pillar"]: p for p in progress.get("pillars") or []}
    busiest = max((int(p.get("activities") or 0) for p in by_pillar.values()), default=0)
    bars = []
    for i, pillar in enumerate(labels.values("ServicePillar", SERVICE_PILLARS)):
        row = by_pillar.get(pillar, {})
        activities = int(row.get("activities") or 0)
        bars.append(
            Bar(
                pillar=pillar,
                label=labels.of("ServicePillar", pillar),
                activities=activities,
                people_reached=int(row.get("peopleReached") or 0),
                served=bool(row.get("served")),
                last_activity_on=row.get("lastActivityOn"),
                y=TOP + i * ROW_HEIGHT,
                width=round(BAR_WIDTH * activities / busiest) if busiest else 0,
            )
        )
    return PillarChart(
        village_code=str(progress.get("villageCode", "")),
        bars=bars,
        pillars_served=int(progress.get("pillarsServed") or sum(b.served for b in bars)),
        coverage_percent=round(float(progress.get("coverage") or 0) * 100),
        window_from=str(progress.get("windowFrom", "")),
        window_to=str(progress.get("windowTo", "")),
    )
