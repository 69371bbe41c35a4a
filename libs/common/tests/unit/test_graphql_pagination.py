"""Keyset cursors, page sizes and the generic connection."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
import strawberry

from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import BadUserInput
from demimas_common.graphql.context import RequestContext
from demimas_common.graphql.pagination import Connection, decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.schema import build_schema

# Root fields need a caller (graphql/access.py): these tests run as one.
CALLER = RequestContext(Principal("test", Agency.KP2MI, frozenset()))


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(("16.06.13.2001", 7)), length=2) == ("16.06.13.2001", 7)


def test_cursor_of_ids_and_times() -> None:
    worker_id = uuid.UUID("0196a0e4-7c4b-7d0e-9a4a-3f3b8f1c2d11")
    when = dt.datetime(2026, 1, 10, 8, 30, tzinfo=dt.UTC)
    assert decode_cursor(encode_cursor((when, worker_id)), length=None) == ("2026-01-10T08:30:00+00:00", str(worker_id))


def test_cursors_are_url_safe() -> None:
    cursor = encode_cursor(("??>>~~", 2**40))
    assert cursor.replace("-", "").replace("_", "").isalnum()


@pytest.mark.parametrize(
    "garbage",
    [
        "!!!",
        "bm90IGpzb24",  # base64 of "not json"
        encode_cursor(()),
        "x" * 600,
        "eyJhIjoxfQ",  # {"a":1}
        encode_cursor((["nested"],)),  # type: ignore[arg-type]
        "",
        encode_cursor(("a\x00b",)),  # PostgreSQL text cannot hold NUL
        base64.urlsafe_b64encode(b'["\\ud800"]').decode(),  # a lone surrogate, which orjson refuses
        encode_cursor((2**63,)),  # beyond bigint
        "\ud800",
        "é" * 10,
    ],
)
def test_garbage_cursors(garbage: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        decode_cursor(garbage, length=None)
    assert caught.value.field == "after"
    assert caught.value.code == "BAD_USER_INPUT"


def test_a_cursor_of_another_list_is_refused() -> None:
    with pytest.raises(BadUserInput, match="before is not a cursor"):
        decode_cursor(encode_cursor(("a", 1)), "before", length=1)


@pytest.mark.parametrize("values", [("a",), ("a", "b", "c"), ("a", "b", "c", "d")])
def test_a_cursor_of_another_length_is_refused(values: tuple[str, ...]) -> None:
    with pytest.raises(BadUserInput) as caught:
        decode_cursor(encode_cursor(values), length=2)
    assert caught.value.field == "after"


def test_the_length_must_be_stated() -> None:
    """A decoder that forgot the shape of its cursors once unpacked a 2-element cursor into a 500."""
    with pytest.raises(TypeError):
        decode_cursor(encode_cursor(("a",)))  # type: ignore[call-arg]


def test_extreme_but_storable_values_pass() -> None:
    assert decode_cursor(encode_cursor((2**63 - 1, -(2**63), "ü")), length=3) == (2**63 - 1, -(2**63), "ü")


@pytest.mark.parametrize("first", [0, -1, 501])
def test_page_size_bounds(first: int) -> None:
    with pytest.raises(BadUserInput) as caught:
        validate_first(first)
    assert caught.value.field == "first"


def test_page_size_default_and_maximum() -> None:
    assert validate_first(None) == 50
    assert validate_first(None, default=10) == 10
    assert validate_first(1000, maximum=1000) == 1000


@dataclass
class Row:
    code: str


@strawberry.type
class Village:
    code: str


COUNTED: list[int] = []


async def count() -> int:
    COUNTED.append(1)
    return 3


@strawberry.type
class Query:
    @strawberry.field
    def villages(self, first: int | None = None, after: str | None = None) -> Connection[Village]:
        size = validate_first(first)
        rows = [Row("16.06.13.2001"), Row("16.06.13.2002"), Row("16.06.13.2003")]
        start = str(decode_cursor(after, length=1)[0]) if after else ""
        page = [r for r in rows if r.code > start][: size + 1]
        return Connection.from_rows(
            page,
            first=size,
            cursor=lambda r: (r.code,),
            node=lambda r: Village(code=r.code),
            after=after,
            count_total=count,
        )


schema = build_schema(query=Query)
PAGE = """query($after: String) { villages(first: 2, after: $after) {
    edges { cursor node { code } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } %s } }"""


async def test_connection_pages_forward() -> None:
    first = await schema.execute(PAGE % "", variable_values={}, context_value=CALLER)
    assert first.errors is None
    assert first.data is not None
    page = first.data["villages"]
    assert [e["node"]["code"] for e in page["edges"]] == ["16.06.13.2001", "16.06.13.2002"]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    second = await schema.execute(
        PAGE % "totalCount", variable_values={"after": page["pageInfo"]["endCursor"]}, context_value=CALLER
    )
    assert second.data is not None
    rest = second.data["villages"]
    assert [e["node"]["code"] for e in rest["edges"]] == ["16.06.13.2003"]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)
    assert rest["totalCount"] == 3


async def test_total_count_costs_nothing_unless_selected() -> None:
    COUNTED.clear()
    await schema.execute(PAGE % "", variable_values={}, context_value=CALLER)
    assert COUNTED == []


def test_connection_type_names_follow_the_node() -> None:
    sdl = schema.as_str()
    assert "type VillageConnection {" in sdl
    assert "type VillageEdge {" in sdl
    assert "totalCount: Int" in sdl
    assert "type PageInfo @shareable {" in sdl
