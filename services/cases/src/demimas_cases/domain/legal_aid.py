"""Legal aid organisations (organisasi bantuan hukum, accredited under UU 16/2011), a small register KP2MI keeps:
a case is referred to one that serves the case's region."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, replace

from demimas_cases.domain.case import check_text
from demimas_common.auth.principal import region_covers
from demimas_common.errors import BadUserInput

__all__ = ["LegalAidOrganisation", "check_organisation"]

_REGION = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


@dataclass(frozen=True)
class LegalAidOrganisation:
    id: uuid.UUID
    name: str
    accreditation_number: str
    regions_served: tuple[str, ...]
    contact: str | None
    active: bool
    registered_at: dt.datetime

    def serves(self, village_code: str) -> bool:
        return self.active and any(region_covers(r, village_code) for r in self.regions_served)

    def works_in(self, region: str) -> bool:
        """Whether it serves some of `region` (a part of it, all of it, or more)."""
        return any(region_covers(r, region) or region_covers(region, r) for r in self.regions_served)


def check_organisation(org: LegalAidOrganisation) -> LegalAidOrganisation:
    name = check_text(org.name, "name", low=3, high=200)
    number = check_text(org.accreditation_number, "accreditationNumber", low=3, high=100)
    contact = check_text(org.contact, "contact", low=3, high=200, required=False)
    if not 1 <= len(org.regions_served) <= 50:
        raise BadUserInput("regionsServed names 1 to 50 region codes", field="regionsServed")
    for code in org.regions_served:
        if not _REGION.match(code):
            raise BadUserInput(f"{code!r} is not a Kemendagri region code such as 16 or 16.06", field="regionsServed")
    assert name is not None
    assert number is not None
    return replace(org, name=name, accreditation_number=number, contact=contact,
                   regions_served=tuple(dict.fromkeys(org.regions_served)))  # fmt: skip
