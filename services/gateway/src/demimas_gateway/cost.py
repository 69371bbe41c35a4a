"""Static cost of an operation from `@cost` and `@listSize` (the IBM/Apollo demand-control specification).

Default weights as in the specification: an object, interface or union field costs 1, a scalar or enum field 0, a
root mutation field 10; `@cost(weight:)` on a field or a type replaces its default. A list field multiplies the cost
of one item (its weight plus its selection's cost) by its estimated size.

The size, as Apollo Router's demand control computes it: a field's `@listSize` gives an expected size, the largest
value of its `slicingArguments` in the operation (a literal, a variable's value, else the argument's default in the
schema), else its `assumedSize`. Without `sizedFields` that size is the field's own (the field is the list); with
`sizedFields` (a connection: `@listSize(slicingArguments: ["first"], sizedFields: ["edges"])`) the field is one
object and the size goes to those list fields of its selection, so `workers(first: 500) { edges { node { ... } } }`
counts 500 nodes. A list with no expected size counts as the gateway's default list size.
`requireOneSlicingArgument` is not enforced (every `@listSize` of our subgraphs sets it false: `first` is optional).

Fragments are costed once per (fragment, type, sizes handed down); the cost of an operation depends on variables
only through slicing arguments, so `http.py`'s caller caches it per document and those variables' values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    parse,
)
from graphql.language import InterfaceTypeDefinitionNode, InterfaceTypeExtensionNode

__all__ = ["CostModel", "ListSize", "estimate"]

_FIELDED = (ObjectTypeDefinitionNode, ObjectTypeExtensionNode, InterfaceTypeDefinitionNode, InterfaceTypeExtensionNode)


@dataclass(frozen=True)
class ListSize:
    """One field's `@listSize`."""

    slicing_arguments: tuple[str, ...] = ()
    assumed_size: int | None = None
    sized_fields: frozenset[str] = frozenset()


@dataclass
class CostModel:
    """Weights read from a supergraph's SDL."""

    field_weights: dict[tuple[str, str], float] = field(default_factory=dict)
    type_weights: dict[str, float] = field(default_factory=dict)
    list_sizes: dict[tuple[str, str], ListSize] = field(default_factory=dict)
    default_list_size: int = 10

    @classmethod
    def from_sdl(cls, sdl: str, default_list_size: int = 10) -> CostModel:
        model = cls(default_list_size=default_list_size)
        for definition in parse(sdl, no_location=True).definitions:
            name = getattr(definition, "name", None)
            if name is None:
                continue
            for directive in getattr(definition, "directives", None) or ():
                if directive.name.value == "cost":
                    weight = _number(_arg(directive.arguments, "weight"))
                    if weight is not None:
                        model.type_weights[name.value] = weight
            if not isinstance(definition, _FIELDED):
                continue
            for fnode in definition.fields or ():
                key = (name.value, fnode.name.value)
                for directive in fnode.directives or ():
                    if directive.name.value == "cost":
                        weight = _number(_arg(directive.arguments, "weight"))
                        if weight is not None:
                            model.field_weights[key] = weight
                    elif directive.name.value == "listSize":
                        assumed = _number(_arg(directive.arguments, "assumedSize"))
                        model.list_sizes[key] = ListSize(
                            slicing_arguments=_strings(_arg(directive.arguments, "slicingArguments")),
                            assumed_size=int(assumed) if assumed is not None else None,
                            sized_fields=frozenset(_strings(_arg(directive.arguments, "sizedFields"))),
                        )
        return model


def _arg(arguments: Any, name: str) -> ValueNode | None:
    for arg in arguments or ():
        if arg.name.value == name:
            value: ValueNode = arg.value
            return value
    return None


def _strings(value: ValueNode | None) -> tuple[str, ...]:
    if isinstance(value, ListValueNode):
        return tuple(v.value for v in value.values if isinstance(v, StringValueNode))
    if isinstance(value, StringValueNode):  # a single string where a list is expected (input coercion)
        return (value.value,)
    return ()


def _default_int(argument: Any) -> int | None:
    """An argument's default from the SDL (`first: Int = 20`), read from its AST: graphql-core 3.3 keeps defaults
    as literals and 3.2 as values."""
    node = getattr(getattr(argument, "ast_node", None), "default_value", None)
    if isinstance(node, IntValueNode):
        return int(node.value)
    value = getattr(argument, "default_value", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: ValueNode | None) -> float | None:
    if isinstance(value, IntValueNode | FloatValueNode | StringValueNode):
        try:
            return float(value.value)
        except ValueError:
            return None
    return None


Sized = tuple[frozenset[str], int] | None
"""Sizes a connection hands down to its `sizedFields`: (field names, size), or None."""


def estimate(
    schema: GraphQLSchema,
    model: CostModel,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> float:
    """The operation's cost; an operation that does not validate may cost anything (validation refuses it later)."""
    memo: dict[tuple[str, str, Sized], float] = {}
    visiting: set[tuple[str, str, Sized]] = set()
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0.0
    mutation = operation.operation == OperationType.MUTATION

    def expected_size(node: FieldNode, definition: Any, rule: ListSize) -> int | None:
        """The largest slicing argument given (or defaulted in the schema), else the assumed size."""
        given: dict[str, Any] = {arg.name.value: arg.value for arg in node.arguments or ()}
        sizes: list[int] = []
        for name in rule.slicing_arguments:
            value: Any = given.get(name)
            if isinstance(value, VariableNode):
                value = variables.get(value.name.value)
            elif isinstance(value, IntValueNode):
                value = int(value.value)
            elif value is None:  # absent: the argument's default in the schema, if any
                value = _default_int(definition.args.get(name))
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                sizes.append(value)
        return max(sizes) if sizes else rule.assumed_size

    def field_cost(node: FieldNode, parent: Any, top: bool, sized: Sized) -> float:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None:
            return 0.0
        gtype: GraphQLOutputType = definition.type
        named = get_named_type(gtype)
        composite = isinstance(named, GraphQLObjectType | GraphQLAbstractType) or hasattr(named, "interfaces")
        weight = model.field_weights.get((parent.name, node.name.value))
        if weight is None:
            weight = model.type_weights.get(named.name, 10.0 if top and mutation else (1.0 if composite else 0.0))
        rule = model.list_sizes.get((parent.name, node.name.value))
        expected = expected_size(node, definition, rule) if rule is not None else None
        handed: Sized = (rule.sized_fields, expected) if rule and rule.sized_fields and expected is not None else None
        item = weight + (selection(node.selection_set, named, handed=handed) if composite else 0.0)
        inner = gtype.of_type if isinstance(gtype, GraphQLNonNull) else gtype
        if not isinstance(inner, GraphQLList):
            return item
        if sized is not None and node.name.value in sized[0]:
            return sized[1] * item  # sized by the connection above (`edges` of `workers(first: 500)`)
        if rule is not None and not rule.sized_fields and expected is not None:
            return expected * item
        return model.default_list_size * item

    def selection(node: SelectionSetNode | None, parent: Any, top: bool = False, handed: Sized = None) -> float:
        total = 0.0
        for item in node.selections if node else ():
            if isinstance(item, FieldNode):
                if not item.name.value.startswith("__"):
                    total += field_cost(item, parent, top, handed)
            elif isinstance(item, FragmentSpreadNode):
                definition = fragments.get(item.name.value)
                if definition is None:
                    continue
                condition = schema.get_type(definition.type_condition.name.value) or parent
                key = (item.name.value, condition.name, handed)
                if key in visiting:
                    continue
                cached = memo.get(key)
                if cached is None:
                    visiting.add(key)
                    cached = memo[key] = selection(definition.selection_set, condition, top, handed)
                    visiting.discard(key)
                total += cached
            elif isinstance(item, InlineFragmentNode):
                condition = schema.get_type(item.type_condition.name.value) if item.type_condition else parent
                total += selection(item.selection_set, condition or parent, top, handed)
        return total

    return selection(operation.selection_set, root, top=True)


def slicing_variables(model: CostModel, operation: OperationDefinitionNode) -> bool:
    """Whether any argument of the operation is a variable (cheap check: the cost then depends on variables only if
    one of them is a slicing argument; callers re-estimate per request then)."""
    return bool(model.list_sizes) and bool(operation.variable_definitions)
