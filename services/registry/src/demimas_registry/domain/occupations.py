"""Occupations by the Klasifikasi Baku Jabatan Indonesia 2014 (KBJI 2014).

Source: Badan Pusat Statistik, *Klasifikasi Baku Jabatan Indonesia (KBJI) 2014* (Peraturan Kepala BPS No. 7 Tahun
2015), which adopts the structure of the ILO's International Standard Classification of Occupations 2008 (ISCO-08):
10 major groups (golongan pokok, 1 digit), 43 sub-major groups (sub golongan pokok, 2 digits), minor groups
(golongan, 3 digits) and unit groups (sub golongan, 4 digits). A code's first digit is its major group.

A departure may carry an `occupationCode`: a major group alone (`8`), or a sub-major, minor or unit group (`81`,
`818`, `8189`), optionally followed by a two-digit occupation within its unit group (`8189.01`). The registry checks
the major group and the sub-major group against the lists below; the 3- and 4-digit levels are checked for form
only (the full KBJI list of unit groups is not held here). `MigrantStats.byOccupation` counts by major group.
"""

from __future__ import annotations

import re

from demimas_common.errors import BadUserInput

__all__ = [
    "INVALID_OCCUPATION_CODE",
    "MAJOR_GROUPS",
    "MAJOR_GROUPS_EN",
    "UNCLASSIFIED",
    "check_occupation_code",
    "major_group",
]

MAJOR_GROUPS: dict[str, str] = {
    "0": "Tentara Nasional Indonesia dan Kepolisian Negara Republik Indonesia",
    "1": "Manajer",
    "2": "Profesional",
    "3": "Teknisi dan Asisten Profesional",
    "4": "Tenaga Tata Usaha",
    "5": "Tenaga Usaha Jasa dan Tenaga Penjualan",
    "6": "Pekerja Terampil Pertanian, Kehutanan dan Perikanan",
    "7": "Pekerja Pengolahan, Kerajinan dan YBDI",
    "8": "Operator dan Perakit Mesin",
    "9": "Pekerja Kasar",
}
"""KBJI 2014 golongan pokok (major groups) and their names (ISCO-08: armed forces; managers; professionals;
technicians and associate professionals; clerical support; service and sales; skilled agricultural, forestry and
fishery; craft and related trades; plant and machine operators and assemblers; elementary occupations)."""

MAJOR_GROUPS_EN: dict[str, str] = {
    "0": "Armed forces and police occupations",
    "1": "Managers",
    "2": "Professionals",
    "3": "Technicians and associate professionals",
    "4": "Clerical support workers",
    "5": "Service and sales workers",
    "6": "Skilled agricultural, forestry and fishery workers",
    "7": "Craft and related trades workers",
    "8": "Plant and machine operators and assemblers",
    "9": "Elementary occupations",
}
"""The same major groups in English, in ISCO-08's words (KBJI 2014 follows ISCO-08)."""

SUB_MAJOR_GROUPS: frozenset[str] = frozenset(
    "01 02 03 11 12 13 14 21 22 23 24 25 26 31 32 33 34 35 41 42 43 44 51 52 53 54 61 62 63 "
    "71 72 73 74 75 81 82 83 91 92 93 94 95 96".split()
)
"""The 43 sub golongan pokok (sub-major groups) of KBJI 2014 / ISCO-08."""

UNCLASSIFIED = "UNCLASSIFIED"
"""The `byOccupation` key of workers abroad whose latest departure has no occupation code (free text only)."""
UNCLASSIFIED_LABEL = "Belum diklasifikasikan (tanpa kode KBJI)"
UNCLASSIFIED_LABEL_EN = "Unclassified (no KBJI code)"

INVALID_OCCUPATION_CODE = "INVALID_OCCUPATION_CODE"
"""The error's `reason` (GraphQL) and the import report's row code."""

_FORM = re.compile(r"^(\d{1,4})(?:\.(\d{2}))?$")


def check_occupation_code(value: str, *, field: str = "occupationCode") -> str:
    """A KBJI 2014 code, cleaned (spaces removed): its first digit a major group, its first two digits a known
    sub-major group; `BadUserInput` with `reason` INVALID_OCCUPATION_CODE otherwise."""
    code = value.strip().replace(" ", "")
    match = _FORM.match(code)
    if match is None or (match.group(2) is not None and len(match.group(1)) != 4):
        raise BadUserInput(
            f"occupationCode {value[:20]!r} is not a KBJI 2014 code: 1 to 4 digits (major group first, e.g. 8 or "
            "8189), or a 4-digit unit group and a 2-digit occupation (8189.01)",
            field=field,
            reason=INVALID_OCCUPATION_CODE,
        )
    digits = match.group(1)
    if len(digits) >= 2 and digits[:2] not in SUB_MAJOR_GROUPS:
        raise BadUserInput(
            f"occupationCode {code!r}: {digits[:2]} is no sub-major group of KBJI 2014 major group {digits[0]} "
            f"({MAJOR_GROUPS[digits[0]]})",
            field=field,
            reason=INVALID_OCCUPATION_CODE,
        )
    return code


def major_group(code: str | None) -> str:
    """The `byOccupation` key of a departure's code: its first digit, or UNCLASSIFIED without a code."""
    return code[0] if code else UNCLASSIFIED


def label(key: str) -> str | None:
    return MAJOR_GROUPS.get(key) or (UNCLASSIFIED_LABEL if key == UNCLASSIFIED else None)
