"""One import row to domain objects, through the same factories and rules as the GraphQL mutations, so a row is
accepted exactly when `registerWorker` (+ `recordDeparture`, `recordReturn`) would accept the same values."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar, cast

from demimas_common.errors import BadUserInput
from demimas_registry.domain.commands import RecordDeparture, RecordReturn, RegisterWorker
from demimas_registry.domain.factories import new_departure, new_return, new_worker
from demimas_registry.domain.model import Departure, Return, Worker
from demimas_registry.domain.occupations import INVALID_OCCUPATION_CODE
from demimas_registry.domain.vocabulary import (
    EducationLevel,
    PlacementScheme,
    ReturnReason,
    Sector,
    Sex,
    WorkerStatus,
)

__all__ = ["ImportRecord", "RowError", "RowInvalid", "parse_row"]

E = TypeVar("E", bound=StrEnum)

# BadUserInput.field (GraphQL names) -> template column
_COLUMN = {
    "nik": "nik", "fullName": "full_name", "sex": "sex", "birthDate": "birth_date",
    "educationLevel": "education_level", "villageCode": "village_code", "phone": "phone", "address": "address",
    "passportNumber": "passport_number", "destinationCountry": "destination_country", "occupation": "occupation",
    "employer": "employer", "departureDate": "departure_date", "contractEnd": "contract_end",
    "returnDate": "return_date", "note": "return_reason", "workerId": "status",
    "occupationCode": "occupation_code",
}  # fmt: skip
_SEX = {"MALE": Sex.MALE, "L": Sex.MALE, "LAKI-LAKI": Sex.MALE, "FEMALE": Sex.FEMALE, "P": Sex.FEMALE,
        "PEREMPUAN": Sex.FEMALE}  # fmt: skip
_TRUE, _FALSE = {"true", "ya", "y", "1", "yes"}, {"false", "tidak", "t", "0", "no"}


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    code: str
    message: str


class RowInvalid(Exception):
    def __init__(self, column: str, code: str, message: str) -> None:
        super().__init__(message)
        self.column, self.code, self.message = column, code, message


@dataclass(slots=True)
class ImportRecord:
    line: int
    worker: Worker
    departure: Departure | None
    ret: Return | None


def _text(values: dict[str, str], column: str, *, required: bool = False) -> str | None:
    value = (values.get(column) or "").strip()
    if not value:
        if required:
            raise RowInvalid(column, "REQUIRED", f"{column} is required")
        return None
    return value


def _date(values: dict[str, str], column: str, *, required: bool = False) -> dt.date | None:
    raw = _text(values, column, required=required)
    if raw is None:
        return None
    try:
        if "/" in raw:
            day, month, year = raw.split("/")
            return dt.date(int(year), int(month), int(day))
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise RowInvalid(column, "INVALID_DATE", f"{raw!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)") from None


def _choice(values: dict[str, str], column: str, enum: type[E], *, required: bool = False) -> E | None:
    raw = _text(values, column, required=required)
    if raw is None:
        return None
    member = cast("E | None", _members(enum).get(raw.upper().replace(" ", "_").replace("-", "_")))
    if member is None:
        allowed = ", ".join(e.value for e in enum)
        raise RowInvalid(column, "INVALID_VALUE", f"{raw!r} is not one of {allowed}")
    return member


@functools.cache
def _members(enum: type[StrEnum]) -> dict[str, StrEnum]:
    """Value -> member; a dict lookup is several times cheaper than calling the enum class."""
    return {member.value: member for member in enum}


def _build(values: dict[str, str], today: dt.date) -> tuple[Worker, Departure | None, Return | None]:
    raw_sex = (_text(values, "sex", required=True) or "").upper()
    if raw_sex not in _SEX:
        raise RowInvalid("sex", "INVALID_VALUE", f"{raw_sex!r} is not MALE/FEMALE (or L/P)")
    status = _choice(values, "status", WorkerStatus) or WorkerStatus.CANDIDATE
    command = RegisterWorker(
        nik=_text(values, "nik", required=True) or "",
        full_name=_text(values, "full_name", required=True) or "",
        sex=_SEX[raw_sex],
        birth_date=_date(values, "birth_date", required=True),  # type: ignore[arg-type]
        education=_choice(values, "education_level", EducationLevel, required=True),  # type: ignore[arg-type]
        village_code=_text(values, "village_code", required=True) or "",
        phone=_text(values, "phone"),
        address=_text(values, "address"),
        passport_number=_text(values, "passport_number"),
    )
    worker = new_worker(command, today=today)
    departure = ret = None
    if status is not WorkerStatus.CANDIDATE:
        procedural_raw = (_text(values, "procedural") or "true").lower()
        if procedural_raw not in _TRUE | _FALSE:
            raise RowInvalid("procedural", "INVALID_VALUE", f"{procedural_raw!r} is not true/false (ya/tidak)")
        departure = new_departure(
            RecordDeparture(
                worker_id=worker.id,
                destination_country=_text(values, "destination_country", required=True) or "",
                sector=_choice(values, "sector", Sector, required=True),  # type: ignore[arg-type]
                occupation=_text(values, "occupation", required=True) or "",
                scheme=_choice(values, "scheme", PlacementScheme, required=True),  # type: ignore[arg-type]
                procedural=procedural_raw in _TRUE,
                departure_date=_date(values, "departure_date", required=True),  # type: ignore[arg-type]
                employer=_text(values, "employer"),
                contract_end=_date(values, "contract_end"),
                occupation_code=_text(values, "occupation_code"),
            ),
            today=today,
        )
        worker.depart(departure)
    if status is WorkerStatus.RETURNED:
        ret = new_return(
            RecordReturn(
                worker_id=worker.id,
                return_date=_date(values, "return_date", required=True),  # type: ignore[arg-type]
                reason=_choice(values, "return_reason", ReturnReason) or ReturnReason.CONTRACT_ENDED,
            ),
            departure.id if departure else None,
            today=today,
        )
        worker.return_home(ret)
    return worker, departure, ret


def parse_row(line: int, values: dict[str, str], *, today: dt.date) -> ImportRecord | RowError:
    try:
        worker, departure, ret = _build(values, today)
    except RowInvalid as exc:
        return RowError(line, exc.column, exc.code, exc.message)
    except BadUserInput as exc:
        column = _COLUMN.get(exc.field or "", exc.field or "")
        code = "INVALID_NIK" if column == "nik" else "FUTURE_DATE" if "future" in exc.message else "INVALID_VALUE"
        if "characters long" in exc.message:
            code = "TOO_LONG"
        if exc.details.get("reason") == INVALID_OCCUPATION_CODE:
            code = INVALID_OCCUPATION_CODE
        return RowError(line, column, code, exc.message)
    return ImportRecord(line=line, worker=worker, departure=departure, ret=ret)
