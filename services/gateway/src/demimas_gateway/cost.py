"""Static cost of an operation from `@cost` and `@listSize` (the IBM/Apollo demand-control specification).

Default weights as in the specification: an object, interface or union field costs 1, a scalar or enum field 0, a
root mutation field 10; `@cost(weight:)` on a field or a type replaces its default. A list field multiplies the cost
of one item (its weight plus its selection's cost) by its estimated size: the value of the first of its
`@listSize(slicingArguments:)` given in the operation, else `@listSize(assumedSize:)`, else the gateway's default
list size. Fragments are costed once per (fragment, type); the cost of an operation depends on variables only
through slicing arguments, so `http.py`'s caller caches it per document and those variables' values.
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

__all__ = ["CostModel", "estimate"]

_FIELDED = (ObjectTypeDefinitionNode, ObjectTypeExtensionNode, InterfaceTypeDefinitionNode, InterfaceTypeExtensionNode)


@dataclass
class CostModel:
    """Weights read from a supergraph's SDL."""

    field_weights: dict[tuple[str, str], float] = field(default_factory=dict)
    type_weights: dict[str, float] = field(default_factory=dict)
    list_sizes: dict[tuple[str, str], tuple[tuple[str, ...], int | None]] = field(default_factory=dict)
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
                        slicing = _arg(directive.arguments, "slicingArguments")
                        names = (
                            tuple(v.value for v in slicing.values if isinstance(v, StringValueNode))
                            if (isinstance(slicing, ListValueNode))
                            else ()
                        )
                        assumed = _number(_arg(directive.arguments, "assumedSize"))
                        model.list_sizes[key] = (names, int(assumed) if assumed is not None else None)
        return model


def _arg(arguments: Any, name: str) -> ValueNode | None:
    for arg in arguments or ():
        if arg.name.value == name:
            value: ValueNode = arg.value
            return value
    return None


def _number(value: ValueNode | None) -> float | None:
    if isinstance(value, IntValueNode | FloatValueNode | StringValueNode):
        try:
            return float(value.value)
        except ValueError:
            return None
    return None


def estimate(
    schema: GraphQLSchema,
    model: CostModel,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> float:
    """The operation's cost; an operation that does not validate may cost anything (validation refuses it later)."""
    memo: dict[tuple[str, str], float] = {}
    visiting: set[tuple[str, str]] = set()
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0.0
    mutation = operation.operation == OperationType.MUTATION

    def size(field_node: FieldNode, parent: str) -> int:
        names, assumed = model.list_sizes.get((parent, field_node.name.value), ((), None))
        for arg in field_node.arguments or ():
            if arg.name.value in names:
                value: Any = arg.value
                if isinstance(value, VariableNode):
                    value = variables.get(value.name.value)
                elif isinstance(value, IntValueNode):
                    value = int(value.value)
                if isinstance(value, int) and value >= 0:
                    return value
        return assumed if assumed is not None else model.default_list_size

    def field_cost(node: FieldNode, parent: Any, top: bool) -> float:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None:
            return 0.0
        gtype: GraphQLOutputType = definition.type
        named = get_named_type(gtype)
        composite = isinstance(named, GraphQLObjectType | GraphQLAbstractType) or hasattr(named, "interfaces")
        weight = model.field_weights.get((parent.name, node.name.value))
        if weight is None:
            weight = model.type_weights.get(named.name, 10.0 if top and mutation else (1.0 if composite else 0.0))
        item = weight + (selection(node.selection_set, named) if composite else 0.0)
        inner = gtype.of_type if isinstance(gtype, GraphQLNonNull) else gtype
        if isinstance(inner, GraphQLList):
            return size(node, parent.name) * item
        return item

    def selection(node: SelectionSetNode | None, parent: Any, top: bool = False) -> float:
        total = 0.0
        for item in node.selections if node else ():
            if isinstance(item, FieldNode):
                if not item.name.value.startswith("__"):
                    total += field_cost(item, parent, top)
            elif isinstance(item, FragmentSpreadNode):
                definition = fragments.get(item.name.value)
                if definition is None:
                    continue
                condition = schema.get_type(definition.type_condition.name.value) or parent
                key = (item.name.value, condition.name)
                if key in visiting:
                    continue
                cached = memo.get(key)
                if cached is None:
                    visiting.add(key)
                    cached = memo[key] = selection(definition.selection_set, condition, top)
                    visiting.discard(key)
                total += cached
            elif isinstance(item, InlineFragmentNode):
                condition = schema.get_type(item.type_condition.name.value) if item.type_condition else parent
                total += selection(item.selection_set, condition or parent, top)
        return total

    return selection(operation.selection_set, root, top=True)


def slicing_variables(model: CostModel, operation: OperationDefinitionNode) -> bool:
    """Whether any argument of the operation is a variable (cheap check: the cost then depends on variables only if
    one of them is a slicing argument; callers re-estimate per request then)."""
    return bool(model.list_sizes) and bool(operation.variable_definitions)
