"""What callers ask the registry to do, as plain values (from GraphQL input or an import row)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from demimas_registry.domain.model import Consent
from demimas_registry.domain.vocabulary import (
    EducationLevel,
    PlacementScheme,
    Relation,
    ReturnReason,
    Sector,
    Sex,
)

__all__ = [
    "AddFamilyMember",
    "RecordDeparture",
    "RecordPersonalDataAccess",
    "RecordReturn",
    "RegisterWorker",
    "UpdateWorker",
]


@dataclass(frozen=True, slots=True)
class RegisterWorker:
    nik: str
    full_name: str
    sex: Sex
    birth_date: dt.date
    education: EducationLevel
    village_code: str
    phone: str | None = None
    address: str | None = None
    passport_number: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateWorker:
    worker_id: uuid.UUID
    expected_version: int | None = None
    full_name: str | None = None
    education: EducationLevel | None = None
    village_code: str | None = None
    phone: str | None = None
    address: str | None = None
    passport_number: str | None = None


@dataclass(frozen=True, slots=True)
class RecordDeparture:
    worker_id: uuid.UUID
    destination_country: str
    sector: Sector
    occupation: str
    scheme: PlacementScheme
    procedural: bool
    departure_date: dt.date
    employer: str | None = None
    contract_end: dt.date | None = None
    expected_version: int | None = None
    occupation_code: str | None = None


@dataclass(frozen=True, slots=True)
class RecordReturn:
    worker_id: uuid.UUID
    return_date: dt.date
    reason: ReturnReason
    note: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class AddFamilyMember:
    worker_id: uuid.UUID
    relation: Relation
    full_name: str
    birth_date: dt.date
    consent: Consent | None = None


@dataclass(frozen=True, slots=True)
class RecordPersonalDataAccess:
    """Personal fields read in one execution step of a request (the personal-data gate's batch)."""

    worker_ids: tuple[str, ...]
    fields: tuple[str, ...]
    family_member_ids: tuple[str, ...] = ()
    operation: str | None = None
