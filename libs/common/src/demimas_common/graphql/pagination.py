"""Relay-style pagination with opaque keyset cursors. Ids stay plain UUIDs; a cursor encodes the sort key of an
edge (base64url of JSON), so the next page is an index range scan, never an OFFSET."""

from __future__ import annotations

import base64
import binascii

import orjson

from demimas_common.errors import BadUserInput

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "decode_cursor", "encode_cursor", "validate_first"]

DEFAULT_PAGE = 50
MAX_PAGE = 500
Scalar = str | int | float | bool | None


def encode_cursor(values: tuple[Scalar, ...]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "after") -> tuple[Scalar, ...]:
    if len(cursor) > 512:
        raise BadUserInput(f"{field} is not a cursor of this list", field=field)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadUserInput(f"{field} is not a cursor of this list", field=field) from None
    if not isinstance(values, list) or not values:
        raise BadUserInput(f"{field} is not a cursor of this list", field=field)
    return tuple(values)


def validate_first(first: int | None, *, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int:
    if first is None:
        return default
    if first < 1 or first > maximum:
        raise BadUserInput(f"first must be between 1 and {maximum}", field="first")
    return first
