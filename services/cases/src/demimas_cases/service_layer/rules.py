"""What the use cases need besides the database: the service clocks and the time now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from demimas_cases.domain.clocks import Clocks

__all__ = ["CaseRules"]


@dataclass(frozen=True)
class CaseRules:
    clocks: Clocks = field(default_factory=Clocks)
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
