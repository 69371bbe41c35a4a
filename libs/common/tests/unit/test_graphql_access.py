"""The subgraphs' own access rules (graphql/access.py) on a small schema, no I/O: scopes from the same declarations
that print the SDL, type-level declarations, `_entities`, and the region filter for one object, lists, connection
edges, awaitables and non-nullable positions."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry

from demimas_common.auth.principal import Agency, Principal
from demimas_common.graphql.access import ANYWHERE
from demimas_common.graphql.context import RequestContext
from demimas_common.graphql.schema import build_schema

CODES = {"a": "16.06.13.2001", "b": "33.07.03.2011", "u": None, "x": ANYWHERE}


async def _later(value: str | None) -> str | None:
    await asyncio.sleep(0)
    return value


@strawberry.federation.type(keys=["id"], requires_scopes=[["pillars:read"]])
class Thing:
    id: strawberry.ID

    def region_code(self, info: Any) -> Any:
        code = CODES[str(self.id)]
        return _later(code) if str(self.id) == "b" and info.context.loaders.get("slow") else code

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Thing:
        return cls(id=id)

    @strawberry.federation.field(requires_scopes=[["pii:read"], ["family:read"]])
    def secret(self) -> str | None:
        return "s"


@strawberry.type
class ThingEdge:
    cursor: str
    node: Thing


@strawberry.type
class ThingConnection:
    edges: list[ThingEdge]


@strawberry.type
class Holder:
    @strawberry.field
    def must(self) -> Thing:
        return Thing(id=strawberry.ID("b"))


@strawberry.type
class Query:
    @strawberry.field
    def thing(self, id: strawberry.ID) -> Thing | None:
        return Thing(id=id)

    @strawberry.field
    async def later(self, id: strawberry.ID) -> Thing | None:
        return Thing(id=id)

    @strawberry.field
    def things(self) -> list[Thing] | None:
        return [Thing(id=strawberry.ID(i)) for i in CODES]

    @strawberry.field
    def page(self) -> ThingConnection | None:
        return ThingConnection(edges=[ThingEdge(cursor=i, node=Thing(id=strawberry.ID(i))) for i in CODES])

    @strawberry.field
    def holder(self) -> Holder | None:
        return Holder()

    @strawberry.field
    def hello(self) -> str | None:
        return "hi"


schema = build_schema(query=Query, types=[Thing])


def caller(scopes: str = "pillars:read pii:read", region: str | None = None) -> Principal:
    return Principal("t", Agency.KP2MI, frozenset(scopes.split()), region)


async def run(query: str, principal: Principal | None, **loaders: Any) -> tuple[Any, list[tuple[Any, Any]]]:
    context = RequestContext(principal)
    context.loaders.update(loaders)
    result = await schema.execute(query, context_value=context)
    errors = [(e.path, (e.extensions or {}).get("code")) for e in result.errors or ()]
    return result.data, errors


async def test_root_fields_need_a_caller_even_when_they_declare_nothing() -> None:
    data, errors = await run("{ hello }", None)
    assert data == {"hello": None}
    assert errors == [(["hello"], "UNAUTHENTICATED")]
    assert (await run("{ hello }", caller("")))[0] == {"hello": "hi"}


async def test_a_type_level_declaration_guards_every_field_returning_the_type() -> None:
    data, errors = await run('{ thing(id: "a") { id } things { id } }', caller("stats:read"))
    assert data == {"thing": None, "things": None}
    assert sorted(errors) == [(["thing"], "FORBIDDEN"), (["things"], "FORBIDDEN")]


async def test_a_field_declaration_is_any_of_its_groups() -> None:
    assert (await run('{ thing(id: "a") { secret } }', caller("pillars:read family:read")))[0] == {
        "thing": {"secret": "s"}
    }
    data, errors = await run('{ thing(id: "a") { secret } }', caller("pillars:read"))
    assert data == {"thing": {"secret": None}}
    assert errors == [(["thing", "secret"], "FORBIDDEN")]


async def test_entities_need_a_caller_and_the_type_level_scopes() -> None:
    query = '{ _entities(representations: [{__typename: "Thing", id: "a"}]) { ... on Thing { id } } }'
    assert (await run(query, None))[1] == [(["_entities"], "UNAUTHENTICATED")]
    data, errors = await run(query, caller("stats:read"))
    assert data == {"_entities": [None]}
    assert errors == [(["_entities", 0], "FORBIDDEN")]
    assert (await run(query, caller()))[0] == {"_entities": [{"id": "a"}]}


async def test_outside_the_region_an_object_is_invisible_however_it_is_reached() -> None:
    here = caller(region="16.06")
    query = """{ a: thing(id: "a") { id } b: thing(id: "b") { id } lb: later(id: "b") { id }
                 things { id } page { edges { cursor } }
                 _entities(representations: [{__typename: "Thing", id: "b"}, {__typename: "Thing", id: "a"}])
                   { ... on Thing { id } } }"""
    for slow in (False, True):
        data, errors = await run(query, here, slow=slow)
        assert errors == []
        assert data == {
            "a": {"id": "a"},
            "b": None,
            "lb": None,
            "things": [{"id": "a"}, {"id": "x"}],  # b elsewhere, u unknown: left out; x holds nothing of a region
            "page": {"edges": [{"cursor": "a"}, {"cursor": "x"}]},
            "_entities": [None, {"id": "a"}],
        }


async def test_a_national_caller_sees_everything() -> None:
    data, _ = await run("{ things { id } }", caller())
    assert data == {"things": [{"id": i} for i in CODES]}


async def test_in_a_non_nullable_position_an_invisible_object_is_not_found() -> None:
    data, errors = await run("{ holder { must { id } } }", caller(region="16"))
    assert data == {"holder": None}
    assert errors == [(["holder", "must"], "NOT_FOUND")]
