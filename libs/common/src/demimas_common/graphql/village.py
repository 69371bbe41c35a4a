"""The `Village` entity as a subgraph that extends it (designation, pillars) sees it: keyed by its Kemendagri code,
region-bound by that code, and resolved from a reference only when the code is a village's.

The registry owns `Village`; an extending subgraph declares its own `@strawberry.federation.type(keys=["code"])`
class with `code: str` and its own fields, and inherits the key's behaviour from `VillageKey`. The mixin adds no
GraphQL field: `region_code` is what `access.py` binds region visibility to, `resolve_reference` what federation
calls with the `code` of an `_entities` representation.
"""

from __future__ import annotations

import re
from typing import Any, Self

__all__ = ["VILLAGE_CODE", "VillageKey"]

VILLAGE_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
"""A desa/kelurahan's Kemendagri code (province.regency.district.village)."""


class VillageKey:
    code: str

    def region_code(self, info: Any) -> str:
        return self.code

    @classmethod
    def resolve_reference(cls, code: str) -> Self | None:
        # "16.06" is a regency, not a village. The subclass is a strawberry dataclass: its __init__ takes `code`.
        return cls(code=code) if VILLAGE_CODE.match(code) else None  # type: ignore[call-arg]
