"""Ids in GraphQL arguments: plain UUIDs (no Relay global ids), refused as bad input rather than failing as a 500."""

from __future__ import annotations

import uuid

import strawberry

from demimas_common.errors import BadUserInput

__all__ = ["parse_uuid"]


def parse_uuid(value: strawberry.ID | str, field: str = "id") -> uuid.UUID:
    """The UUID an id argument holds; `BadUserInput` on `field` when it holds none."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadUserInput(f"{field} must be a UUID", field=field) from None
