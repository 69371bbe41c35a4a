"""What the pillars subgraph's types share: the resolver's `Info`, the scopes they ask for, ids and cursors."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import strawberry
from strawberry.types import Info

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput
from demimas_common.graphql.ids import parse_uuid as parse_id
from demimas_common.graphql.pagination import decode_cursor
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.enums import OutputKindEnum

__all__ = ["PERSON", "PILOT_READ", "READ", "Ctx", "OutputValue", "date_cursor", "parse_id", "shown_village"]

Ctx = Info[PillarsContext, None]
READ, PILOT_READ = [["pillars:read"]], [["pilot:read"]]
PERSON = [["registry:read"]]  # who a person is: the registry's rule, wherever pillars hands out a person


@strawberry.type
class OutputValue:
    kind: OutputKindEnum  # type: ignore[valid-type]
    value: int


def date_cursor(after: str | None) -> tuple[dt.date, uuid.UUID] | None:
    if after is None:
        return None
    day, raw = decode_cursor(after, length=2)
    try:
        return dt.date.fromisoformat(str(day)), uuid.UUID(str(raw))
    except ValueError:
        raise BadUserInput("after is not a cursor of this list", field="after") from None


def shown_village(villages: Sequence[str], principal: Principal | None) -> str:
    """Where a pilot (villages: the lead first) is for this caller: the lead village, unless the caller's region
    leaves it out; then the first of the pilot's villages inside that region (the pilot is visible through it). When
    none is inside, the lead: the region rule then hides the pilot."""
    if principal is None or principal.region is None:
        return villages[0]
    return next((code for code in villages if principal.covers(code)), villages[0])
