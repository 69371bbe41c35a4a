"""The worker aggregate and its movements (keberangkatan, kepulangan) and family (keluarga PMI).

A worker moves CANDIDATE -> ABROAD -> RETURNED, and RETURNED -> ABROAD again for a new contract. Every change
raises the worker's `version` by one; events carry it so consumers can order per-worker changes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from demimas_common.errors import BadUserInput
from demimas_registry.domain.vocabulary import (
    ConsentGiver,
    EducationLevel,
    PlacementScheme,
    Relation,
    ReturnReason,
    Sector,
    Sex,
    WorkerStatus,
)

__all__ = [
    "Consent",
    "Departure",
    "FamilyMember",
    "Return",
    "Worker",
    "age_on",
    "check_contract_end",
    "check_departure_after_birth",
    "check_departure_dates",
    "check_return_date",
    "is_minor",
]


def check_departure_dates(birth_date: dt.date, departure_date: dt.date, contract_end: dt.date | None) -> None:
    """A departure's dates against each other: not before the worker's birth, a contract ending after it starts."""
    check_departure_after_birth(birth_date, departure_date)
    if contract_end is not None:
        check_contract_end(departure_date, contract_end)


def check_departure_after_birth(birth_date: dt.date, departure_date: dt.date) -> None:
    if departure_date < birth_date:
        raise BadUserInput("departureDate lies before the worker's birth", field="departureDate")


def check_contract_end(departure_date: dt.date, contract_end: dt.date) -> None:
    if contract_end <= departure_date:
        raise BadUserInput("contractEnd must come after departureDate", field="contractEnd")


def check_return_date(departure_date: dt.date, return_date: dt.date) -> None:
    """A return comes no earlier than the departure it ends."""
    if return_date < departure_date:
        raise BadUserInput(f"returnDate {return_date} is before the departure ({departure_date})", field="returnDate")


ADULT_AGE = 18  # UU 35/2014 (perlindungan anak): a child is under 18


def age_on(birth_date: dt.date, day: dt.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def is_minor(birth_date: dt.date, today: dt.date | None = None) -> bool:
    return age_on(birth_date, today or dt.date.today()) < ADULT_AGE


@dataclass(frozen=True, slots=True)
class Departure:
    id: uuid.UUID
    worker_id: uuid.UUID
    destination_country: str
    sector: Sector
    occupation: str
    scheme: PlacementScheme
    procedural: bool
    employer: str | None
    departure_date: dt.date
    contract_end: dt.date | None
    occupation_code: str | None = None
    """KBJI 2014 code (domain.occupations), optional; `occupation` is the free text as written."""


@dataclass(frozen=True, slots=True)
class Return:
    id: uuid.UUID
    worker_id: uuid.UUID
    departure_id: uuid.UUID | None
    return_date: dt.date
    reason: ReturnReason
    note: str | None


@dataclass(frozen=True, slots=True)
class Consent:
    """A parent's or guardian's consent to record a child's data (UU 27/2022 Pasal 25)."""

    given_by: ConsentGiver
    date: dt.date
    basis: str


@dataclass(frozen=True, slots=True)
class FamilyMember:
    id: uuid.UUID
    worker_id: uuid.UUID
    relation: Relation
    full_name: str
    birth_date: dt.date
    minor: bool
    consent: Consent | None

    def __post_init__(self) -> None:
        if self.minor and self.consent is None:
            raise BadUserInput(
                "a child's data is recorded only with a parent's or guardian's consent (UU 27/2022 Pasal 25)",
                field="consent",
            )


@dataclass(slots=True)
class Worker:
    id: uuid.UUID
    nik: str
    full_name: str
    sex: Sex
    birth_date: dt.date
    education: EducationLevel
    village_code: str
    status: WorkerStatus = WorkerStatus.CANDIDATE
    phone: str | None = None
    address: str | None = None
    passport_number: str | None = None
    nik_warnings: tuple[str, ...] = ()
    version: int = 1
    latest_departure: Departure | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    new_departures: list[Departure] = field(default_factory=list)
    new_returns: list[Return] = field(default_factory=list)

    def depart(self, departure: Departure) -> None:
        if self.status is WorkerStatus.ABROAD:
            raise BadUserInput(
                "this worker is already abroad; record the return before a new departure", field="workerId"
            )
        check_departure_dates(self.birth_date, departure.departure_date, departure.contract_end)
        if self.latest_departure is not None and departure.departure_date < self.latest_departure.departure_date:
            raise BadUserInput(
                f"departureDate {departure.departure_date} is before the previous departure "
                f"({self.latest_departure.departure_date})",
                field="departureDate",
            )
        self.status = WorkerStatus.ABROAD
        self.latest_departure = departure
        self.new_departures.append(departure)
        self.version += 1

    def return_home(self, ret: Return) -> None:
        if self.status is not WorkerStatus.ABROAD or self.latest_departure is None:
            raise BadUserInput(f"only a worker abroad can return; this worker is {self.status.value}", field="workerId")
        check_return_date(self.latest_departure.departure_date, ret.return_date)
        self.status = WorkerStatus.RETURNED
        self.new_returns.append(ret)
        self.version += 1

    def move_to(self, village_code: str) -> str | None:
        """Change the home village; returns the previous one when it changed."""
        if village_code == self.village_code:
            return None
        previous, self.village_code = self.village_code, village_code
        return previous

    def touch(self) -> None:
        self.version += 1
