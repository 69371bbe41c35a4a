"""`_entities` representations checked against the subgraph's `@key`s before any `resolve_reference` runs.

Strawberry hands a representation to `resolve_reference` as keyword arguments, unchecked: an extra key was a
`TypeError` (INTERNAL), a missing `__typename` a `KeyError`, a number where a string belongs reached SQL. Here each
representation must be an object whose `__typename` is an entity type of this subgraph with a resolvable `@key`,
carry every field of one of its keys, nothing but key fields and `@requires` fields, each of the key's GraphQL type
exactly (an `ID` as a string, as the gateway sends it). Otherwise BAD_USER_INPUT at `representations.<i>[.<field>]`.

A `@key` type that can be fetched by reference neither through `resolve_reference` nor by strawberry building it
from the key fields alone is not an entity here (its representations are refused like an unknown `__typename`).
What a type's keys are is read once per schema from the strawberry definitions that also print the SDL.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    parse,
    value_from_ast_untyped,
)
from strawberry.federation.schema_directives import Key, Requires

from demimas_common.errors import BadUserInput

__all__ = ["representations_problem"]


def representations_problem(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any], operation_name: str | None
) -> BadUserInput | None:
    """The first representation of the operation's `_entities` that matches no key, or None."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    for node in _root_fields(document, operation.selection_set):
        if node.name.value != "_entities":
            continue
        for argument in node.arguments or ():
            if argument.name.value == "representations":
                problem = _check_all(_entities_of(schema), _argument_value(argument.value, variables))
                if problem is not None:
                    return problem
    return None


@dataclass(frozen=True)
class _Key:
    fields: SelectionSetNode
    names: tuple[str, ...]
    plain: bool
    """Only top-level String or ID fields (`id`, `code`): checked on the fast path."""


@dataclass(frozen=True)
class _Entity:
    type: GraphQLObjectType
    keys: tuple[_Key, ...]
    allowed: frozenset[str]
    """Key and `@requires` fields, and `__typename`."""
    described: str


_entity_maps: weakref.WeakKeyDictionary[GraphQLSchema, dict[str, _Entity]] = weakref.WeakKeyDictionary()


def _entities_of(schema: GraphQLSchema) -> dict[str, _Entity]:
    found = _entity_maps.get(schema)
    if found is None:
        found = _entity_maps[schema] = dict(_entities(schema))
    return found


def _entities(schema: GraphQLSchema) -> Iterator[tuple[str, _Entity]]:
    for name, graphql_type in schema.type_map.items():
        definition = (getattr(graphql_type, "extensions", None) or {}).get("strawberry-definition")
        if not isinstance(graphql_type, GraphQLObjectType) or definition is None:
            continue
        directives = getattr(definition, "directives", None) or ()
        # `resolvable` left unset means resolvable, the federation default
        texts = list(dict.fromkeys(d.fields for d in directives if isinstance(d, Key) and d.resolvable is not False))
        if not texts:
            continue
        keys = tuple(_key(graphql_type, text) for text in texts)
        allowed = {"__typename", *(name for key in keys for name in key.names)}
        for strawberry_field in getattr(definition, "fields", ()):
            for directive in getattr(strawberry_field, "directives", None) or ():
                if isinstance(directive, Requires):
                    allowed.update(_key(graphql_type, directive.fields).names)
        if hasattr(definition.origin, "resolve_reference") or _built_from(graphql_type, allowed):
            yield name, _Entity(graphql_type, keys, frozenset(allowed), " or ".join(texts))


def _built_from(graphql_type: GraphQLObjectType, fields: set[str]) -> bool:
    """Whether strawberry can make the type from a representation without `resolve_reference` (it calls the
    class with the representation's fields): only when every field it needs is one the representation carries.
    A `@key` type that fails this cannot be fetched by reference here, which used to be an INTERNAL error."""
    for name, field in graphql_type.fields.items():
        strawberry_field = field.extensions.get("strawberry-definition")
        needed = strawberry_field is not None and strawberry_field.base_resolver is None and strawberry_field.init
        if needed and _no_default(strawberry_field) and name not in fields:
            return False
    return True


def _no_default(strawberry_field: Any) -> bool:
    return strawberry_field.default is MISSING and strawberry_field.default_factory is MISSING


def _key(owner: GraphQLObjectType, fields: str) -> _Key:
    operation = parse("{" + fields + "}").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    selection = operation.selection_set
    nodes = [s for s in selection.selections if isinstance(s, FieldNode)]
    plain = len(nodes) == len(selection.selections) and all(
        node.selection_set is None
        and node.name.value in owner.fields
        and _nullable(owner.fields[node.name.value].type) in (GraphQLString, GraphQLID)
        for node in nodes
    )
    return _Key(selection, tuple(node.name.value for node in nodes), plain)


def _nullable(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _root_fields(document: DocumentNode, selection_set: SelectionSetNode) -> Iterator[FieldNode]:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    stack, seen = [selection_set], set()
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    stack.append(fragment.selection_set)


def _argument_value(node: ValueNode, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    return value_from_ast_untyped(node, dict(variables))


def _check_all(entities: dict[str, _Entity], value: Any) -> BadUserInput | None:
    if value is None:
        return None  # graphql-core refuses a null for `[_Any!]!` itself
    for index, representation in enumerate(value if isinstance(value, list) else [value]):
        typename = representation.get("__typename") if isinstance(representation, dict) else None
        entity = entities.get(typename) if isinstance(typename, str) else None
        if entity is not None and _fits(entity, representation):
            continue  # the gateway's representations take this path, in well under a microsecond
        return _explain(entities, entity, representation, f"representations.{index}")
    return None


def _fits(entity: _Entity, representation: dict[str, Any]) -> bool:
    """True for the usual representation: known fields only, a plain key complete with strings (no generators:
    this runs once per representation, hundreds per request)."""
    if not entity.allowed.issuperset(representation):
        return False
    for key in entity.keys:
        if key.plain:
            for name in key.names:
                if type(representation.get(name)) is not str:
                    break
            else:
                return True
    return False


def _explain(entities: dict[str, _Entity], entity: _Entity | None, representation: Any, at: str) -> BadUserInput | None:
    """What is wrong with the representation (None when nothing is: a key `_fits` does not know)."""
    if not isinstance(representation, dict):
        return BadUserInput(f"{at} must be an object with a __typename and the key fields", field=at)
    if entity is None:
        known = ", ".join(sorted(entities)) or "none"
        return BadUserInput(
            f"{at}.__typename must name an entity type of this subgraph ({known})", field=f"{at}.__typename"
        )
    name = entity.type.name
    for field in representation:
        if field not in entity.allowed:
            return BadUserInput(
                f"{at} has a field that is not in {name}'s @key; send only __typename and {entity.described}",
                field=f"{at}.{field}",
            )
    for key in entity.keys:
        if all(representation.get(n) is not None for n in key.names):
            return _shape_problem(entity.type, key.fields, representation, at)
    return BadUserInput(f"{at} needs every field of {name}'s key: {entity.described}", field=at)


def _shape_problem(
    parent: GraphQLObjectType, fields: SelectionSetNode, value: dict[str, Any], at: str
) -> BadUserInput | None:
    """Each key field's value has the field's GraphQL type (nested keys such as `village { code }` included)."""
    for selection in fields.selections:
        if isinstance(selection, FieldNode) and selection.name.value in parent.fields:
            name = selection.name.value
            problem = _typed_problem(parent.fields[name].type, selection, value.get(name), f"{at}.{name}")
            if problem is not None:
                return problem
    return None


def _typed_problem(field_type: Any, selection: FieldNode, value: Any, at: str) -> BadUserInput | None:
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if value is None:
        return BadUserInput(f"{at} must not be null", field=at)
    if isinstance(field_type, GraphQLList):
        if not isinstance(value, list):
            return BadUserInput(f"{at} must be a list", field=at)
        for index, item in enumerate(value):
            problem = _typed_problem(field_type.of_type, selection, item, f"{at}.{index}")
            if problem is not None:
                return problem
        return None
    named = get_named_type(field_type)
    if is_leaf_type(named):
        return None if _exactly(named, value) else _mistyped(at, named.name)
    if not isinstance(named, GraphQLObjectType) or selection.selection_set is None:
        return None
    if not isinstance(value, dict):
        return BadUserInput(f"{at} must be an object", field=at)
    allowed = {s.name.value for s in selection.selection_set.selections if isinstance(s, FieldNode)}
    extra = sorted(str(k) for k in value if k not in allowed and k != "__typename")
    if extra:
        return BadUserInput(f"{at} has a field that is not in its key", field=f"{at}.{extra[0]}")
    return _shape_problem(named, selection.selection_set, value, at)


def _exactly(named: Any, value: Any) -> bool:
    """Whether `value` is already what the scalar or enum parses it to (so a resolver gets the declared type)."""
    if named is GraphQLString or named is GraphQLID:
        return type(value) is str
    try:
        parsed = named.parse_value(value)
    except (GraphQLError, TypeError, ValueError):
        return False
    return type(parsed) is type(value) and bool(parsed == value)


def _mistyped(at: str, type_name: str) -> BadUserInput:
    return BadUserInput(f"{at} must be of type {type_name} as the SDL declares (IDs as strings)", field=at)
