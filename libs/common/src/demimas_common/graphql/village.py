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

from demimas_common.errors import BadUserInput

__all__ = ["REGION_PREFIX", "VILLAGE_CODE", "VillageKey", "parse_region_prefix"]

VILLAGE_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
"""A desa/kelurahan's Kemendagri code (province.regency.district.village)."""

REGION_PREFIX = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
"""A Kemendagri region at any level: province (16), regency (16.06), district (16.06.13) or village."""


def parse_region_prefix(value: str | None, field: str = "regionPrefix") -> str | None:
    """A region filter argument, stripped; BAD_USER_INPUT on `field` when it is not a region code."""
    if value is None:
        return None
    value = value.strip()
    if not REGION_PREFIX.match(value):
        raise BadUserInput(f"{field} must be a region code prefix such as 16 or 16.06", field=field)
    return value


class VillageKey:
    code: str

    def region_code(self, info: Any) -> str:
        return self.code

    @classmethod
    def resolve_reference(cls, code: str) -> Self | None:
        # "16.06" is a regency, not a village. The subclass is a strawberry dataclass: its __init__ takes `code`.
        return cls(code=code) if VILLAGE_CODE.match(code) else None  # type: ignore[call-arg]
