"""Cases settings (`DEMIMAS_*` environment variables): the service clocks and the overdue sweep.

`DEMIMAS_CASE_RESOLUTION_DAYS` overrides resolution targets per kind as JSON (kinds not named keep their default),
e.g. `{"LEGAL_AID": 120}`. A clock's due time is fixed when the item starts: a changed setting applies to cases
opened (or items started) after the change."""

from __future__ import annotations

from pydantic import Field

from demimas_cases.domain.clocks import DEFAULT_RESOLUTION_DAYS, Clocks
from demimas_cases.domain.vocabulary import CaseKind
from demimas_common.settings import CommonSettings

__all__ = ["CasesSettings"]


class CasesSettings(CommonSettings):
    case_triage_hours: int = Field(default=24, ge=1, le=24 * 30, description="An open case is triaged within this.")
    case_referral_response_hours: int = Field(
        default=72, ge=1, le=24 * 60, description="A referral is accepted or declined within this."
    )
    case_resolution_days: dict[CaseKind, int] = Field(
        default_factory=dict, description="Resolution targets in days per kind (overrides of the defaults)."
    )
    case_sweep_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="How often overdue items are looked for and escalated."
    )

    idempotency_key_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Idempotency keys are kept this long: a retry sent later than that would open a second case.",
    )

    def clocks(self) -> Clocks:
        days = dict(DEFAULT_RESOLUTION_DAYS)
        days.update(self.case_resolution_days)
        return Clocks(self.case_triage_hours, self.case_referral_response_hours, days)
