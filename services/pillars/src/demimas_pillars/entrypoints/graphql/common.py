"""What the pillars subgraph's types share: the resolver's `Info`, the scopes they ask for, ids and cursors."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.types import Info

from demimas_common.errors import BadUserInput
from demimas_common.graphql.pagination import decode_cursor
from demimas_pillars.entrypoints.graphql.context import PillarsContext
from demimas_pillars.entrypoints.graphql.enums import OutputKindEnum

__all__ = ["PERSON", "PILOT_READ", "READ", "Ctx", "OutputValue", "date_cursor", "parse_id"]

Ctx = Info[PillarsContext, None]
READ, PILOT_READ = [["pillars:read"]], [["pilot:read"]]
PERSON = [["registry:read"]]  # who a person is: the registry's rule, wherever pillars hands out a person


def parse_id(value: strawberry.ID | str, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadUserInput(f"{field} must be a UUID", field=field) from None


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
