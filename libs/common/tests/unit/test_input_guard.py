"""The input guard every subgraph schema runs (`input_guard`): NUL and lone surrogates anywhere in an operation's
input, and `_entities` representations that do not match a key, are BAD_USER_INPUT naming the path; resolvers never
see them."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import parse

from demimas_common.auth.principal import Agency, Principal
from demimas_common.graphql.context import RequestContext
from demimas_common.graphql.schema import build_schema
from demimas_common.graphql.unstorable_text import document_problem, text_problem, value_problem

SEEN: list[object] = []


@strawberry.input
class Line:
    title: str
    tags: list[str] | None = None


@strawberry.input
class Plan:
    name: str
    lines: list[Line]


@strawberry.federation.type(keys=["code"])
class Village:
    code: str

    @classmethod
    def resolve_reference(cls, code: str) -> Village:
        SEEN.append(code)
        return cls(code=code)


@strawberry.federation.type(keys=["id", "village { code }"])
class Pilot:
    id: strawberry.ID
    village: Village

    @classmethod
    def resolve_reference(cls, id: strawberry.ID | None = None, village: Any = None) -> Pilot:
        SEEN.append(id or village)
        return cls(id=id or strawberry.ID("?"), village=Village(code="16.06.13.2001"))


@strawberry.federation.type(keys=["id"])
class Decree:
    """No resolve_reference, and a field no representation carries: strawberry cannot make one by reference."""

    id: strawberry.ID
    number: str


@strawberry.federation.type(keys=["id"])
class Stub:
    """No resolve_reference, but strawberry makes one from its key alone."""

    id: strawberry.ID


@strawberry.type
class Query:
    @strawberry.field
    def villages(self, region_prefix: str | None = None, ids: list[strawberry.ID] | None = None) -> list[str]:
        SEEN.append((region_prefix, ids))
        return []


@strawberry.type
class Mutation:
    @strawberry.mutation
    def plan(self, plan: Plan) -> str:
        SEEN.append(plan)
        return plan.name


schema = build_schema(query=Query, mutation=Mutation, types=[Village, Pilot, Decree, Stub])
ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
# Root fields and _entities need a caller (graphql/access.py): these tests run as one.
CALLER = RequestContext(Principal("test", Agency.KP2MI, frozenset()))


async def refused(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    SEEN.clear()
    result = await schema.execute(query, variable_values=variables, context_value=CALLER)
    assert result.errors is not None, result.data
    [error] = result.errors
    assert SEEN == [], "a resolver ran"
    assert result.data is None
    assert error.extensions is not None
    assert error.extensions["code"] == "BAD_USER_INPUT", error.message
    return {"message": error.message, **error.extensions}


@pytest.mark.parametrize("bad", ["16\x00", "\x00", "16.\ud800", "\udfff"])
class TestText:
    async def test_in_a_variable(self, bad: str) -> None:
        error = await refused("query($p: String) { villages(regionPrefix: $p) }", {"p": bad})
        assert error["field"] == "p"

    async def test_deep_in_an_input_variable(self, bad: str) -> None:
        plan = {"name": "p", "lines": [{"title": "ok"}, {"title": "ok", "tags": ["a", bad]}]}
        error = await refused("mutation($plan: Plan!) { plan(plan: $plan) }", {"plan": plan})
        assert error["field"] == "plan.lines.1.tags.1"

    async def test_in_a_key_of_a_variable(self, bad: str) -> None:
        error = await refused("mutation($plan: Plan!) { plan(plan: $plan) }", {"plan": {bad: 1}})
        assert error["field"] == "plan"
        assert "has a key" in error["message"]

    async def test_in_a_list_of_ids(self, bad: str) -> None:
        error = await refused("query($ids: [ID!]) { villages(ids: $ids) }", {"ids": ["a", bad]})
        assert error["field"] == "ids.1"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('{ villages(regionPrefix: "16\\u0000") }', "regionPrefix"),
        ('{ villages(ids: ["1", "\\u0000"]) }', "ids.1"),
        ('{ villages(regionPrefix: """a\x00b""") }', "regionPrefix"),
        ('mutation { plan(plan: {name: "n", lines: [{title: "\\u0000"}]}) }', "plan.lines.0.title"),
        ('query($p: String = "\\u0000") { villages(regionPrefix: $p) }', "p"),
        ('query { ...F } fragment F on Query { villages(regionPrefix: "\\u0000") }', "regionPrefix"),
    ],
)
async def test_nul_in_a_literal(query: str, field: str) -> None:
    error = await refused(query)
    assert error["field"] == field
    assert "NUL" in error["message"]


async def test_clean_text_goes_through() -> None:
    SEEN.clear()
    result = await schema.execute(
        "query($p: String) { villages(regionPrefix: $p) }",
        variable_values={"p": "16.06 Lampung Timur 😀 é"},
        context_value=CALLER,
    )
    assert result.errors is None
    assert SEEN == [("16.06 Lampung Timur 😀 é", None)]


@pytest.mark.parametrize(
    ("representation", "field", "says"),
    [
        ({"__typename": "Village", "code": "1", "name": "x"}, "representations.0.name", "not in Village's @key"),
        ({"__typename": "Village", "code": 5}, "representations.0.code", "type String"),
        ({"__typename": "Village", "code": {"a": 1}}, "representations.0.code", "type String"),
        ({"__typename": "Village", "code": None}, "representations.0", "every field"),
        ({"__typename": "Village"}, "representations.0", "every field"),
        ({"__typename": "Nope", "code": "1"}, "representations.0.__typename", "entity type"),
        ({"__typename": 5, "code": "1"}, "representations.0.__typename", "entity type"),
        ({"code": "1"}, "representations.0.__typename", "entity type"),
        ({"__typename": ["Village"], "code": "1"}, "representations.0.__typename", "entity type"),
        ("Village", "representations.0", "must be an object"),
        (None, "representations.0", "must be an object"),
        ({"__typename": "Pilot", "id": 7}, "representations.0.id", "type ID"),
        ({"__typename": "Pilot", "village": {"code": "1", "x": 1}}, "representations.0.village.x", "key"),
        ({"__typename": "Pilot", "village": "1"}, "representations.0.village", "an object"),
        ({"__typename": "Village", "code": "a\x00"}, "r.0.code", "NUL"),
    ],
)
async def test_representations_that_match_no_key(representation: Any, field: str, says: str) -> None:
    error = await refused(ENTITIES, {"r": [{"__typename": "Village", "code": "ok"}, representation]})
    assert error["field"] == field.replace(".0", ".1", 1)
    assert says in error["message"]


async def test_a_literal_representation_is_checked_too() -> None:
    literal = '[{__typename: "Village", code: "1", extra: 2}]'
    error = await refused(f"{{ _entities(representations: {literal}) {{ __typename }} }}")
    assert error["field"] == "representations.0.extra"


async def test_well_formed_representations_resolve() -> None:
    SEEN.clear()
    representations = [
        {"__typename": "Village", "code": "16.06.13.2001"},
        {"__typename": "Pilot", "id": "p1"},
        {"__typename": "Pilot", "village": {"code": "16.06.13.2001"}},
    ]
    result = await schema.execute(ENTITIES, variable_values={"r": representations}, context_value=CALLER)
    assert result.errors is None
    assert SEEN == ["16.06.13.2001", "p1", {"code": "16.06.13.2001"}]


@pytest.mark.parametrize(
    "clean",
    [
        "a backslash then u0000: \\u0000",  # what orjson writes for NUL, as text: the slow walk clears it
        {1: "a non-string key orjson cannot write"},
        2**70,  # beyond orjson's integers
        ["é", {"nested": ["\t\u0001"]}],
    ],
)
def test_the_fast_path_never_refuses_clean_values(clean: Any) -> None:
    assert value_problem({"v": clean}) is None


def test_a_nul_after_non_ascii_text_in_a_literal_is_found() -> None:
    document = parse('{ villages(regionPrefix: "Lampung é\u0000") }')
    problem = document_problem(document)
    assert problem is not None
    assert problem.field == "regionPrefix"


async def test_a_key_type_that_cannot_be_fetched_by_reference_is_no_entity() -> None:
    error = await refused(ENTITIES, {"r": [{"__typename": "Decree", "id": "d1"}]})
    assert error["field"] == "representations.0.__typename"
    assert "(Pilot, Stub, Village)" in error["message"]
    result = await schema.execute(
        ENTITIES, variable_values={"r": [{"__typename": "Stub", "id": "s1"}]}, context_value=CALLER
    )
    assert result.errors is None
    assert result.data == {"_entities": [{"__typename": "Stub"}]}


def test_text_problem() -> None:
    assert text_problem("Lampung Timur 😀") is None
    assert text_problem("a\x00") == "a NUL character (U+0000)"
    assert text_problem("\ud83d\ude00") is not None  # a pair of surrogate code points is no character either
