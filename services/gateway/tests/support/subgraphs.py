"""Small in-process subgraphs for the gateway's tests: a Federation 2 subgraph SDL plus Python resolvers, served
over real HTTP by uvicorn on a free port (the gateway talks to it exactly as to a production subgraph).

    graph = MiniSubgraph("products", SDL, root={"topProducts": lambda args: [...]},
                         entities={"Product": lambda rep: {...}})
    async with serve_subgraphs([graph, ...]) as urls: ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
import uvicorn
from graphql import (
    GraphQLAbstractType,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    graphql,
)

from demimas_common.devstack.ports import free_port

__all__ = ["FEDERATION_PRELUDE", "MiniSubgraph", "serve_subgraphs"]

_LOCATIONS = (
    "FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT"
    " | INPUT_FIELD_DEFINITION"
)
FEDERATION_PRELUDE = f"""
scalar _Any
scalar FieldSet
scalar link__Import
enum link__Purpose {{ SECURITY EXECUTION }}
directive @link(url: String!, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @external on FIELD_DEFINITION | OBJECT
directive @requires(fields: FieldSet!) on FIELD_DEFINITION
directive @provides(fields: FieldSet!) on FIELD_DEFINITION
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
directive @inaccessible on {_LOCATIONS}
directive @override(from: String!, label: String) on FIELD_DEFINITION
directive @interfaceObject on OBJECT
directive @tag(name: String!) repeatable on {_LOCATIONS}
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
type _Service {{ sdl: String }}
"""

Resolver = Callable[..., Any]


class MiniSubgraph:
    """A subgraph from SDL: `root` resolvers per root field (called with the field's arguments and the request
    headers), `entities` per type (called with one representation; return the object or None)."""

    def __init__(
        self,
        name: str,
        sdl: str,
        *,
        root: Mapping[str, Resolver] | None = None,
        mutations: Mapping[str, Resolver] | None = None,
        entities: Mapping[str, Callable[[dict[str, Any]], Any]] | None = None,
        fields: Mapping[str, Resolver] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.name = name
        self.sdl = sdl
        self.entities = dict(entities or {})
        self.requests: list[dict[str, Any]] = []
        self.delay = delay
        self.raw_response: tuple[int, bytes, str] | None = None
        self.hang = False
        sdl_body = "\n".join(line for line in sdl.splitlines() if not line.startswith("extend schema"))
        base = sdl_body if "type Query" in sdl_body else sdl_body + "\ntype Query { _dummy: String }"
        base = base.replace("type Query", "extend type Query", 1) if "extend type Query" not in base else base
        probe = build_schema(FEDERATION_PRELUDE + "type Query { _service: _Service! }\n" + base, assume_valid_sdl=True)
        objects = [name for name in self.entities if isinstance(probe.type_map.get(name), GraphQLObjectType)]
        objects += [  # implementations of entity interfaces resolved here
            t.name
            for name in self.entities
            if isinstance(probe.type_map.get(name), GraphQLAbstractType)
            for t in probe.get_possible_types(probe.type_map[name])  # type: ignore[arg-type]
            if t.name not in objects
        ]
        entity_union = " | ".join(dict.fromkeys(objects)) if objects else None
        extra = "type Query { _service: _Service!" + (
            " _entities(representations: [_Any!]!): [_Entity]!" if entity_union else ""
        )
        extra += " }"
        if entity_union:
            extra = f"union _Entity = {entity_union}\n" + extra
        document = FEDERATION_PRELUDE + extra + "\n" + base
        self.schema: GraphQLSchema = build_schema(document, assume_valid_sdl=True)
        for type_ in self.schema.type_map.values():
            if isinstance(type_, GraphQLAbstractType):
                type_.resolve_type = _resolve_type
        query = self.schema.query_type
        assert query is not None
        _set(query, "_service", lambda *_: {"sdl": sdl})
        if entity_union:
            _set(query, "_entities", self._resolve_entities)
        for name_, fn in (root or {}).items():
            _set(query, name_, _root(fn))
        if mutations:
            mutation = self.schema.mutation_type
            assert mutation is not None
            for name_, fn in mutations.items():
                _set(mutation, name_, _root(fn))
        for path, fn in (fields or {}).items():
            type_name, field_name = path.split(".")
            owner = self.schema.type_map[type_name]
            assert isinstance(owner, GraphQLObjectType)
            _set(owner, field_name, _field(fn))

    def _resolve_entities(self, _root: Any, info: Any, representations: list[dict[str, Any]]) -> list[Any]:
        out = []
        for rep in representations:
            resolver = self.entities.get(rep.get("__typename", ""))
            obj = resolver(rep) if resolver else None
            if isinstance(obj, dict) and "__typename" not in obj:
                obj = {"__typename": rep["__typename"], **obj}
            out.append(obj)
        return out

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        request = orjson.loads(body) if body else {}
        self.requests.append({"body": request, "headers": headers})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hang:
            await asyncio.sleep(3600)
        if self.raw_response is not None:
            status, raw, media = self.raw_response
        else:
            result = await graphql(
                self.schema,
                request.get("query", ""),
                variable_values=request.get("variables"),
                operation_name=request.get("operationName"),
                context_value={"headers": headers},
            )
            out: dict[str, Any] = {"data": result.data}
            if result.errors:
                out["errors"] = [e.formatted for e in result.errors]
            status, raw, media = 200, orjson.dumps(out), "application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", media.encode()), (b"content-length", str(len(raw)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": raw})


def _resolve_type(value: Any, *_: Any) -> str | None:
    return value.get("__typename") if isinstance(value, dict) else None


def _set(owner: GraphQLObjectType, name: str, resolver: Resolver) -> None:
    field: GraphQLField | None = owner.fields.get(name)
    if field is None:
        raise KeyError(f"{owner.name}.{name} is not in the subgraph's SDL")
    field.resolve = resolver


def _root(fn: Resolver) -> Resolver:
    def resolve(_root: Any, info: Any, **args: Any) -> Any:
        return fn(args)

    return resolve


def _field(fn: Resolver) -> Resolver:
    def resolve(parent: Any, info: Any, **args: Any) -> Any:
        return fn(parent, args)

    return resolve


@asynccontextmanager
async def serve_subgraphs(graphs: Sequence[MiniSubgraph]) -> AsyncIterator[dict[str, str]]:
    """Serves each subgraph on its own free port; yields {name: url}."""
    servers: list[uvicorn.Server] = []
    tasks: list[asyncio.Task[None]] = []
    urls: dict[str, str] = {}
    try:
        for graph in graphs:
            port = free_port()
            config = uvicorn.Config(graph, host="127.0.0.1", port=port, log_level="error", lifespan="off")
            server = uvicorn.Server(config)
            servers.append(server)
            tasks.append(asyncio.create_task(server.serve()))
            urls[graph.name] = f"http://127.0.0.1:{port}/graphql"
        for server in servers:
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
                await asyncio.sleep(0.01)
        yield urls
    finally:
        for server in servers:
            server.should_exit = True
            server.force_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
