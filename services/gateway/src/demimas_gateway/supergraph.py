"""Supergraph loader: a composed supergraph SDL (link v1.0, join v0.3 to v0.5) -> the API schema clients see and
the metadata the planner needs (which subgraph resolves which type and field, keys, field sets, override labels,
authorization rules).

The `@link`s are read first (`supergraph_links`: a supergraph that links a feature this gateway does not implement
for `SECURITY` or `EXECUTION` is refused with a `SupergraphError` naming it), the API schema is derived by
`api_schema`, and the `join__` directives become the metadata here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    FieldDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    ValueNode,
    parse,
)

from demimas_gateway.api_schema import api_schema
from demimas_gateway.fieldset import FieldSet, parse_field_set
from demimas_gateway.supergraph_links import (
    Links,
    SupergraphError,
    arguments,
    bool_value,
    read_links,
    string_value,
)

__all__ = [
    "FieldMeta",
    "GraphMeta",
    "KeyMeta",
    "Supergraph",
    "SupergraphError",
    "TypeMeta",
    "load_supergraph",
]


@dataclass(frozen=True)
class GraphMeta:
    enum_value: str
    name: str
    url: str


@dataclass(frozen=True)
class KeyMeta:
    fields: FieldSet
    resolvable: bool
    text: str


@dataclass
class FieldMeta:
    """One field as one subgraph declares it."""

    external: bool = False
    requires: FieldSet | None = None
    provides: FieldSet | None = None
    type_in_graph: str | None = None
    override_from: str | None = None
    override_label: str | None = None
    used_overridden: bool = False


@dataclass
class TypeMeta:
    name: str
    kind: str  # object | interface | union | enum | input | scalar
    graphs: set[str] = field(default_factory=set)
    keys: dict[str, list[KeyMeta]] = field(default_factory=dict)
    interface_object_in: set[str] = field(default_factory=set)
    fields: dict[str, dict[str, FieldMeta]] = field(default_factory=dict)
    """field name -> graph -> metadata; a field absent here is defined in every graph of its type."""
    implements: dict[str, set[str]] = field(default_factory=dict)
    """graph -> interfaces this type implements there."""
    members: dict[str, set[str]] = field(default_factory=dict)
    """graph -> union members there (unions only)."""
    enum_values: dict[str, set[str]] = field(default_factory=dict)
    """Enums: value -> graphs that define it (a value only some subgraphs know cannot be sent to the others)."""
    via_interface_object: set[str] = field(default_factory=set)
    """Fields (`@join__field` without a graph) that only an `@interfaceObject` of an interface resolves."""
    auth_scopes: tuple[frozenset[str], ...] | None = None
    authenticated: bool = False
    policies: tuple[frozenset[str], ...] | None = None
    field_auth: dict[str, tuple[bool, tuple[frozenset[str], ...] | None, tuple[frozenset[str], ...] | None]] = field(
        default_factory=dict
    )
    """field name -> (authenticated, scopes (OR of ANDs), policies)."""


@dataclass
class Supergraph:
    api_schema: GraphQLSchema
    graphs: dict[str, GraphMeta]
    """graph name (the subgraph's name) -> metadata."""
    types: dict[str, TypeMeta]
    sdl: str
    full_schema: GraphQLSchema
    """The supergraph's types without the machinery but with `@inaccessible` elements (keys and requirements may
    name them)."""

    def graph_of_enum(self, value: str) -> str:
        for graph in self.graphs.values():
            if graph.enum_value == value:
                return graph.name
        raise KeyError(value)


def _scopes(value: ValueNode | None, where: str) -> tuple[frozenset[str], ...]:
    """`[["a", "b"], ["c"]]` -> ({a, b}, {c}): any inner set suffices, all of an inner set are needed."""
    if not isinstance(value, ListValueNode):
        raise SupergraphError(f"{where}: expected a list of lists of strings")
    out: list[frozenset[str]] = []
    for inner in value.values:
        if isinstance(inner, ListValueNode):
            out.append(frozenset(string_value(v) or "" for v in inner.values))
        else:
            out.append(frozenset({string_value(inner) or ""}))
    return tuple(out)


_TYPE_NODES = (
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
)


def _kind(node: TypeDefinitionNode | TypeExtensionNode) -> str:
    if isinstance(node, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
        return "object"
    if isinstance(node, InterfaceTypeDefinitionNode | InterfaceTypeExtensionNode):
        return "interface"
    if isinstance(node, UnionTypeDefinitionNode | UnionTypeExtensionNode):
        return "union"
    if isinstance(node, EnumTypeDefinitionNode | EnumTypeExtensionNode):
        return "enum"
    if isinstance(node, InputObjectTypeDefinitionNode | InputObjectTypeExtensionNode):
        return "input"
    return "scalar"


def load_supergraph(sdl: str, *, graph_urls: dict[str, str] | None = None) -> Supergraph:
    """Parse and check a supergraph; `graph_urls` overrides subgraph URLs by subgraph name."""
    try:
        doc = parse(sdl, no_location=False)
    except GraphQLError as exc:
        raise SupergraphError(f"supergraph is not valid GraphQL SDL: {exc.message} at {exc.locations}") from exc
    links = read_links(doc)
    join = links.join
    graphs = _read_graphs(doc, join, graph_urls or {})
    by_enum = {g.enum_value: g.name for g in graphs.values()}
    types: dict[str, TypeMeta] = {}
    for definition in doc.definitions:
        if not isinstance(definition, _TYPE_NODES):
            continue
        name = definition.name.value
        if links.is_machinery(name):
            continue
        meta = types.setdefault(name, TypeMeta(name=name, kind=_kind(definition)))
        _read_type(meta, definition, join, by_enum, links)
    api = api_schema(doc, links)
    full = api_schema(doc, links, keep_inaccessible=True)
    for name, meta in types.items():
        if api.get_type(name) is None:
            continue
        if meta.kind in ("object", "interface") and not meta.graphs:
            meta.graphs = set(graphs)
    return Supergraph(api_schema=api, graphs=graphs, types=types, sdl=sdl, full_schema=full)


def _read_graphs(doc: DocumentNode, join: str, urls: dict[str, str]) -> dict[str, GraphMeta]:
    graphs: dict[str, GraphMeta] = {}
    for definition in doc.definitions:
        if isinstance(definition, EnumTypeDefinitionNode) and definition.name.value == f"{join}Graph":
            for value in definition.values or ():
                directive = next((d for d in value.directives or () if d.name.value == f"{join}graph"), None)
                if directive is None:
                    raise SupergraphError(f"{join}Graph.{value.name.value}: missing @{join}graph(name:, url:)")
                args = arguments(directive)
                name = string_value(args.get("name")) or value.name.value.lower()
                url = urls.get(name) or string_value(args.get("url")) or ""
                graphs[name] = GraphMeta(enum_value=value.name.value, name=name, url=url)
    if not graphs:
        raise SupergraphError(f"enum {join}Graph: missing or empty; a supergraph lists its subgraphs there")
    return graphs


def _fieldset(text: str | None, where: str) -> FieldSet | None:
    if text is None:
        return None
    try:
        return parse_field_set(text)
    except GraphQLError as exc:
        raise SupergraphError(f"{where}: field set {text!r} is not a valid selection: {exc.message}") from exc


def _read_type(
    meta: TypeMeta,
    node: TypeDefinitionNode | TypeExtensionNode,
    join: str,
    by_enum: dict[str, str],
    links: Links,
) -> None:
    name = meta.name

    def graph_arg(args: dict[str, ValueNode], where: str) -> str | None:
        value = string_value(args.get("graph"))
        if value is None:
            return None
        if value not in by_enum:
            raise SupergraphError(f"{where}: graph {value} is not a value of {join}Graph")
        return by_enum[value]

    for directive in node.directives or ():
        dname = directive.name.value
        args = arguments(directive)
        where = f"{name} @{dname}"
        if dname == f"{join}type":
            graph = graph_arg(args, where)
            if graph is None:
                continue
            meta.graphs.add(graph)
            key = string_value(args.get("key"))
            if key is not None:
                key_fields = _fieldset(key, where)
                assert key_fields is not None
                resolvable = bool_value(args.get("resolvable"), True)
                meta.keys.setdefault(graph, []).append(KeyMeta(fields=key_fields, resolvable=resolvable, text=key))
            if bool_value(args.get("isInterfaceObject")):
                meta.interface_object_in.add(graph)
        elif dname == f"{join}implements":
            graph = graph_arg(args, where)
            if graph is not None:
                meta.implements.setdefault(graph, set()).add(string_value(args.get("interface")) or "")
        elif dname == f"{join}unionMember":
            graph = graph_arg(args, where)
            if graph is not None:
                meta.members.setdefault(graph, set()).add(string_value(args.get("member")) or "")
        elif dname == links.directive("authenticated"):
            meta.authenticated = True
        elif dname == links.directive("requiresScopes"):
            meta.auth_scopes = (meta.auth_scopes or ()) + _scopes(args.get("scopes"), where)  # several: OR
        elif dname == links.directive("policy"):
            meta.policies = (meta.policies or ()) + _scopes(args.get("policies"), where)
    for value in getattr(node, "values", None) or ():
        graphs = meta.enum_values.setdefault(value.name.value, set())
        for directive in value.directives or ():
            if directive.name.value == f"{join}enumValue":
                graph = graph_arg(arguments(directive), f"{name}.{value.name.value} @{directive.name.value}")
                if graph is not None:
                    graphs.add(graph)
    fields: Sequence[FieldDefinitionNode | InputValueDefinitionNode] = getattr(node, "fields", None) or ()
    for fnode in fields:
        fname = fnode.name.value
        auth = False
        scopes: tuple[frozenset[str], ...] | None = None
        policies: tuple[frozenset[str], ...] | None = None
        for directive in fnode.directives or ():
            dname = directive.name.value
            args = arguments(directive)
            where = f"{name}.{fname} @{dname}"
            if dname == f"{join}field":
                graph = graph_arg(args, where)
                if graph is None:  # resolved through an @interfaceObject of one of the type's interfaces
                    meta.via_interface_object.add(fname)
                    continue
                meta.fields.setdefault(fname, {})[graph] = FieldMeta(
                    external=bool_value(args.get("external")),
                    requires=_fieldset(string_value(args.get("requires")), where),
                    provides=_fieldset(string_value(args.get("provides")), where),
                    type_in_graph=string_value(args.get("type")),
                    override_from=string_value(args.get("override")),
                    override_label=string_value(args.get("overrideLabel")),
                    used_overridden=bool_value(args.get("usedOverridden")),
                )
            elif dname == links.directive("authenticated"):
                auth = True
            elif dname == links.directive("requiresScopes"):
                scopes = (scopes or ()) + _scopes(args.get("scopes"), where)  # one per subgraph: any may pass
            elif dname == links.directive("policy"):
                policies = (policies or ()) + _scopes(args.get("policies"), where)
        if auth or scopes is not None or policies is not None:
            meta.field_auth[fname] = (auth, scopes, policies)
