"""Supergraph loader: a composed supergraph SDL (link v1.0, join v0.3 to v0.5) -> the API schema clients see and
the metadata the planner needs.

The link specification says a gateway must refuse to serve a supergraph that links a feature it does not implement
for `SECURITY` or `EXECUTION` (it would otherwise serve fields whose rules it ignores); `SupergraphError` names the
element at fault, and the gateway refuses to start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    EnumValueDefinitionNode,
    EnumValueNode,
    FieldDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListValueNode,
    NamedTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    ValueNode,
    build_ast_schema,
    parse,
)

from demimas_gateway.fieldset import FieldSet, parse_field_set

__all__ = [
    "FieldMeta",
    "GraphMeta",
    "KeyMeta",
    "Supergraph",
    "SupergraphError",
    "TypeMeta",
    "load_supergraph",
]

LINK_URL = re.compile(r"^https?://[^ ]*/(?P<name>[A-Za-z_][\w-]*)/v(?P<major>\d+)\.(?P<minor>\d+)/?$")

# Features the gateway implements, by name -> supported (major, minor) versions.
JOIN_VERSIONS = {(0, 3), (0, 4), (0, 5)}
SUPPORTED = {
    "link": {(1, 0)},
    "join": JOIN_VERSIONS,
    "inaccessible": {(0, 1), (0, 2)},
    "tag": {(0, 1), (0, 2), (0, 3)},
    "authenticated": {(0, 1)},
    "requiresScopes": {(0, 1)},
    "policy": {(0, 1)},
    "cost": {(0, 1)},
    "context": {(0, 1)},
}
# Specs whose own machinery never reaches the API schema.
MACHINERY = {"link", "join", "inaccessible", "tag", "authenticated", "requiresScopes", "policy", "cost", "context"}


class SupergraphError(ValueError):
    """The supergraph cannot be served; the message names the element at fault."""


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


def _string(value: ValueNode | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, StringValueNode | EnumValueNode):
        return value.value
    return None


def _bool(value: ValueNode | None, default: bool = False) -> bool:
    if isinstance(value, BooleanValueNode):
        return value.value
    return default


def _args(directive: DirectiveNode) -> dict[str, ValueNode]:
    return {a.name.value: a.value for a in directive.arguments or ()}


def _scopes(value: ValueNode | None, where: str) -> tuple[frozenset[str], ...]:
    """`[["a", "b"], ["c"]]` -> ({a, b}, {c}): any inner set suffices, all of an inner set are needed."""
    if not isinstance(value, ListValueNode):
        raise SupergraphError(f"{where}: expected a list of lists of strings")
    out: list[frozenset[str]] = []
    for inner in value.values:
        if isinstance(inner, ListValueNode):
            out.append(frozenset(_string(v) or "" for v in inner.values))
        else:
            out.append(frozenset({_string(inner) or ""}))
    return tuple(out)


@dataclass
class _Links:
    """Directive names under which each linked feature appears in this document."""

    join: str = "join__"
    names: dict[str, str] = field(default_factory=dict)
    """feature -> name of its main directive (e.g. inaccessible -> `inaccessible`)."""
    prefixes: dict[str, str] = field(default_factory=dict)
    """feature -> prefix of its other elements (e.g. join -> `join__`)."""
    join_version: tuple[int, int] = (0, 3)

    def directive(self, feature: str) -> str | None:
        return self.names.get(feature)

    def is_machinery(self, name: str) -> bool:
        if any(name.startswith(p) for f, p in self.prefixes.items() if f in MACHINERY):
            return True
        return any(name == n for f, n in self.names.items() if f in MACHINERY)


def _read_links(doc: DocumentNode) -> _Links:
    links = _Links()
    found = False
    for definition in doc.definitions:
        if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            continue
        for directive in definition.directives or ():
            if directive.name.value != "link":
                continue
            args = _args(directive)
            url = _string(args.get("url")) or ""
            match = LINK_URL.match(url)
            if not match:
                raise SupergraphError(f"@link(url: {url!r}): not a specification URL of the form .../name/vX.Y")
            name, version = match["name"], (int(match["major"]), int(match["minor"]))
            purpose = _string(args.get("for"))
            if name not in SUPPORTED or version not in SUPPORTED[name]:
                if purpose in ("SECURITY", "EXECUTION"):
                    raise SupergraphError(
                        f"@link(url: {url!r}, for: {purpose}): this gateway does not implement {name} "
                        f"v{version[0]}.{version[1]}, and a feature linked for {purpose} must not be ignored"
                    )
                continue
            found = found or name == "link"
            alias = _string(args.get("as")) or name
            links.prefixes[name] = f"{alias}__"
            links.names[name] = alias
            imports = args.get("import")
            if isinstance(imports, ListValueNode):
                for item in imports.values:
                    imported = _string(item)
                    if imported and imported == f"@{name}":
                        links.names[name] = name
            if name == "join":
                links.join = f"{alias}__"
                links.join_version = version
    if "join" not in links.prefixes:
        raise SupergraphError(
            "schema: no @link to https://specs.apollo.dev/join/v0.3 (or v0.4, v0.5): not a supergraph this "
            "gateway can serve (Federation 1 supergraphs must be recomposed with a Federation 2 composer)"
        )
    del found
    return links


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
    links = _read_links(doc)
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
    api = _api_schema(doc, links)
    full = _api_schema(doc, links, keep_inaccessible=True)
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
                args = _args(directive)
                name = _string(args.get("name")) or value.name.value.lower()
                url = urls.get(name) or _string(args.get("url")) or ""
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
    links: _Links,
) -> None:
    name = meta.name

    def graph_arg(args: dict[str, ValueNode], where: str) -> str | None:
        value = _string(args.get("graph"))
        if value is None:
            return None
        if value not in by_enum:
            raise SupergraphError(f"{where}: graph {value} is not a value of {join}Graph")
        return by_enum[value]

    for directive in node.directives or ():
        dname = directive.name.value
        args = _args(directive)
        where = f"{name} @{dname}"
        if dname == f"{join}type":
            graph = graph_arg(args, where)
            if graph is None:
                continue
            meta.graphs.add(graph)
            key = _string(args.get("key"))
            if key is not None:
                key_fields = _fieldset(key, where)
                assert key_fields is not None
                resolvable = _bool(args.get("resolvable"), True)
                meta.keys.setdefault(graph, []).append(KeyMeta(fields=key_fields, resolvable=resolvable, text=key))
            if _bool(args.get("isInterfaceObject")):
                meta.interface_object_in.add(graph)
        elif dname == f"{join}implements":
            graph = graph_arg(args, where)
            if graph is not None:
                meta.implements.setdefault(graph, set()).add(_string(args.get("interface")) or "")
        elif dname == f"{join}unionMember":
            graph = graph_arg(args, where)
            if graph is not None:
                meta.members.setdefault(graph, set()).add(_string(args.get("member")) or "")
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
                graph = graph_arg(_args(directive), f"{name}.{value.name.value} @{directive.name.value}")
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
            args = _args(directive)
            where = f"{name}.{fname} @{dname}"
            if dname == f"{join}field":
                graph = graph_arg(args, where)
                if graph is None:  # resolved through an @interfaceObject of one of the type's interfaces
                    meta.via_interface_object.add(fname)
                    continue
                meta.fields.setdefault(fname, {})[graph] = FieldMeta(
                    external=_bool(args.get("external")),
                    requires=_fieldset(_string(args.get("requires")), where),
                    provides=_fieldset(_string(args.get("provides")), where),
                    type_in_graph=_string(args.get("type")),
                    override_from=_string(args.get("override")),
                    override_label=_string(args.get("overrideLabel")),
                    used_overridden=_bool(args.get("usedOverridden")),
                )
            elif dname == links.directive("authenticated"):
                auth = True
            elif dname == links.directive("requiresScopes"):
                scopes = (scopes or ()) + _scopes(args.get("scopes"), where)  # one per subgraph: any may pass
            elif dname == links.directive("policy"):
                policies = (policies or ()) + _scopes(args.get("policies"), where)
        if auth or scopes is not None or policies is not None:
            meta.field_auth[fname] = (auth, scopes, policies)


def _has(directives: Iterable[DirectiveNode] | None, name: str | None) -> bool:
    return name is not None and any(d.name.value == name for d in directives or ())


def _api_schema(doc: DocumentNode, links: _Links, *, keep_inaccessible: bool = False) -> GraphQLSchema:
    """The schema clients see: no link/join machinery, nothing `@inaccessible`, no machinery directives. With
    `keep_inaccessible`, the whole supergraph's types (what keys and `@requires` may name)."""
    inaccessible = None if keep_inaccessible else links.directive("inaccessible")
    removed_types = {
        d.name.value
        for d in doc.definitions
        if isinstance(d, TypeDefinitionNode) and (links.is_machinery(d.name.value) or _has(d.directives, inaccessible))
    }

    def keep_directives(directives: Iterable[DirectiveNode] | None) -> tuple[DirectiveNode, ...]:
        return tuple(d for d in directives or () if not links.is_machinery(d.name.value) and d.name.value != "link")

    def clean_args(args: Iterable[InputValueDefinitionNode] | None) -> tuple[InputValueDefinitionNode, ...]:
        out = []
        for arg in args or ():
            if _has(arg.directives, inaccessible):
                continue
            out.append(InputValueDefinitionNode(**{**_node_kwargs(arg), "directives": keep_directives(arg.directives)}))
        return tuple(out)

    def refers_removed(type_node: Any) -> bool:
        while not isinstance(type_node, NamedTypeNode):
            type_node = type_node.type
        return type_node.name.value in removed_types

    definitions: list[Any] = []
    for d in doc.definitions:
        if isinstance(d, SchemaDefinitionNode | SchemaExtensionNode):
            definitions.append(d.__class__(**{**_node_kwargs(d), "directives": ()}))
            continue
        if isinstance(d, DirectiveDefinitionNode):
            if links.is_machinery(d.name.value) or d.name.value == "link":
                continue
            definitions.append(d)
            continue
        if not isinstance(d, TypeDefinitionNode | TypeExtensionNode) or d.name.value in removed_types:
            continue
        kwargs = _node_kwargs(d)
        kwargs["directives"] = keep_directives(d.directives)
        if isinstance(d, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            fields = []
            for f in d.fields or ():
                if _has(f.directives, inaccessible) or refers_removed(f.type):
                    continue
                fields.append(
                    FieldDefinitionNode(
                        **{
                            **_node_kwargs(f),
                            "directives": keep_directives(f.directives),
                            "arguments": clean_args(f.arguments),
                        }
                    )
                )
            kwargs["fields"] = tuple(fields)
            kwargs["interfaces"] = tuple(i for i in d.interfaces or () if i.name.value not in removed_types)
            if not fields:
                continue
        elif isinstance(d, InputObjectTypeDefinitionNode):
            kwargs["fields"] = clean_args(d.fields)
        elif isinstance(d, EnumTypeDefinitionNode):
            kwargs["values"] = tuple(
                EnumValueDefinitionNode(**{**_node_kwargs(v), "directives": keep_directives(v.directives)})
                for v in d.values or ()
                if not _has(v.directives, inaccessible)
            )
        elif isinstance(d, UnionTypeDefinitionNode):
            kwargs["types"] = tuple(t for t in d.types or () if t.name.value not in removed_types)
        definitions.append(d.__class__(**kwargs))
    try:
        return build_ast_schema(DocumentNode(definitions=tuple(definitions)), assume_valid_sdl=True)
    except (GraphQLError, TypeError) as exc:
        raise SupergraphError(f"the API schema derived from the supergraph is invalid: {exc}") from exc


def _node_kwargs(node: Any) -> dict[str, Any]:
    return {k: getattr(node, k) for k in node.keys if k != "loc"}
