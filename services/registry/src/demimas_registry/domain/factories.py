"""Turning validated commands into domain objects: the one place both GraphQL and bulk import go through, so a
row is accepted by the importer exactly when the same values would be accepted by `registerWorker`."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import uuid_utils.compat

from demimas_common.errors import BadUserInput
from demimas_registry.domain import validation as v
from demimas_registry.domain.commands import AddFamilyMember, RecordDeparture, RecordReturn, RegisterWorker
from demimas_registry.domain.model import Consent, Departure, FamilyMember, Return, Worker, age_on, is_minor
from demimas_registry.domain.occupations import check_occupation_code

__all__ = [
    "check_birth_date",
    "check_passport",
    "new_departure",
    "new_family_member",
    "new_return",
    "new_worker",
    "uuid7",
]

_PASSPORT = re.compile(r"^[A-Z][0-9A-Z]{6,8}$")


def uuid7() -> uuid.UUID:
    """A time-ordered id: new rows land at the end of the primary-key index, and ids sort by creation."""
    return uuid_utils.compat.uuid7()


def check_passport(value: str) -> str:
    cleaned = value.strip().upper().replace(" ", "")
    if not _PASSPORT.match(cleaned):
        raise BadUserInput("passportNumber must be a letter followed by 6-8 letters or digits", field="passportNumber")
    return cleaned


def check_birth_date(value: dt.date, *, today: dt.date) -> dt.date:
    """A worker's birth date: not in the future, and at least `MIN_WORKER_AGE` years before `today`."""
    birth_date = v.check_date_not_future(value, field="birthDate", today=today)
    if age_on(birth_date, today) < v.MIN_WORKER_AGE:
        raise BadUserInput(
            f"a migrant worker must be at least {v.MIN_WORKER_AGE} years old (UU 18/2017 Pasal 5)", field="birthDate"
        )
    return birth_date


def new_worker(cmd: RegisterWorker, *, today: dt.date | None = None) -> Worker:
    today = today or dt.date.today()
    birth_date = check_birth_date(cmd.birth_date, today=today)
    nik = v.check_nik(cmd.nik, sex=cmd.sex, birth_date=birth_date)
    return Worker(
        id=uuid7(),
        nik=nik.nik,
        full_name=v.check_name(cmd.full_name),
        sex=cmd.sex,
        birth_date=birth_date,
        education=cmd.education,
        village_code=v.check_village_code(cmd.village_code),
        phone=v.check_phone(cmd.phone) if cmd.phone else None,
        address=v.check_free_text(cmd.address, field="address", max_length=500) if cmd.address else None,
        passport_number=check_passport(cmd.passport_number) if cmd.passport_number else None,
        nik_warnings=nik.warnings,
    )


def new_departure(cmd: RecordDeparture, *, today: dt.date | None = None) -> Departure:
    departure_date = v.check_date_not_future(cmd.departure_date, field="departureDate", today=today)
    return Departure(
        id=uuid7(),
        worker_id=cmd.worker_id,
        destination_country=v.check_country(cmd.destination_country),
        sector=cmd.sector,
        occupation=v.check_free_text(cmd.occupation, field="occupation", max_length=120),
        scheme=cmd.scheme,
        procedural=cmd.procedural,
        employer=v.check_free_text(cmd.employer, field="employer", max_length=200) if cmd.employer else None,
        departure_date=departure_date,
        contract_end=cmd.contract_end,
        occupation_code=check_occupation_code(cmd.occupation_code) if cmd.occupation_code else None,
    )


def new_return(cmd: RecordReturn, departure_id: uuid.UUID | None, *, today: dt.date | None = None) -> Return:
    return Return(
        id=uuid7(),
        worker_id=cmd.worker_id,
        departure_id=departure_id,
        return_date=v.check_date_not_future(cmd.return_date, field="returnDate", today=today),
        reason=cmd.reason,
        note=v.check_free_text(cmd.note, field="note", max_length=1000) if cmd.note else None,
    )


def new_family_member(cmd: AddFamilyMember, *, today: dt.date | None = None) -> FamilyMember:
    birth_date = v.check_date_not_future(cmd.birth_date, field="birthDate", today=today)
    consent: Consent | None = None
    if cmd.consent is not None:
        consent = Consent(
            given_by=cmd.consent.given_by,
            date=v.check_date_not_future(cmd.consent.date, field="consent.date", today=today),
            basis=v.check_free_text(cmd.consent.basis, field="consent.basis", max_length=300),
        )
    return FamilyMember(
        id=uuid7(),
        worker_id=cmd.worker_id,
        relation=cmd.relation,
        full_name=v.check_name(cmd.full_name),
        birth_date=birth_date,
        minor=is_minor(birth_date, today),
        consent=consent,
    )
