"""A breakdown of counts (workers by destination, by education, ...) as rows and as a small server-rendered SVG bar
chart. Pure geometry, like `chart.py`: the template (`_breakdown.html`) draws what `breakdown` computes, with classes
the stylesheet colours (no inline style: the Content-Security-Policy forbids it); the table is the chart's text
alternative."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BAR_WIDTH", "Breakdown", "Row", "breakdown"]

LABEL_WIDTH = 220
BAR_WIDTH = 260
ROW_HEIGHT = 24
TOP = 6


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    count: int
    percent: int
    """Share of the breakdown's total, rounded (0 when the total is 0)."""
    y: int
    width: int
    """Length of the bar in SVG units (0..BAR_WIDTH), proportional to the largest count."""


@dataclass(frozen=True)
class Breakdown:
    name: str
    """Which breakdown (`byDestination`, `bySex`, ...): ids and data-testids are made of it."""
    rows: list[Row]
    total: int
    width: int = LABEL_WIDTH + BAR_WIDTH + 70
    label_width: int = LABEL_WIDTH
    bar_width: int = BAR_WIDTH
    row_height: int = ROW_HEIGHT

    @property
    def height(self) -> int:
        return TOP * 2 + ROW_HEIGHT * len(self.rows)

    @property
    def chart(self) -> bool:
        """Worth a chart: two values or more (one bar, or none, says nothing a table does not)."""
        return len(self.rows) >= 2


def breakdown(
    name: str,
    entries: Iterable[Mapping[str, Any]],
    key: str = "key",
    label: Callable[[Mapping[str, Any]], str] | None = None,
) -> Breakdown:
    """The rows of one breakdown, largest count first (ties by label), each with its bar. `key` names the entry's
    value field (`key`, `country`, `scheme`); `label` gives its words (default: the API's `label`, else the value)."""
    items = [e for e in entries if int(e.get("count") or 0) > 0]
    total = sum(int(e["count"]) for e in items)
    largest = max((int(e["count"]) for e in items), default=0)

    def words(e: Mapping[str, Any]) -> str:
        if label is not None:
            return label(e)
        return str(e.get("label") or e.get(key) or "")

    ordered = sorted(items, key=lambda e: (-int(e["count"]), words(e)))
    rows = [
        Row(
            key=str(e.get(key) or ""),
            label=words(e),
            count=int(e["count"]),
            percent=round(100 * int(e["count"]) / total) if total else 0,
            y=TOP + i * ROW_HEIGHT,
            width=round(BAR_WIDTH * int(e["count"]) / largest) if largest else 0,
        )
        for i, e in enumerate(ordered)
    ]
    return Breakdown(name=name, rows=rows, total=total)
