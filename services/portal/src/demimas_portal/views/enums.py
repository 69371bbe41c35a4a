"""Enum values the pages offer as choices, as the API spells them: the fallback when the labels cannot be read (the
choices still work, with the raw values as their text)."""

from __future__ import annotations

import re

__all__ = ["AGENCIES", "PILOT_STATUSES", "PROGRAMMES", "REGION", "SERVICE_PILLARS"]

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
REGION = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
"""A province, regency, district or village code (`16`, `16.06`, `16.06.01`, `16.06.01.2001`)."""
