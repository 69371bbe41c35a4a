"""Every connection of every subgraph carries `@listSize`, so the gateway's cost limit counts `first` (issue 15).

Walks the SDL each service prints (what composition reads) and the committed supergraph (what the gateway reads): a
field whose type is a connection (an object with a list `edges` and a `pageInfo`) must take `first` and carry
`@listSize(slicingArguments: ["first"], sizedFields: ["edges"])`; a plain list that takes `first` must carry
`@listSize(slicingArguments: ["first"])`. A new connection in any service is covered without editing this test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListTypeNode,
    ListValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    StringValueNode,
    TypeNode,
    parse,
)

from demimas_common.graphql.sdl import print_sdl
from demimas_common.service import ServiceSpec, discover_services

SUPERGRAPH = Path(__file__).resolve().parents[1] / "deploy" / "supergraph.graphql"
SUBGRAPHS = [s for s in discover_services() if s.graphql_schema]
FIELDED = (ObjectTypeDefinitionNode, ObjectTypeExtensionNode, InterfaceTypeDefinitionNode, InterfaceTypeExtensionNode)


def _fields(document: DocumentNode) -> Iterator[tuple[str, FieldDefinitionNode]]:
    for definition in document.definitions:
        if isinstance(definition, FIELDED):
            for field in definition.fields or ():
                yield definition.name.value, field


def _is_list(type_node: TypeNode) -> bool:
    return isinstance(type_node.type if isinstance(type_node, NonNullTypeNode) else type_node, ListTypeNode)


def _named(type_node: TypeNode) -> str:
    while isinstance(type_node, NonNullTypeNode | ListTypeNode):
        type_node = type_node.type
    assert isinstance(type_node, NamedTypeNode)
    return type_node.name.value


def _connections(document: DocumentNode) -> set[str]:
    fields: dict[str, dict[str, FieldDefinitionNode]] = {}
    for parent, field in _fields(document):
        fields.setdefault(parent, {})[field.name.value] = field
    return {
        name for name, own in fields.items() if "edges" in own and _is_list(own["edges"].type) and "pageInfo" in own
    }


def _strings(directive: DirectiveNode, argument: str) -> list[str]:
    for arg in directive.arguments or ():
        if arg.name.value == argument and isinstance(arg.value, ListValueNode):
            return [v.value for v in arg.value.values if isinstance(v, StringValueNode)]
    return []


def problems(sdl: str) -> tuple[list[str], set[str]]:
    """What is wrong with the SDL's `@listSize`s, and which fields were checked (so no test passes on none)."""
    document = parse(sdl)
    connections = _connections(document)
    found: list[str] = []
    checked: set[str] = set()
    for parent, field in _fields(document):
        where = f"{parent}.{field.name.value}"
        takes_first = any(arg.name.value == "first" for arg in field.arguments or ())
        connection = _named(field.type) in connections and not _is_list(field.type)
        if not connection and not (_is_list(field.type) and takes_first):
            continue
        checked.add(where)
        if not takes_first:
            found.append(f"{where} returns a connection without a `first` argument to size it")
            continue
        sizes = [d for d in field.directives or () if d.name.value == "listSize"]
        if not sizes:
            found.append(f"{where} has no @listSize: the gateway would count its list as the default size")
            continue
        if "first" not in _strings(sizes[0], "slicingArguments"):
            found.append(f'{where}: @listSize without slicingArguments: ["first"]')
        if connection and "edges" not in _strings(sizes[0], "sizedFields"):
            found.append(f'{where}: @listSize without sizedFields: ["edges"]')
    return found, checked


@pytest.mark.parametrize("spec", SUBGRAPHS, ids=[s.name for s in SUBGRAPHS])
def test_every_connection_of_the_subgraph_carries_list_size(spec: ServiceSpec) -> None:
    found, checked = problems(print_sdl(spec))
    assert checked, f"{spec.name} has no connection: is the detection still right?"
    assert found == []


def test_the_supergraph_keeps_every_list_size() -> None:
    found, checked = problems(SUPERGRAPH.read_text())
    assert checked == set().union(*(problems(print_sdl(spec))[1] for spec in SUBGRAPHS))
    assert found == []


def test_the_check_finds_a_connection_without_list_size() -> None:
    sdl = """type Query { workers(first: Int): WorkerConnection  recent(first: Int): [Worker]  page: WorkerConnection }
    type WorkerConnection { edges: [WorkerEdge!]! pageInfo: PageInfo! }
    type WorkerEdge { node: Worker! } type PageInfo { hasNextPage: Boolean! } type Worker { id: ID! }"""
    found, checked = problems(sdl)
    assert checked == {"Query.workers", "Query.recent", "Query.page"}
    assert [problem.split(" ", 1)[0] for problem in found] == ["Query.workers", "Query.recent", "Query.page"]
