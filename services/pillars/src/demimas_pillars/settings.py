"""Pillars settings (`DEMIMAS_*` environment variables).

`DEMIMAS_PILLAR_AGENCIES` overrides who may record activities per pillar, as JSON, pillar by pillar (pillars not
named keep their default), e.g. `{"REINTEGRATION": ["KP2MI", "BP3MI", "KEMENDES", "KEMENPPPA"]}`."""

from __future__ import annotations

from pydantic import Field

from demimas_common.auth.principal import Agency
from demimas_common.settings import CommonSettings
from demimas_pillars.domain.permissions import DEFAULT_PILLAR_AGENCIES
from demimas_pillars.domain.vocabulary import ServicePillar

__all__ = ["PillarsSettings"]


class PillarsSettings(CommonSettings):
    progress_window_days: int = Field(
        default=365, ge=1, le=3650, description="pillarProgress counts the activities of this many days."
    )
    idempotency_key_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Idempotency keys are kept this long: a retry sent later than that would record again.",
    )
    overdue_check_seconds: float = Field(
        default=900.0,
        gt=0,
        le=86400,
        description="How often each replica looks for milestones that became overdue (demimas.pillars.milestone."
        "overdue, once per milestone whichever replica finds it).",
    )
    pillar_agencies: dict[ServicePillar, list[Agency]] = Field(
        default_factory=dict, description="Per pillar, the agencies that may record its activities (overrides)."
    )

    def pillar_table(self) -> dict[ServicePillar, frozenset[Agency]]:
        table = dict(DEFAULT_PILLAR_AGENCIES)
        table.update({pillar: frozenset(agencies) for pillar, agencies in self.pillar_agencies.items()})
        return table
