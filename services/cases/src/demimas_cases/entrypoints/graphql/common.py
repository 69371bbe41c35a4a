"""What the cases subgraph's types share: the scopes they ask for, ids and the (village code, id) cursor."""

from __future__ import annotations

import uuid

from demimas_common.errors import BadUserInput
from demimas_common.graphql.ids import parse_uuid as parse_id
from demimas_common.graphql.pagination import decode_cursor

__all__ = ["AUDIT", "FAMILY", "PERSON", "READ", "STATS", "WRITE", "parse_id", "village_cursor"]

READ, WRITE = [["case:read"]], [["case:write"]]
PERSON = [["registry:read"]]
"""Who a worker is (its id): the registry's rule, wherever a subgraph hands out a person."""
FAMILY = [["registry:read", "family:read"]]
"""Who a family member is: what reaching one through the registry needs (`worker { family }`)."""
STATS = [["case:read"], ["stats:read"]]
AUDIT = [["audit:read"]]


def village_cursor(after: str | None) -> tuple[str, uuid.UUID] | None:
    if after is None:
        return None
    code, raw = decode_cursor(after, length=2)
    try:
        return str(code), uuid.UUID(str(raw))
    except ValueError:
        raise BadUserInput("after is not a cursor of this list", field="after") from None
