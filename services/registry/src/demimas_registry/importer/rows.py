"""One import row to domain objects, through the same factories and rules as the GraphQL mutations, so a row is
accepted exactly when `registerWorker` (+ `recordDeparture`, `recordReturn`) would accept the same values."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar, cast

from demimas_common.errors import BadUserInput
from demimas_registry.domain import validation as v
from demimas_registry.domain.commands import RecordDeparture, RecordReturn, RegisterWorker
from demimas_registry.domain.factories import (
    check_birth_date,
    check_passport,
    new_departure,
    new_return,
    new_worker,
)
from demimas_registry.domain.model import (
    Departure,
    Return,
    Worker,
    check_contract_end,
    check_departure_after_birth,
    check_return_date,
)
from demimas_registry.domain.occupations import INVALID_OCCUPATION_CODE, check_occupation_code
from demimas_registry.domain.vocabulary import (
    EducationLevel,
    PlacementScheme,
    ReturnReason,
    Sector,
    Sex,
    WorkerStatus,
)
from demimas_registry.importer.template import COLUMNS

__all__ = ["ImportRecord", "RowError", "RowInvalid", "parse_row"]

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")

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


def _sex(values: dict[str, str]) -> Sex:
    raw_sex = (_text(values, "sex", required=True) or "").upper()
    if raw_sex not in _SEX:
        raise RowInvalid("sex", "INVALID_VALUE", f"{raw_sex!r} is not MALE/FEMALE (or L/P)")
    return _SEX[raw_sex]


def _procedural(values: dict[str, str]) -> bool:
    procedural_raw = (_text(values, "procedural") or "true").lower()
    if procedural_raw not in _TRUE | _FALSE:
        raise RowInvalid("procedural", "INVALID_VALUE", f"{procedural_raw!r} is not true/false (ya/tidak)")
    return procedural_raw in _TRUE


def _build(values: dict[str, str], today: dt.date) -> tuple[Worker, Departure | None, Return | None]:
    sex = _sex(values)
    status = _choice(values, "status", WorkerStatus) or WorkerStatus.CANDIDATE
    command = RegisterWorker(
        nik=_text(values, "nik", required=True) or "",
        full_name=_text(values, "full_name", required=True) or "",
        sex=sex,
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
        procedural = _procedural(values)
        departure = new_departure(
            RecordDeparture(
                worker_id=worker.id,
                destination_country=_text(values, "destination_country", required=True) or "",
                sector=_choice(values, "sector", Sector, required=True),  # type: ignore[arg-type]
                occupation=_text(values, "occupation", required=True) or "",
                scheme=_choice(values, "scheme", PlacementScheme, required=True),  # type: ignore[arg-type]
                procedural=procedural,
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


def parse_row(line: int, values: dict[str, str], *, today: dt.date) -> ImportRecord | list[RowError]:
    """The row's records, or every error of its columns in the file's column order (at least one). A valid row
    is built once, through the factories; only a rejected row is checked again column by column."""
    try:
        worker, departure, ret = _build(values, today)
    except RowInvalid as exc:
        first = RowError(line, exc.column, exc.code, exc.message)
    except BadUserInput as exc:
        first = _bad_input(line, exc)
    else:
        return ImportRecord(line=line, worker=worker, departure=departure, ret=ret)
    errors = _column_errors(line, values, today)
    if first.column not in {e.column for e in errors}:
        errors.append(first)  # a rule the column checks do not know: the first error is never lost
    return _in_file_order(errors, values)


def _bad_input(line: int, exc: BadUserInput) -> RowError:
    column = _COLUMN.get(exc.field or "", exc.field or "")
    code = "INVALID_NIK" if column == "nik" else "FUTURE_DATE" if "future" in exc.message else "INVALID_VALUE"
    if "characters long" in exc.message:
        code = "TOO_LONG"
    if exc.details.get("reason") == INVALID_OCCUPATION_CODE:
        code = INVALID_OCCUPATION_CODE
    return RowError(line, column, code, exc.message)


_TEMPLATE_ORDER = {column.name: i for i, column in enumerate(COLUMNS)}


def _in_file_order(errors: list[RowError], values: dict[str, str]) -> list[RowError]:
    """Sorted by the column's place in the file (`values` keeps the header's order); a column the file lacks
    comes after, in the template's order."""
    place = {name: i for i, name in enumerate(values)}
    last = len(place)
    return sorted(errors, key=lambda e: place.get(e.column, last + _TEMPLATE_ORDER.get(e.column, len(COLUMNS))))


class _Checks:
    """Each column judged on its own, by the same functions as `_build` and the factories; an error is kept and the
    column marked failed. A rule across columns runs only when the columns it reads passed."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.errors: list[RowError] = []
        self.failed: set[str] = set()

    def check(self, check: Callable[[], T]) -> T | None:
        try:
            return check()
        except RowInvalid as exc:
            error = RowError(self.line, exc.column, exc.code, exc.message)
        except BadUserInput as exc:
            error = _bad_input(self.line, exc)
        self.errors.append(error)
        self.failed.add(error.column)
        return None

    def ok(self, *columns: str) -> bool:
        return self.failed.isdisjoint(columns)


def _column_errors(line: int, values: dict[str, str], today: dt.date) -> list[RowError]:
    c = _Checks(line)
    nik = c.check(lambda: _text(values, "nik", required=True))
    c.check(lambda: v.check_name(_text(values, "full_name", required=True) or ""))
    sex = c.check(lambda: _sex(values))
    birth = c.check(lambda: check_birth_date(_date(values, "birth_date", required=True), today=today))  # type: ignore[arg-type]
    if nik is not None:
        if sex is not None and birth is not None:
            c.check(lambda: v.check_nik(nik, sex=sex, birth_date=birth))
        else:
            c.check(lambda: v.check_nik_structure(nik))
    c.check(lambda: _choice(values, "education_level", EducationLevel, required=True))
    c.check(lambda: v.check_village_code(_text(values, "village_code", required=True) or ""))
    optional: list[tuple[str, Callable[[str], object]]] = [
        ("phone", v.check_phone),
        ("address", lambda text: v.check_free_text(text, field="address", max_length=500)),
        ("passport_number", check_passport),
    ]
    status = c.check(lambda: _choice(values, "status", WorkerStatus) or WorkerStatus.CANDIDATE)
    if status is not None and status is not WorkerStatus.CANDIDATE:
        c.check(lambda: _procedural(values))
        c.check(lambda: v.check_country(_text(values, "destination_country", required=True) or ""))
        c.check(lambda: _choice(values, "sector", Sector, required=True))
        c.check(lambda: v.check_free_text(_text(values, "occupation", required=True) or "", field="occupation",
                                          max_length=120))  # fmt: skip
        c.check(lambda: _choice(values, "scheme", PlacementScheme, required=True))
        departed = c.check(lambda: _date(values, "departure_date", required=True))
        if departed is not None:
            c.check(lambda: v.check_date_not_future(departed, field="departureDate", today=today))
        contract_end = c.check(lambda: _date(values, "contract_end"))
        optional += [
            ("employer", lambda text: v.check_free_text(text, field="employer", max_length=200)),
            ("occupation_code", check_occupation_code),
        ]
        if departed is not None and c.ok("departure_date"):
            if birth is not None:
                c.check(lambda: check_departure_after_birth(birth, departed))
            if contract_end is not None:
                c.check(lambda: check_contract_end(departed, contract_end))
        if status is WorkerStatus.RETURNED:
            returned = c.check(lambda: _date(values, "return_date", required=True))
            if returned is not None:
                c.check(lambda: v.check_date_not_future(returned, field="returnDate", today=today))
            c.check(lambda: _choice(values, "return_reason", ReturnReason))
            if departed is not None and returned is not None and c.ok("departure_date", "return_date"):
                c.check(lambda: check_return_date(departed, returned))
    for column, rule in optional:
        text = _text(values, column)
        if text is not None:
            c.check(functools.partial(rule, text))
    return c.errors
