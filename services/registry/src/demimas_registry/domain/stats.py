"""Per-village migrant statistics, maintained by deltas rather than computed by scans.

Each worker contributes a small set of counters to its village: its status; while abroad, its destination and
placement scheme; once it has departed at least once, whether its latest departure was procedural. A change
to a worker subtracts its old contribution and adds the new one, so `Village.migrantStats` is one indexed read at
any registry size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from demimas_registry.domain.vocabulary import PlacementScheme, WorkerStatus

__all__ = ["Contribution", "MigrantStats", "StatKey", "contribution", "delta"]

StatKey = tuple[str, str, str]  # (village code, dimension, key)

STATUS, DESTINATION, SCHEME, DEPARTED = "status", "destination", "scheme", "departed"
EVER, PROCEDURAL = "ever", "procedural"


@dataclass(frozen=True, slots=True)
class Contribution:
    village_code: str
    status: WorkerStatus
    destination: str | None = None
    scheme: PlacementScheme | None = None
    procedural: bool | None = None
    """Latest departure's procedural flag, None when the worker never departed."""

    def keys(self) -> list[StatKey]:
        v = self.village_code
        keys: list[StatKey] = [(v, STATUS, self.status.value)]
        if self.status is WorkerStatus.ABROAD:
            if self.destination:
                keys.append((v, DESTINATION, self.destination))
            if self.scheme:
                keys.append((v, SCHEME, self.scheme.value))
        if self.procedural is not None:
            keys.append((v, DEPARTED, EVER))
            if self.procedural:
                keys.append((v, DEPARTED, PROCEDURAL))
        return keys


def contribution(
    village_code: str,
    status: WorkerStatus,
    *,
    destination: str | None = None,
    scheme: PlacementScheme | None = None,
    procedural: bool | None = None,
) -> Contribution:
    return Contribution(village_code, status, destination, scheme, procedural)


def delta(changes: Iterable[tuple[Contribution | None, Contribution | None]]) -> dict[StatKey, int]:
    """Net counter changes of many (before, after) pairs, zeros dropped, sorted so that concurrent writers
    lock the counter rows in one order (no deadlocks)."""
    total: Counter[StatKey] = Counter()
    for before, after in changes:
        if before is not None:
            total.subtract(before.keys())
        if after is not None:
            total.update(after.keys())
    return {key: n for key, n in sorted(total.items()) if n != 0}


@dataclass(frozen=True, slots=True)
class MigrantStats:
    by_status: dict[str, int] = field(default_factory=dict)
    by_destination: dict[str, int] = field(default_factory=dict)
    by_scheme: dict[str, int] = field(default_factory=dict)
    departed: int = 0
    procedural: int = 0

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, int]]) -> MigrantStats:
        by: dict[str, dict[str, int]] = {STATUS: {}, DESTINATION: {}, SCHEME: {}, DEPARTED: {}}
        for dimension, key, count in rows:
            if count and dimension in by:
                by[dimension][key] = count
        return cls(
            by_status=by[STATUS],
            by_destination=by[DESTINATION],
            by_scheme=by[SCHEME],
            departed=by[DEPARTED].get(EVER, 0),
            procedural=by[DEPARTED].get(PROCEDURAL, 0),
        )

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def procedural_share(self) -> float | None:
        """Share of procedural departures among the village's workers who ever departed (criterion 4)."""
        return self.procedural / self.departed if self.departed else None
