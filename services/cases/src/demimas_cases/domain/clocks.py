"""Service clocks: when each item of a case falls due. Due times are computed once, when the item starts, and
stored with it, so that a restart or a change of settings never moves a clock already running (documented in
docs/cases.md); the sweep only compares stored due times with the time now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from demimas_cases.domain.vocabulary import CaseKind

__all__ = ["DEFAULT_RESOLUTION_DAYS", "Clocks"]

DEFAULT_RESOLUTION_DAYS: Mapping[CaseKind, int] = MappingProxyType(
    {
        CaseKind.COMPLAINT: 30,
        CaseKind.LEGAL_AID: 90,
        CaseKind.TRAFFICKING_SUSPECTED: 60,
        CaseKind.NONPROCEDURAL_DEPARTURE: 30,
        CaseKind.ABUSE_ABROAD: 45,
        CaseKind.REPATRIATION: 30,
        CaseKind.FAMILY_WELFARE: 60,
    }
)


@dataclass(frozen=True)
class Clocks:
    triage_hours: int = 24
    referral_response_hours: int = 72
    resolution_days: Mapping[CaseKind, int] = field(default_factory=lambda: DEFAULT_RESOLUTION_DAYS)

    def triage_due(self, opened_at: dt.datetime) -> dt.datetime:
        return opened_at + dt.timedelta(hours=self.triage_hours)

    def referral_due(self, referred_at: dt.datetime) -> dt.datetime:
        return referred_at + dt.timedelta(hours=self.referral_response_hours)

    def resolution_due(self, kind: CaseKind, since: dt.datetime) -> dt.datetime:
        return since + dt.timedelta(days=self.resolution_days[kind])
