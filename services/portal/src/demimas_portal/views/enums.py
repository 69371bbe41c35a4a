"""Enum values the pages offer as choices, as the API spells them: the fallback when the labels cannot be read (the
choices still work, with the raw values as their text)."""

from __future__ import annotations

import re

__all__ = ["AGENCIES", "ID", "PILOT_STATUSES", "PROGRAMMES", "REGION", "SERVICE_PILLARS", "valid_id"]

AGENCIES = ("KP2MI", "BP3MI", "DISNAKER", "KEMENPPPA", "KEMENDES", "BNN", "KEMENIMIPAS", "KEMENKO_POLKAM", "AUDITOR")
PILOT_STATUSES = ("PLANNED", "ACTIVE", "COMPLETED", "CANCELLED")
PROGRAMMES = ("DRPPA", "DESA_BERSINAR", "DESA_TEMATIK", "BUMDES", "DESA_BINAAN_IMIGRASI", "DESA_SIAP_SIAGA")
SERVICE_PILLARS = (
    "PROCEDURAL_MIGRATION_SERVICE",
    "JOB_OPPORTUNITY_INFORMATION",
    "NONPROCEDURAL_AND_TRAFFICKING_PREVENTION",
    "DEPARTURE_RETURN_MONITORING",
    "FINANCIAL_LITERACY_REMITTANCE",
    "COOPERATIVE_BUMDES",
    "ENTREPRENEURSHIP",
    "FAMILY_STRENGTHENING",
    "REINTEGRATION",
    "DIASPORA_SERVICE",
)
REGION = re.compile(r"\A[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?\Z")
"""A province, regency, district or village code (`16`, `16.06`, `16.06.01`, `16.06.01.2001`): ASCII digits and
the whole string (a `\\d` would take other scripts' digits, a `$` a trailing newline)."""
ID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
"""A pilot's or milestone's id as the API gives it (a UUID), checked before a path parameter reaches the gateway."""


def valid_id(value: str) -> bool:
    """A pilot's or milestone's id (a UUID, any case): anything else is no such pilot (404 without asking)."""
    return bool(ID.match(value.lower()))
