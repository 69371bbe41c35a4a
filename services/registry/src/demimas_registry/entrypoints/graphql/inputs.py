"""GraphQL input types of the registry's mutations, and their conversion to domain commands."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry

from demimas_common.errors import BadUserInput
from demimas_registry.domain import commands
from demimas_registry.domain.model import Consent
from demimas_registry.entrypoints.graphql.enums import (
    ConsentGiverEnum,
    EducationEnum,
    RelationEnum,
    ReturnReasonEnum,
    SchemeEnum,
    SectorEnum,
    SexEnum,
    WorkerStatusEnum,
)

__all__ = [
    "DepartureInput",
    "FamilyMemberInput",
    "RegisterWorkerInput",
    "ReturnInput",
    "UpdateWorkerInput",
    "WorkerFilter",
    "parse_id",
]


def parse_id(raw: strawberry.ID | str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise BadUserInput(f"{str(raw)[:60]!r} is not an id (a UUID)", field=field) from None


@strawberry.input
class WorkerFilter:
    village_code: str | None = None
    region_prefix: str | None = strawberry.field(default=None, description="e.g. 16.06 for Musi Banyuasin.")
    status: WorkerStatusEnum | None = None  # type: ignore[valid-type]
    destination_country: str | None = None


@strawberry.input(description="A prospective migrant worker (CPMI) as registered by the regency manpower office.")
class RegisterWorkerInput:
    nik: str
    full_name: str
    sex: SexEnum  # type: ignore[valid-type]
    birth_date: dt.date
    education_level: EducationEnum  # type: ignore[valid-type]
    village_code: str
    phone: str | None = None
    address: str | None = None
    passport_number: str | None = None

    def to_command(self) -> commands.RegisterWorker:
        return commands.RegisterWorker(
            nik=self.nik,
            full_name=self.full_name,
            sex=self.sex,
            birth_date=self.birth_date,
            education=self.education_level,
            village_code=self.village_code,
            phone=self.phone,
            address=self.address,
            passport_number=self.passport_number,
        )


@strawberry.input(description="Only the fields given change; an empty string clears phone, address or passport.")
class UpdateWorkerInput:
    expected_version: int | None = None
    full_name: str | None = None
    education_level: EducationEnum | None = None  # type: ignore[valid-type]
    village_code: str | None = None
    phone: str | None = None
    address: str | None = None
    passport_number: str | None = None

    def to_command(self, worker_id: uuid.UUID) -> commands.UpdateWorker:
        return commands.UpdateWorker(
            worker_id=worker_id,
            expected_version=self.expected_version,
            full_name=self.full_name,
            education=self.education_level,
            village_code=self.village_code,
            phone=self.phone,
            address=self.address,
            passport_number=self.passport_number,
        )


@strawberry.input
class DepartureInput:
    destination_country: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. MY, HK, TW.")
    sector: SectorEnum  # type: ignore[valid-type]
    occupation: str
    scheme: SchemeEnum  # type: ignore[valid-type]
    procedural: bool = strawberry.field(description="False when the worker left outside the legal channels.")
    departure_date: dt.date
    employer: str | None = None
    contract_end: dt.date | None = None
    expected_version: int | None = None
    occupation_code: str | None = strawberry.field(
        default=None,
        description="KBJI 2014 code of the occupation, major group first (e.g. 8189, or 8 alone); occupation stays "
        "the free text. A malformed code is BAD_USER_INPUT with reason INVALID_OCCUPATION_CODE.",
    )

    def to_command(self, worker_id: uuid.UUID) -> commands.RecordDeparture:
        return commands.RecordDeparture(
            worker_id=worker_id,
            destination_country=self.destination_country,
            sector=self.sector,
            occupation=self.occupation,
            scheme=self.scheme,
            procedural=self.procedural,
            departure_date=self.departure_date,
            employer=self.employer,
            contract_end=self.contract_end,
            expected_version=self.expected_version,
            occupation_code=self.occupation_code,
        )


@strawberry.input
class ReturnInput:
    return_date: dt.date
    reason: ReturnReasonEnum  # type: ignore[valid-type]
    note: str | None = None
    expected_version: int | None = None

    def to_command(self, worker_id: uuid.UUID) -> commands.RecordReturn:
        return commands.RecordReturn(
            worker_id=worker_id,
            return_date=self.return_date,
            reason=self.reason,
            note=self.note,
            expected_version=self.expected_version,
        )


@strawberry.input(description="Consent of a parent or guardian to record a child's data (UU 27/2022 Pasal 25).")
class ConsentInput:
    given_by: ConsentGiverEnum  # type: ignore[valid-type]
    date: dt.date
    basis: str = strawberry.field(description="The document or act of consent, e.g. a signed form's number.")


@strawberry.input
class FamilyMemberInput:
    relation: RelationEnum  # type: ignore[valid-type]
    full_name: str
    birth_date: dt.date
    consent: ConsentInput | None = None

    def to_command(self, worker_id: uuid.UUID) -> commands.AddFamilyMember:
        consent = (
            Consent(given_by=self.consent.given_by, date=self.consent.date, basis=self.consent.basis)
            if self.consent
            else None
        )
        return commands.AddFamilyMember(
            worker_id=worker_id,
            relation=self.relation,
            full_name=self.full_name,
            birth_date=self.birth_date,
            consent=consent,
        )
