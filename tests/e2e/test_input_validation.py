"""Odd input is a coded client error, never a 500 or an INTERNAL error: generated from every subgraph's schema and
sent straight to each subgraph over HTTP, then the same cases at the gateway.

- For every root field (Query and Mutation) and every String or ID position in its arguments (nested input fields
  and list items included), a NUL in a variable and in a literal is BAD_USER_INPUT naming that position, and a lone
  surrogate in the JSON variables is HTTP 400 BAD_REQUEST.
- For every entity type, `_entities` representations with an extra key, a wrong type, a missing key, an unknown
  `__typename` or no object at all are BAD_USER_INPUT at `representations.<i>...`.
- For every connection (an `after` argument on a root field or on an entity type), malformed cursors (2 or 3
  values, NUL, integers beyond bigint, not base64, ...) are BAD_USER_INPUT with `field: after`.
- Bodies that are `null`, a string, a number, a batch, invalid UTF-8 or nested 10,000 deep are 400 with a code.

A new field, input, entity or subgraph (found through `discover_services`) is covered without editing this file; a
new custom scalar or an entity type with a connection needs one entry in `SAMPLES` or `KNOWN_KEYS`, and the test
says so.
"""

from __future__ import annotations

import base64
import importlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    ListValueNode,
    ObjectTypeDefinitionNode,
    StringValueNode,
    get_named_type,
    is_composite_type,
    is_required_input_field,
    parse,
)

from demimas_common.auth.grants import DEFAULT_GRANTS, REGIONAL_AGENCIES
from demimas_common.service import discover_services
from tests.conftest import Endpoints

pytestmark = pytest.mark.integration

Path = tuple[str | int, ...]
NUL = "ok\u0000ok"
SURROGATE = "ok\ud800ok"
SAMPLES: dict[str, Any] = {  # a value graphql-core accepts for each scalar an argument may have
    "String": "x",
    "ID": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "Date": "2026-01-01",
    "DateTime": "2026-01-01T00:00:00+00:00",
    "JSON": {},
}
KNOWN_KEYS = {"Village": {"code": "16.06.13.2003"}}  # entities with connections: a key that exists in the test data


def _load(spec_schema: str) -> Any:
    module, attribute = spec_schema.split(":")
    return getattr(importlib.import_module(module), attribute)


SCHEMAS = {spec.name: _load(spec.graphql_schema) for spec in discover_services() if spec.graphql_schema}
GRAPHQL: dict[str, GraphQLSchema] = {name: schema._schema for name, schema in SCHEMAS.items()}
SDL = {name: parse(schema.as_str()) for name, schema in SCHEMAS.items()}


# --- values of a type ---------------------------------------------------------------------------------------------


def nullable(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def sample(type_: Any) -> Any:
    """A valid value of an input type with only its required parts."""
    type_ = nullable(type_)
    if isinstance(type_, GraphQLList):
        return [sample(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {name: sample(f.type) for name, f in type_.fields.items() if is_required_input_field(f)}
    assert isinstance(type_, GraphQLScalarType)
    assert type_.name in SAMPLES, f"add a sample value of the scalar {type_.name} to SAMPLES"
    return SAMPLES[type_.name]


def with_text_at(type_: Any, path: Path, text: str) -> Any:
    """A valid value of `type_` with `text` at `path` (inside input objects and lists)."""
    type_ = nullable(type_)
    if not path:
        return text
    if isinstance(type_, GraphQLList):
        return [with_text_at(type_.of_type, path[1:], text)]
    value = sample(type_)
    value[path[0]] = with_text_at(type_.fields[path[0]].type, path[1:], text)
    return value


def text_positions(type_: Any, path: Path = (), depth: int = 0) -> Iterator[Path]:
    """Every place a String or ID goes in a value of `type_` (recursive inputs are followed four levels)."""
    type_ = nullable(type_)
    if isinstance(type_, GraphQLList):
        yield from text_positions(type_.of_type, (*path, 0), depth)
    elif isinstance(type_, GraphQLScalarType) and type_.name in ("String", "ID"):
        yield path
    elif isinstance(type_, GraphQLInputObjectType) and depth < 4:
        for name, field in type_.fields.items():
            yield from text_positions(field.type, (*path, name), depth + 1)


def literal(type_: Any, value: Any) -> str:
    type_ = nullable(type_)
    if value is None:
        return "null"
    if isinstance(type_, GraphQLList):
        return "[" + ", ".join(literal(type_.of_type, item) for item in value) + "]"
    if isinstance(type_, GraphQLInputObjectType):
        return "{" + ", ".join(f"{k}: {literal(type_.fields[k].type, v)}" for k, v in value.items()) + "}"
    if isinstance(type_, GraphQLEnumType):
        return str(value)
    return json.dumps(value)  # JSON's escapes (\u0000 included) are GraphQL's


# --- operations ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One root field called with `values` for its arguments (the required ones and any others given)."""

    service: str
    operation: str
    field: str
    values: dict[str, Any]

    @property
    def definition(self) -> GraphQLField:
        return root_field(self.service, self.operation, self.field)

    def _arguments(self) -> dict[str, Any]:
        args = self.definition.args
        required = {n: sample(a.type) for n, a in args.items() if isinstance(a.type, GraphQLNonNull)}
        return {**required, **self.values}

    def _selection(self) -> str:
        return " { __typename }" if is_composite_type(get_named_type(self.definition.type)) else ""

    def with_variables(self) -> dict[str, Any]:
        args = self.definition.args
        values = self._arguments()
        if not values:
            return {"query": f"{self.operation} {{ {self.field}{self._selection()} }}"}
        definitions = ", ".join(f"${n}: {args[n].type}" for n in values)
        uses = ", ".join(f"{n}: ${n}" for n in values)
        query = f"{self.operation} Probe({definitions}) {{ {self.field}({uses}){self._selection()} }}"
        return {"query": query, "variables": values}

    def with_literals(self) -> dict[str, Any]:
        args = self.definition.args
        uses = ", ".join(f"{n}: {literal(args[n].type, v)}" for n, v in self._arguments().items())
        return {"query": f"{self.operation} {{ {self.field}({uses}){self._selection()} }}"}


def object_type(service: str, name: str) -> GraphQLObjectType:
    type_ = GRAPHQL[service].type_map[name]
    assert isinstance(type_, GraphQLObjectType)
    return type_


def root_field(service: str, operation: str, field: str) -> GraphQLField:
    schema = GRAPHQL[service]
    root = schema.query_type if operation == "query" else schema.mutation_type
    assert root is not None
    found: GraphQLField = root.fields[field]
    return found


def root_fields(service: str) -> Iterator[tuple[str, str, GraphQLField]]:
    schema = GRAPHQL[service]
    for operation, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        for name, field in (root.fields if root else {}).items():
            yield operation, name, field


def text_cases() -> Iterator[Any]:
    for service in GRAPHQL:
        for operation, name, field in root_fields(service):
            for argument, definition in field.args.items():
                for path in text_positions(definition.type):
                    where = ".".join(str(p) for p in (argument, *path))
                    yield pytest.param(service, operation, name, argument, path, id=f"{service}-{name}-{where}")


# --- tokens and requests ------------------------------------------------------------------------------------------


def required_scopes(service: str, type_name: str, field: str) -> list[set[str]]:
    """The field's @requiresScopes alternatives, read from the SDL the subgraph prints."""
    for definition in SDL[service].definitions:
        if isinstance(definition, ObjectTypeDefinitionNode) and definition.name.value == type_name:
            for node in definition.fields or ():
                if node.name.value != field:
                    continue
                for directive in node.directives or ():
                    if directive.name.value == "requiresScopes":
                        [argument] = directive.arguments or ()
                        assert isinstance(argument.value, ListValueNode)
                        return [
                            {s.value for s in alternative.values if isinstance(s, StringValueNode)}
                            for alternative in argument.value.values
                            if isinstance(alternative, ListValueNode)
                        ]
    return []


def token_for(mint: Callable[..., str], service: str, type_name: str, field: str) -> str:
    """A national agency's token holding the scopes the field declares (any, when it declares none)."""
    alternatives = required_scopes(service, type_name, field) or [set()]
    for agency, grants in DEFAULT_GRANTS.items():
        if agency not in REGIONAL_AGENCIES and any(scopes <= grants for scopes in alternatives):
            return mint(agency.value)
    raise AssertionError(f"no agency holds the scopes of {type_name}.{field}: {alternatives}")


async def post(url: str, body: dict[str, Any] | bytes, token: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json", "x-demimas-purpose": "PLACEMENT_SERVICE"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()  # ensure_ascii: "\ud800" stays escaped
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(url, content=content, headers=headers)


def only_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code != 500, response.text
    answer = response.json()
    codes = [e.get("extensions", {}).get("code") for e in answer.get("errors", ())]
    assert not {"INTERNAL", "INTERNAL_SERVER_ERROR"} & set(codes), answer
    assert len(codes) == 1, answer
    error: dict[str, Any] = answer["errors"][0]
    return error


@pytest.fixture(scope="module")
def urls(request: pytest.FixtureRequest) -> dict[str, str]:
    """Each discovered subgraph served over HTTP (tests/conftest.py has a `<name>_url` fixture per service)."""
    return {name: request.getfixturevalue(f"{name}_url") for name in GRAPHQL}


# --- NUL and lone surrogates at every String/ID position ------------------------------------------------------------


def test_every_subgraph_has_text_positions_to_probe() -> None:
    """The generator finds the fields of the issue (regionPrefix, justification, title, commitment, audit filters)."""
    found = {case.id for case in text_cases()}
    for expected in (
        "registry-workers-filter.regionPrefix",
        "registry-villages-regencyCode",
        "designation-proposeVillage-justification",
        "pillars-recordActivity-input.title",
        "pillars-createPilotProject-input.partners.0.commitment",
        "audit-auditEvents-filter.actorAgency",
    ):
        assert any(case_id.startswith(expected) for case_id in found), (expected, sorted(found))


@pytest.mark.parametrize(("service", "operation", "field", "argument", "path"), list(text_cases()))
async def test_text_that_no_column_can_hold_is_refused(
    urls: dict[str, str], mint: Callable[..., str], service: str, operation: str, field: str, argument: str, path: Path
) -> None:
    definition = root_field(service, operation, field)
    token = token_for(mint, service, operation.capitalize(), field)
    expected = ".".join(str(p) for p in (argument, *path))

    def call(text: str) -> Call:
        return Call(service, operation, field, {argument: with_text_at(definition.args[argument].type, path, text)})

    for body in (call(NUL).with_variables(), call(NUL).with_literals()):
        response = await post(urls[service], body, token)
        error = only_error(response)
        assert response.status_code == 200
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": expected}, (body, error)
        assert response.json()["data"] is None

    response = await post(urls[service], call(SURROGATE).with_variables(), token)
    assert response.status_code == 400
    assert only_error(response)["extensions"] == {"code": "BAD_REQUEST"}


# --- _entities representations -------------------------------------------------------------------------------------


def entity_keys(service: str) -> Iterator[tuple[str, str]]:
    """(type, key field) of each `@key` in the subgraph's printed SDL."""
    for definition in SDL[service].definitions:
        if isinstance(definition, ObjectTypeDefinitionNode):
            for directive in definition.directives or ():
                if directive.name.value == "key":
                    fields = next(a.value for a in directive.arguments or () if a.name.value == "fields")
                    assert isinstance(fields, StringValueNode)
                    yield definition.name.value, fields.value


def entity_cases() -> Iterator[Any]:
    for service in GRAPHQL:
        for type_name, key in entity_keys(service):
            assert key.isidentifier(), f"compose representations for the key {key!r} of {type_name}"
            yield pytest.param(service, type_name, key, id=f"{service}-{type_name}")


ENTITIES = "query($representations: [_Any!]!) { _entities(representations: $representations) { __typename } }"


@pytest.mark.parametrize(("service", "type_name", "key"), list(entity_cases()))
async def test_representations_that_match_no_key_are_refused(
    urls: dict[str, str], mint: Callable[..., str], service: str, type_name: str, key: str
) -> None:
    token = mint("KP2MI")

    async def fetch(representation: Any) -> httpx.Response:
        body = {"query": ENTITIES, "variables": {"representations": [representation]}}
        return await post(urls[service], body, token)

    # A well-formed representation is answered (an entity, null, or a coded error), never INTERNAL. A @key type the
    # subgraph cannot fetch by reference is refused as such, and then so is every malformed one of its kind.
    key_type = get_named_type(object_type(service, type_name).fields[key].type).name
    well_formed = {"__typename": type_name, key: KNOWN_KEYS.get(type_name, {}).get(key, str(uuid.uuid4()))}
    answer = (await fetch(well_formed)).json()
    codes = [e.get("extensions", {}) for e in answer.get("errors", ())]
    assert not [c for c in codes if c.get("code") in ("INTERNAL", "INTERNAL_SERVER_ERROR")], answer
    fetchable = {"code": "BAD_USER_INPUT", "field": "representations.0.__typename"} not in codes

    wrong_type = 5 if key_type != "Int" else "5"
    cases: list[tuple[Any, str]] = [
        ({"__typename": type_name, key: "1", "unexpected": 1}, "representations.0.unexpected"),
        ({"__typename": type_name, key: wrong_type}, f"representations.0.{key}"),
        ({"__typename": type_name, key: {"nested": "1"}}, f"representations.0.{key}"),
        ({"__typename": type_name}, "representations.0"),
        ({"__typename": "NoSuchType", key: "1"}, "representations.0.__typename"),
        ({key: "1"}, "representations.0.__typename"),
        ("a string", "representations.0"),
    ]
    for representation, field in cases:
        error = only_error(await fetch(representation))
        if not fetchable and isinstance(representation, dict) and representation.get("__typename") == type_name:
            field = "representations.0.__typename"
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, (representation, error)
    error = only_error(await fetch({"__typename": type_name, key: NUL}))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": f"representations.0.{key}"}


# --- cursors ------------------------------------------------------------------------------------------------------


def cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


MALFORMED_CURSORS = {
    "two-values": cursor(["a", "b"]),
    "three-values": cursor(["a", "b", "c"]),
    "four-values": cursor(["16.06.13.2003", "0196a0e4-7c4b-7d0e-9a4a-3f3b8f1c2d11", 1, 2]),
    "no-values": cursor([]),
    "nul-1": cursor(["\u0000"]),
    "nul-2": cursor(["\u0000", "\u0000"]),
    "beyond-bigint-1": cursor([2**63]),
    "beyond-bigint-2": cursor([2**63, 2**63]),
    "object": cursor({"a": 1}),
    "nested": cursor([["a"], ["b"]]),
    "not-json": base64.urlsafe_b64encode(b"not json").decode(),
    "not-base64": "!!!",
    "not-ascii": "\u00e9\u00e9",
    "empty": "",
}


def connection_cases() -> Iterator[Any]:
    for service, schema in GRAPHQL.items():
        entity_types = {name for name, _ in entity_keys(service)}
        for type_name, type_ in schema.type_map.items():
            on_root = type_ is schema.query_type
            if not isinstance(type_, GraphQLObjectType) or not (on_root or type_name in entity_types):
                continue
            for name, field in type_.fields.items():
                if "after" in field.args:
                    yield pytest.param(service, type_name, name, id=f"{service}-{type_name}.{name}")


def test_connections_are_found() -> None:
    found = {case.id for case in connection_cases()}
    assert {"registry-Query.workers", "registry-Village.workers", "pillars-Village.reintegrationQueue"} <= found


@pytest.fixture(scope="module")
async def known_keys(urls: dict[str, str], mint: Callable[..., str]) -> dict[str, dict[str, str]]:
    """KNOWN_KEYS and the keys of entities made for this module: a KP2MI webhook endpoint (an agency sees only its
    own, and `token_for` picks KP2MI for `feeds:manage`)."""
    create = (
        """mutation C($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { endpoint { id } } }"""
    )
    hook = {"url": "http://127.0.0.1:9/cursors", "eventTypes": ["*"]}
    response = await post(urls["feeds"], {"query": create, "variables": {"in": hook}}, mint("KP2MI"))
    endpoint = response.json()["data"]["createWebhookEndpoint"]["endpoint"]["id"]
    return {**KNOWN_KEYS, "WebhookEndpoint": {"id": endpoint}}


@pytest.mark.parametrize(("service", "type_name", "field"), list(connection_cases()))
@pytest.mark.parametrize("after", MALFORMED_CURSORS.values(), ids=MALFORMED_CURSORS.keys())
async def test_malformed_cursors_are_refused(
    urls: dict[str, str],
    known_keys: dict[str, dict[str, str]],
    mint: Callable[..., str],
    service: str,
    type_name: str,
    field: str,
    after: str,
) -> None:
    schema = GRAPHQL[service]
    definition = object_type(service, type_name).fields[field]
    required = {n: sample(a.type) for n, a in definition.args.items() if isinstance(a.type, GraphQLNonNull)}
    arguments = ", ".join(
        [f"{n}: {literal(definition.args[n].type, v)}" for n, v in required.items()] + ["after: $after"]
    )
    selection = f"{field}({arguments}) {{ __typename }}"
    if schema.type_map[type_name] is schema.query_type:
        body: dict[str, Any] = {"query": f"query($after: String) {{ {selection} }}", "variables": {"after": after}}
    else:
        assert type_name in known_keys, f"add a key of an existing {type_name} to KNOWN_KEYS (or known_keys)"
        entities = f"_entities(representations: $r) {{ ... on {type_name} {{ {selection} }} }}"
        query = f"query($r: [_Any!]!, $after: String) {{ {entities} }}"
        variables = {"r": [{"__typename": type_name, **known_keys[type_name]}], "after": after}
        body = {"query": query, "variables": variables}
    response = await post(urls[service], body, token_for(mint, service, type_name, field))
    error = only_error(response)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}, error


# --- bodies -------------------------------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BODIES = {
    "null": (b"null", "BAD_REQUEST"),
    "string": (b'"{ __typename }"', "BAD_REQUEST"),
    "number": (b"42", "BAD_REQUEST"),
    "batch": (b'[{"query": "{ __typename }"}, {"query": "{ __typename }"}]', "BATCHING_NOT_SUPPORTED"),
    "invalid-utf8": (b'{"query": "{ __typename }", "variables": {"a": "\xc3\x28"}}', "BAD_REQUEST"),
    "lone-surrogate": (b'{"query": "{ __typename }", "variables": {"a": "\\udc00"}}', "BAD_REQUEST"),
    "10000-deep": (nested(10_000), "BAD_REQUEST"),
    "100-deep-variables": (b'{"query": "{ __typename }", "variables": {"a": ' + nested(100) + b"}}", "BAD_REQUEST"),
}


@pytest.mark.parametrize("service", list(GRAPHQL))
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_odd_bodies_at_each_subgraph(urls: dict[str, str], service: str, body: tuple[bytes, str]) -> None:
    content, code = body
    response = await post(urls[service], content)
    assert response.status_code == 400, response.text
    assert only_error(response)["extensions"] == {"code": code}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_odd_bodies_at_the_gateway(endpoints: Endpoints, body: tuple[bytes, str]) -> None:
    content, code = body
    response = await endpoints.gateway.post("/graphql", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert only_error(response)["extensions"] == {"code": code}


# --- the same through the gateway ---------------------------------------------------------------------------------

WORKERS = "query($p: String, $after: String) { workers(filter: {regionPrefix: $p}, after: $after) { totalCount } }"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": WORKERS, "variables": {"p": NUL}}, "p"),
        ({"query": '{ workers(filter: {regionPrefix: "16\\u0000"}) { totalCount } }'}, "filter.regionPrefix"),
        ({"query": WORKERS, "variables": {"after": MALFORMED_CURSORS["two-values"]}}, "after"),
        ({"query": WORKERS, "variables": {"after": MALFORMED_CURSORS["three-values"]}}, "after"),
        ({"query": '{ auditEvents(filter: {actorAgency: "BNN\\u0000"}) { edges { cursor } } }'}, "filter.actorAgency"),
    ],
    ids=["nul-variable", "nul-literal", "cursor-2", "cursor-3", "nul-audit-filter"],
)
async def test_odd_input_through_the_gateway(
    endpoints: Endpoints, mint: Callable[..., str], body: dict[str, Any], field: str
) -> None:
    token = mint("AUDITOR" if "auditEvents" in body["query"] else "KP2MI")
    headers = {"authorization": f"Bearer {token}", "x-demimas-purpose": "PLACEMENT_SERVICE"}
    response = await endpoints.gateway.post("/graphql", json=body, headers=headers)
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field


async def test_a_lone_surrogate_at_the_gateway(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    body = json.dumps({"query": WORKERS, "variables": {"p": SURROGATE}}).encode()
    headers = {"authorization": f"Bearer {mint('KP2MI')}", "content-type": "application/json"}
    response = await endpoints.gateway.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400
    assert only_error(response)["extensions"] == {"code": "BAD_REQUEST"}
