"""The API schema derived from a supergraph: what clients see (no link/join machinery, nothing `@inaccessible`), or
the whole supergraph's types without the machinery (what keys and `@requires` may name)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumValueDefinitionNode,
    FieldDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    NamedTypeNode,
    ObjectTypeDefinitionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
)

from demimas_gateway.supergraph_links import Links, SupergraphError

__all__ = ["api_schema"]


def _has(directives: Iterable[DirectiveNode] | None, name: str | None) -> bool:
    return name is not None and any(d.name.value == name for d in directives or ())


def api_schema(doc: DocumentNode, links: Links, *, keep_inaccessible: bool = False) -> GraphQLSchema:
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
