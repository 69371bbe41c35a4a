"""Cursors, page sizes and error shaping."""

from __future__ import annotations

import pytest
import strawberry

from demimas_common.errors import BadUserInput
from demimas_common.graphql.pagination import decode_cursor, encode_cursor, validate_first
from demimas_common.graphql.schema import build_schema


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(("16.06.13.2001", 7))) == ("16.06.13.2001", 7)


@pytest.mark.parametrize("garbage", ["!!!", "bm90IGpzb24", encode_cursor(()), "x" * 600])
def test_garbage_cursors(garbage: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        decode_cursor(garbage)
    assert caught.value.field == "after"


@pytest.mark.parametrize("first", [0, -1, 501])
def test_page_size_bounds(first: int) -> None:
    with pytest.raises(BadUserInput):
        validate_first(first)


@strawberry.type
class Query:
    @strawberry.field
    def bad(self) -> str | None:
        raise BadUserInput("villageCode is wrong", field="villageCode")

    @strawberry.field
    def broken(self) -> str | None:
        return str(1 / 0)


schema = build_schema(query=Query)


async def test_domain_errors_keep_code_and_field() -> None:
    result = await schema.execute("{ bad }")
    assert result.errors is not None
    (error,) = result.errors
    assert error.extensions == {"code": "BAD_USER_INPUT", "field": "villageCode"}
    assert error.message == "villageCode is wrong"


async def test_unexpected_errors_are_internal_and_say_nothing() -> None:
    result = await schema.execute("{ broken }")
    assert result.errors is not None
    (error,) = result.errors
    assert error.extensions == {"code": "INTERNAL"}
    assert "division" not in error.message


async def test_validation_errors_have_a_code() -> None:
    result = await schema.execute("{ nope }")
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}
