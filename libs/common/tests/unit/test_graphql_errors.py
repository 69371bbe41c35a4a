"""Errors leave a subgraph with a stable code; unexpected ones say nothing and are logged once."""

from __future__ import annotations

import logging

import pytest
import strawberry
from pydantic import BaseModel, Field

from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import BadUserInput, NotFound
from demimas_common.graphql.context import RequestContext
from demimas_common.graphql.schema import build_schema

# Root fields need a caller (graphql/access.py): these tests run as one.
CALLER = RequestContext(Principal("test", Agency.KP2MI, frozenset()))


class VillageInput(BaseModel):
    code: str = Field(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")


@strawberry.type
class Query:
    @strawberry.field
    def bad(self) -> str | None:
        raise BadUserInput("villageCode is wrong", field="villageCode")

    @strawberry.field
    async def missing(self) -> str | None:
        raise NotFound("no village 16.06.13.2001", villageCode="16.06.13.2001")

    @strawberry.field
    def broken(self) -> str | None:
        return str(1 / 0)

    @strawberry.field
    def leaky(self) -> str | None:
        raise RuntimeError("connection to 10.0.0.5 refused for NIK 3201014508950001")

    @strawberry.field
    def pydantic(self, code: str) -> str | None:
        return VillageInput(code=code).code

    @strawberry.field
    def page(self, first: int) -> int:
        return first

    @strawberry.field
    def non_null(self) -> str:
        return None  # type: ignore[return-value]


schema = build_schema(query=Query)


async def one_error(query: str, variables: dict[str, object] | None = None) -> tuple[str, dict[str, object]]:
    result = await schema.execute(query, variable_values=variables, context_value=CALLER)
    assert result.errors is not None
    (error,) = result.errors
    assert error.extensions is not None
    return error.message, error.extensions


async def test_domain_errors_keep_message_code_and_field() -> None:
    result = await schema.execute("{ bad }", context_value=CALLER)
    assert result.errors is not None
    (error,) = result.errors
    assert (error.message, error.extensions, error.path) == (
        "villageCode is wrong",
        {"code": "BAD_USER_INPUT", "field": "villageCode"},
        ["bad"],
    )
    assert error.formatted["locations"] == [{"line": 1, "column": 3}]


async def test_details_travel_in_extensions() -> None:
    assert await one_error("{ missing }") == (
        "no village 16.06.13.2001",
        {"code": "NOT_FOUND", "villageCode": "16.06.13.2001"},
    )


@pytest.mark.parametrize("field", ["broken", "leaky", "nonNull"])
async def test_unexpected_errors_are_internal_and_say_nothing(field: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="demimas.graphql"):
        message, extensions = await one_error(f"query Look {{ {field} }}")
    assert (message, extensions) == ("internal error", {"code": "INTERNAL"})
    (record,) = caplog.records  # logged once, with the traceback, for the people who can fix it
    assert record.exc_info is not None
    assert f"at {field} in Look" in record.getMessage()


async def test_expected_errors_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await schema.execute("{ bad missing }", context_value=CALLER)
        await schema.execute("{ nope }", context_value=CALLER)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_pydantic_validation_is_bad_input() -> None:
    message, extensions = await one_error('{ pydantic(code: "16.6") }')
    assert extensions == {"code": "BAD_USER_INPUT", "field": "code"}
    assert message.startswith("code: String should match pattern")


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ nope", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("{ page(first: 99999999999) }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query($first: Int!) { page(first: $first) }", {"first": "ten"}, "BAD_USER_INPUT"),
        ("query($first: Int!) { page(first: $first) }", {}, "BAD_USER_INPUT"),
    ],
)
async def test_graphql_core_errors_keep_their_message_and_get_a_code(
    query: str, variables: dict[str, object] | None, code: str
) -> None:
    message, extensions = await one_error(query, variables)
    assert extensions["code"] == code
    assert message != "internal error"
    if code == "BAD_USER_INPUT":
        assert extensions["field"] == "first"
        assert message.startswith("Variable '$first'")


async def test_parse_errors_are_shaped_on_a_cached_parser_too() -> None:
    """The second time, the parser cache raises the syntax error from inside an extension hook."""
    for _ in range(2):
        assert (await one_error("{ nope"))[1] == {"code": "GRAPHQL_PARSE_FAILED"}


def test_sync_execution_is_shaped_too() -> None:
    result = schema.execute_sync("{ broken }", context_value=CALLER)
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "INTERNAL"}
