"""Relay-style connections (`first`/`after`, `edges`, `pageInfo`, `totalCount`) over keyset cursors.

Ids stay plain UUIDs (no Relay global ids). A cursor is the sort key of its edge, e.g. `(village_code, id)`, as
base64url of JSON: opaque to callers, and the next page is an index range scan (`WHERE (code, id) > (...)`),
never an OFFSET. A resolver fetches `first + 1` rows and hands them to `Connection.from_rows`, which knows from the
extra row whether there is a next page.

`totalCount` is a field resolver over a stored async callable: a COUNT runs only when a caller selects it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import orjson
import strawberry

from demimas_common.errors import BadUserInput
from demimas_common.graphql.types import PageInfo
from demimas_common.graphql.unstorable_text import text_problem

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "Connection",
    "CursorValue",
    "Edge",
    "decode_cursor",
    "encode_cursor",
    "validate_first",
]

DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_CURSOR_LENGTH = 512
Scalar = str | int | float | bool | None
CursorValue = Scalar | uuid.UUID | dt.datetime | dt.date
"""What a cursor may hold; UUIDs and dates come back as their ISO strings."""

T = TypeVar("T")
R = TypeVar("R")


def encode_cursor(values: tuple[CursorValue, ...]) -> str:
    # default=str: asyncpg hands back its own UUID type, which orjson does not know
    return base64.urlsafe_b64encode(orjson.dumps(list(values), default=str)).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "after", *, length: int | None) -> tuple[Scalar, ...]:
    """The values `encode_cursor` was given; `BadUserInput` on anything else.

    `length` is the number of values this list's cursors hold (None: any), required so that no caller unpacks a
    cursor of another shape into a `ValueError` (a 500). Strings with a NUL or a lone surrogate and integers outside
    PostgreSQL's bigint are refused too: no cursor this service made holds them, and the database would fail on them.
    """
    refused = BadUserInput(f"{field} is not a cursor of this list; pass an endCursor you were given", field=field)
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise refused
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):  # orjson.JSONDecodeError is a ValueError, and so is non-ASCII input
        raise refused from None
    if not isinstance(values, list) or not values or (length is not None and len(values) != length):
        raise refused
    if not all(_storable(value) for value in values):
        raise refused
    return tuple(values)


def _storable(value: object) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and text_problem(value) is None


def validate_first(first: int | None, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int:
    if first is None:
        return default
    if first < 1 or first > maximum:
        raise BadUserInput(f"first must be between 1 and {maximum}, not {first}", field="first")
    return first


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list; ask for the next with `first` and `after: pageInfo.endCursor`.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]
    """Every connection of the API has `totalCount: Int!` (tests/test_api_conventions.py): the count to run when it
    is selected, and only then."""

    @strawberry.field(description="How many items the whole list has (costs a count: select it only when needed).")  # type: ignore[untyped-decorator]
    async def total_count(self) -> int:
        return await self.count_total()

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[R],
        *,
        first: int,
        cursor: Callable[[R], tuple[CursorValue, ...]],
        node: Callable[[R], T],
        count_total: Callable[[], Awaitable[int]],
        after: str | None = None,
    ) -> Connection[T]:
        """A page from up to `first + 1` rows in cursor order (the extra row only says that more follow)."""
        edges = [Edge(cursor=encode_cursor(cursor(row)), node=node(row)) for row in rows[:first]]
        page_info = PageInfo.of([edge.cursor for edge in edges], has_next=len(rows) > first, after=after)
        return cls(edges=edges, page_info=page_info, count_total=count_total)
