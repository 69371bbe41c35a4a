"""Input no resolver should ever see, refused before execution with BAD_USER_INPUT and the path at fault.

Every subgraph's schema runs `InputGuard` (`schema.build_schema`), so a new field or a new subgraph is covered
without a line of its own:

- **Text.** No string anywhere in the operation (a variable's value at any depth, an object key, a literal of an
  argument or of a variable's default) may hold a NUL character or a lone surrogate. Neither can be stored in a
  PostgreSQL `text` column nor written to a UTF-8 log, so they used to surface as the driver's error, a 500.
  `extensions.field` is the argument path (`filter.regionPrefix`, `input.milestones.0.title`) for a literal and the
  variable path (`filter.regionPrefix` for `$filter`) for a variable, as graphql-core names variables.
- **`_entities` representations** must be objects of an entity type of this subgraph (`__typename` is a type with a
  resolvable `@key`), carry every field of one of its keys, only key fields or `@requires` fields, each of the
  key's GraphQL type exactly (an `ID` as a string). Strawberry passes a representation to `resolve_reference` as
  keyword arguments, unchecked, so an extra key was a `TypeError` and a number where a string belongs reached SQL.
  `extensions.field` is `representations.<index>.<key>`.

The checks run in `on_execute`, after parsing and validation: setting the result there makes strawberry skip
execution, so nothing is half-done. They cost one walk over the variables and the document's arguments.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    parse,
    value_from_ast_untyped,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.federation.schema_directives import Key, Requires

from demimas_common.errors import BadUserInput

__all__ = ["InputGuard", "check_operation", "text_problem"]


class InputGuard(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            problem = check_operation(context.schema._schema, document, context.variables, context.operation_name)
            if problem is not None:
                error = GraphQLError(problem.message, extensions=problem.extensions)
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


def check_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
) -> BadUserInput | None:
    """The first thing wrong with the operation's input, or None."""
    problem = _document_problem(document)
    if problem is None and variables:
        problem = _value_problem(variables, ())
    if problem is None:
        problem = _entities_problem(schema, document, variables or {}, operation_name)
    return problem


def text_problem(text: str) -> str | None:
    """What makes `text` unstorable, or None."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate (U+D800 to U+DFFF), which is not a character"
    return None


def _refused(path: tuple[str | int, ...], what: str, where: str = "") -> BadUserInput:
    name = ".".join(str(part) for part in path)
    return BadUserInput(f"{name or 'a value'}{where} contains {what}; remove it", field=name or None)


def _value_problem(value: Any, path: tuple[str | int, ...]) -> BadUserInput | None:
    """NUL and lone surrogates in a JSON value (keys included), walked without recursion."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, path)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            what = text_problem(item)
            if what:
                return _refused(at, what)
        elif isinstance(item, Mapping):
            for key, child in item.items():
                what = text_problem(str(key))
                if what:
                    return _refused(at, what, " has a key that")
                stack.append((child, (*at, key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, (*at, index)) for index, child in enumerate(item))
    return None


def _document_problem(document: DocumentNode) -> BadUserInput | None:
    for definition in document.definitions:
        for node, path in _literals(definition):
            what = text_problem(node.value)
            if what:
                return _refused(path, what)
    return None


def _literals(root: Any) -> Iterator[tuple[StringValueNode, tuple[str | int, ...]]]:
    """Every string literal under `root` with its path: argument name, then object fields and list indices."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, StringValueNode):
            yield node, path
        elif isinstance(node, ListValueNode):
            stack.extend((item, (*path, index)) for index, item in enumerate(node.values))
        elif isinstance(node, ObjectValueNode):
            stack.extend((item.value, (*path, item.name.value)) for item in node.fields)
        elif isinstance(node, ArgumentNode):
            stack.append((node.value, (node.name.value,)))
        elif isinstance(node, VariableDefinitionNode):
            if node.default_value is not None:
                stack.append((node.default_value, (node.variable.name.value,)))
            stack.extend((directive, ()) for directive in node.directives or ())
        elif not isinstance(node, ValueNode):
            # operations, fragments, fields, directives: their arguments and children
            for attribute in ("variable_definitions", "directives", "arguments"):
                stack.extend((child, ()) for child in getattr(node, attribute, None) or ())
            selection_set = getattr(node, "selection_set", None)
            if selection_set is not None:
                stack.extend((child, ()) for child in selection_set.selections)


# --- `_entities` representations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entity:
    type: GraphQLObjectType
    keys: tuple[SelectionSetNode, ...]
    allowed: frozenset[str]
    key_text: str


_entity_maps: weakref.WeakKeyDictionary[GraphQLSchema, dict[str, _Entity]] = weakref.WeakKeyDictionary()


def _entities_of(schema: GraphQLSchema) -> dict[str, _Entity]:
    found = _entity_maps.get(schema)
    if found is None:
        found = _entity_maps[schema] = _build_entities(schema)
    return found


def _build_entities(schema: GraphQLSchema) -> dict[str, _Entity]:
    entities: dict[str, _Entity] = {}
    for name, graphql_type in schema.type_map.items():
        definition = (getattr(graphql_type, "extensions", None) or {}).get("strawberry-definition")
        if not isinstance(graphql_type, GraphQLObjectType) or definition is None:
            continue
        # `resolvable` left unset means resolvable, the federation default
        texts = [
            d.fields for d in getattr(definition, "directives", ()) if isinstance(d, Key) and d.resolvable is not False
        ]
        if not texts:
            continue
        keys = tuple(_selection(text) for text in dict.fromkeys(texts))
        allowed = {
            selection.name.value for key in keys for selection in key.selections if isinstance(selection, FieldNode)
        }
        for strawberry_field in getattr(definition, "fields", ()):
            for directive in getattr(strawberry_field, "directives", ()):
                if isinstance(directive, Requires):
                    required = _selection(directive.fields).selections
                    allowed |= {s.name.value for s in required if isinstance(s, FieldNode)}
        entities[name] = _Entity(graphql_type, keys, frozenset(allowed), " or ".join(dict.fromkeys(texts)))
    return entities


def _selection(fields: str) -> SelectionSetNode:
    operation = parse("{" + fields + "}").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.selection_set


def _entities_problem(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any], operation_name: str | None
) -> BadUserInput | None:
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation.value != "query":
        return None
    for node in _root_fields(document, operation.selection_set):
        if node.name.value != "_entities":
            continue
        for argument in node.arguments or ():
            if argument.name.value == "representations":
                problem = _representations_problem(schema, _argument_value(argument.value, variables))
                if problem is not None:
                    return problem
    return None


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


def _representations_problem(schema: GraphQLSchema, value: Any) -> BadUserInput | None:
    if value is None:
        return None  # graphql-core refuses a null for `[_Any!]!` itself
    entities = _entities_of(schema)
    for index, representation in enumerate(value if isinstance(value, list) else [value]):
        at = f"representations.{index}"
        if not isinstance(representation, dict):
            return BadUserInput(f"{at} must be an object with a __typename and the key fields", field=at)
        typename = representation.get("__typename")
        entity = entities.get(typename) if isinstance(typename, str) else None
        if entity is None:
            known = ", ".join(sorted(entities)) or "none"
            return BadUserInput(
                f"{at}.__typename must name an entity type of this subgraph ({known})", field=f"{at}.__typename"
            )
        problem = _representation_problem(entity, representation, at)
        if problem is not None:
            return problem
    return None


def _representation_problem(entity: _Entity, representation: dict[str, Any], at: str) -> BadUserInput | None:
    name = entity.type.name
    for key in representation:
        if key != "__typename" and key not in entity.allowed:
            return BadUserInput(
                f"{at} has a field that is not in {name}'s @key; send only __typename and {entity.key_text}",
                field=f"{at}.{key}",
            )
    complete = [key for key in entity.keys if all(_has(representation, s) for s in key.selections)]
    if not complete:
        return BadUserInput(f"{at} needs every field of {name}'s key: {entity.key_text}", field=at)
    return _shape_problem(entity.type, complete[0], representation, at)


def _has(representation: dict[str, Any], selection: Any) -> bool:
    return isinstance(selection, FieldNode) and representation.get(selection.name.value) is not None


def _shape_problem(
    parent: GraphQLObjectType, key: SelectionSetNode, value: dict[str, Any], at: str
) -> BadUserInput | None:
    """Each key field's value has the field's GraphQL type (nested keys such as `village { code }` included)."""
    for selection in key.selections:
        if not isinstance(selection, FieldNode) or selection.name.value not in parent.fields:
            continue
        name = selection.name.value
        field_type = parent.fields[name].type
        problem = _typed_problem(field_type, selection, value.get(name), f"{at}.{name}")
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
        try:
            parsed = named.parse_value(value)
        except (GraphQLError, TypeError, ValueError):
            parsed = _MISMATCH
        if type(parsed) is not type(value) or parsed != value:
            return BadUserInput(f"{at} must be of type {named.name} as the SDL declares (IDs as strings)", field=at)
        return None
    if not isinstance(named, GraphQLObjectType) or selection.selection_set is None:
        return None
    if not isinstance(value, dict):
        return BadUserInput(f"{at} must be an object", field=at)
    allowed = {s.name.value for s in selection.selection_set.selections if isinstance(s, FieldNode)}
    extra = sorted(str(k) for k in value if k not in allowed and k != "__typename")
    if extra:
        return BadUserInput(f"{at} has a field its key does not declare", field=f"{at}.{extra[0]}")
    return _shape_problem(named, selection.selection_set, value, at)


_MISMATCH = object()
