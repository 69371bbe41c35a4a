"""Per-village migrant statistics, maintained by deltas rather than computed by scans.

Each worker contributes a small set of counters to its village: its status, education level and sex (every
registered worker, like `total`); while abroad, its destination, placement scheme, sector and occupation (KBJI 2014
major group of its latest departure, or UNCLASSIFIED without a code), like `abroad`; once it has departed at least
once, whether its latest departure was procedural. A change
to a worker subtracts its old contribution and adds the new one, so `Village.migrantStats` is one indexed read at
any registry size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from demimas_registry.domain.occupations import major_group
from demimas_registry.domain.vocabulary import EducationLevel, PlacementScheme, Sector, Sex, WorkerStatus

__all__ = ["Contribution", "MigrantStats", "StatKey", "contribution", "delta"]

StatKey = tuple[str, str, str]  # (village code, dimension, key)

STATUS, DESTINATION, SCHEME, DEPARTED = "status", "destination", "scheme", "departed"
EVER, PROCEDURAL = "ever", "procedural"
EDUCATION, SEX, SECTOR, OCCUPATION = "education", "sex", "sector", "occupation"


@dataclass(frozen=True, slots=True)
class Contribution:
    village_code: str
    status: WorkerStatus
    destination: str | None = None
    scheme: PlacementScheme | None = None
    procedural: bool | None = None
    """Latest departure's procedural flag, None when the worker never departed."""
    education: EducationLevel | None = None
    sex: Sex | None = None
    sector: Sector | None = None
    occupation_code: str | None = None
    """Latest departure's KBJI 2014 code (None: no code; counted as UNCLASSIFIED while abroad)."""

    def keys(self) -> list[StatKey]:
        v = self.village_code
        keys: list[StatKey] = [(v, STATUS, self.status.value)]
        if self.education is not None:
            keys.append((v, EDUCATION, self.education.value))
        if self.sex is not None:
            keys.append((v, SEX, self.sex.value))
        if self.status is WorkerStatus.ABROAD:
            if self.destination:
                keys.append((v, DESTINATION, self.destination))
            if self.scheme:
                keys.append((v, SCHEME, self.scheme.value))
            if self.sector:
                keys.append((v, SECTOR, self.sector.value))
                keys.append((v, OCCUPATION, major_group(self.occupation_code)))
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
    education: EducationLevel | None = None,
    sex: Sex | None = None,
    sector: Sector | None = None,
    occupation_code: str | None = None,
) -> Contribution:
    return Contribution(village_code, status, destination, scheme, procedural, education, sex, sector, occupation_code)


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
    by_education: dict[str, int] = field(default_factory=dict)
    by_sex: dict[str, int] = field(default_factory=dict)
    by_sector: dict[str, int] = field(default_factory=dict)
    by_occupation: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, int]]) -> MigrantStats:
        by: dict[str, dict[str, int]] = {
            STATUS: {}, DESTINATION: {}, SCHEME: {}, DEPARTED: {}, EDUCATION: {}, SEX: {}, SECTOR: {}, OCCUPATION: {},
        }  # fmt: skip
        for dimension, key, count in rows:
            if count and dimension in by:
                by[dimension][key] = count
        return cls(
            by_status=by[STATUS],
            by_destination=by[DESTINATION],
            by_scheme=by[SCHEME],
            departed=by[DEPARTED].get(EVER, 0),
            procedural=by[DEPARTED].get(PROCEDURAL, 0),
            by_education=by[EDUCATION],
            by_sex=by[SEX],
            by_sector=by[SECTOR],
            by_occupation=by[OCCUPATION],
        )

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def procedural_share(self) -> float | None:
        """Share of procedural departures among the village's workers who ever departed (criterion 4)."""
        return self.procedural / self.departed if self.departed else None
