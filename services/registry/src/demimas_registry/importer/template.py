"""The import template: the columns, what each holds, and an example row. Header names are exact."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COLUMNS", "EXAMPLE", "REQUIRED", "Column"]


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    description: str


COLUMNS: tuple[Column, ...] = (
    Column("nik", True, "16-digit NIK (separators allowed); must agree with sex and birth_date"),
    Column("full_name", True, "as on the KTP; letters, spaces and . , ' - (at most 150)"),
    Column("sex", True, "MALE or FEMALE (L or P accepted)"),
    Column("birth_date", True, "YYYY-MM-DD or DD/MM/YYYY; at least 18 years ago"),
    Column("education_level", True, "NONE, SD, SMP, SMA, SMK, DIPLOMA, S1, S2 or S3"),
    Column("village_code", True, "Kemendagri village code, e.g. 16.06.13.2001"),
    Column("phone", False, "Indonesian number, e.g. 0812-3456-7890"),
    Column("address", False, "street address (at most 500)"),
    Column("passport_number", False, "a letter then 6-8 letters or digits"),
    Column("status", False, "CANDIDATE (default), ABROAD or RETURNED"),
    Column("destination_country", False, "ISO 3166-1 alpha-2 (MY, HK, TW, ...); needed for ABROAD and RETURNED"),
    Column("sector", False, "FORMAL or INFORMAL; needed for ABROAD and RETURNED"),
    Column("occupation", False, "e.g. Operator produksi; needed for ABROAD and RETURNED"),
    Column("occupation_code", False, "KBJI 2014 code, major group first (e.g. 8189 or 8); optional"),
    Column("scheme", False, "G_TO_G, P_TO_P, UKPS or INDEPENDENT; needed for ABROAD and RETURNED"),
    Column("procedural", False, "true/false (ya/tidak, 1/0): false for a non-procedural departure"),
    Column("employer", False, "employer's name"),
    Column("departure_date", False, "date of the latest departure; needed for ABROAD and RETURNED"),
    Column("contract_end", False, "end of the work contract"),
    Column("return_date", False, "date of return; needed for RETURNED"),
    Column(
        "return_reason", False, "CONTRACT_ENDED, TERMINATED_EARLY, PROTECTION_CASE, DEPORTED, HEALTH, FAMILY, OTHER"
    ),
)
REQUIRED = frozenset(c.name for c in COLUMNS if c.required)

EXAMPLE: dict[str, str] = {
    "nik": "1606135508950001",
    "full_name": "Siti Aminah",
    "sex": "FEMALE",
    "birth_date": "1995-08-15",
    "education_level": "SMK",
    "village_code": "16.06.13.2001",
    "phone": "0812-3456-7890",
    "address": "Dusun II, RT 003",
    "passport_number": "C1234567",
    "status": "ABROAD",
    "destination_country": "MY",
    "sector": "FORMAL",
    "occupation": "Operator produksi",
    "occupation_code": "8189",
    "scheme": "P_TO_P",
    "procedural": "true",
    "employer": "Syarikat Elektronik Sdn Bhd",
    "departure_date": "2025-03-01",
    "contract_end": "2027-03-01",
    "return_date": "",
    "return_reason": "",
}
