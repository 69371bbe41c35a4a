"""A validated operation normalised for planning: fragments inlined, `@skip`/`@include` applied, fields with one
response key merged, and fields the caller may not see marked (Apollo Router's authorization semantics: they are
removed before planning and answered `null` with an `UNAUTHORIZED_FIELD_OR_TYPE` error)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLCompositeType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast,
)
from graphql import GraphQLBoolean as Boolean
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

__all__ = ["Field", "Fragment", "Item", "NormalizedOperation", "fields_for", "normalize", "type_condition_applies"]


@dataclass(eq=False)
class Field:
    key: str
    name: str
    arguments: tuple[ArgumentNode, ...]
    type: GraphQLOutputType
    named: str
    parent: str
    children: list[Item] = field(default_factory=list)
    composite: bool = False
    unauthorized: bool = False
    denial: str = "UNAUTHORIZED_FIELD_OR_TYPE"
    """Why an `unauthorized` field was removed: the code of its error (`PURPOSE_REQUIRED` for personal data read
    without a purpose)."""
    directives: tuple[DirectiveNode, ...] = ()
    args_text: str | None = None
    """Printed arguments of a field the planner adds itself (a `@requires` field set entry)."""


@dataclass(eq=False)
class Fragment:
    type_condition: str
    children: list[Item] = field(default_factory=list)


Item = Field | Fragment


@dataclass
class NormalizedOperation:
    operation: str  # query | mutation | subscription
    root_type: str
    items: list[Item]
    unauthorized_paths: list[tuple[str, ...]]
    variables_used: set[str]


def type_condition_applies(schema: GraphQLSchema, condition: str, runtime: str) -> bool:
    if condition == runtime:
        return True
    abstract = schema.type_map.get(condition)
    obj = schema.type_map.get(runtime)
    if isinstance(abstract, GraphQLAbstractType) and isinstance(obj, GraphQLObjectType | GraphQLInterfaceType):
        return schema.is_sub_type(abstract, obj)
    return False


AuthCheck = Callable[[str, str | None], bool]
"""(type name, field name or None for the type itself) -> whether the caller may see it."""


def _directive_applies(directives: Sequence[DirectiveNode] | None, variables: Mapping[str, Any]) -> bool:
    for directive in directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        arg = next((a for a in directive.arguments or () if a.name.value == "if"), None)
        value = value_from_ast(arg.value, Boolean, dict(variables)) if arg else None
        if name == "skip" and value is True:
            return False
        if name == "include" and value is not True:
            return False
    return True


def _collect_variables(node: Any, out: set[str]) -> None:
    from graphql import VariableNode, visit
    from graphql.language import Visitor

    class _V(Visitor):
        def enter_variable(self, var: VariableNode, *_: Any) -> None:
            out.add(var.name.value)

    visit(node, _V())


def normalize(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    allowed: AuthCheck | None = None,
    purpose_missing: AuthCheck | None = None,
) -> NormalizedOperation:
    """`purpose_missing(type, field)`: True for a field the caller may see but only with a purpose it has not
    named; such fields are removed like unauthorised ones, with a `PURPOSE_REQUIRED` error."""
    kind = operation.operation.value
    root = schema.get_root_type(operation.operation)
    if root is None:
        raise ValueError(f"the schema has no {kind} type")
    unauthorized: list[tuple[str, ...]] = []
    used: set[str] = set()

    def field_def(parent: GraphQLCompositeType, name: str) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if name == "__schema" and parent is root:
            return SchemaMetaFieldDef
        if name == "__type" and parent is root:
            return TypeMetaFieldDef
        fields = getattr(parent, "fields", None)
        return fields.get(name) if fields else None

    def walk(selection_set: SelectionSetNode | None, parent: GraphQLCompositeType, path: tuple[str, ...]) -> list[Item]:
        out: list[Item] = []
        for selection in selection_set.selections if selection_set else ():
            if not _directive_applies(selection.directives, variables):
                continue
            if isinstance(selection, FieldNode):
                name = selection.name.value
                definition = field_def(parent, name)
                if definition is None:  # validation guarantees this does not happen for the API schema
                    continue
                key = selection.alias.value if selection.alias else name
                named = get_named_type(definition.type)
                composite = isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLAbstractType)
                item = Field(
                    key=key,
                    name=name,
                    arguments=tuple(selection.arguments or ()),
                    type=definition.type,
                    named=named.name,
                    parent=parent.name,
                    composite=composite,
                    directives=tuple(d for d in selection.directives or () if d.name.value not in ("skip", "include")),
                )
                for arg in item.arguments:
                    _collect_variables(arg, used)
                if (
                    allowed is not None
                    and not name.startswith("__")
                    and not (allowed(parent.name, name) and allowed(named.name, None))
                ):
                    item.unauthorized = True
                    item.composite = False
                    unauthorized.append((*path, key))
                elif purpose_missing is not None and purpose_missing(parent.name, name):
                    item.unauthorized = True
                    item.denial = "PURPOSE_REQUIRED"
                    item.composite = False
                elif composite:
                    item.children = walk(selection.selection_set, named, (*path, key))  # type: ignore[arg-type]
                out.append(item)
            else:
                if isinstance(selection, FragmentSpreadNode):
                    definition_node = fragments.get(selection.name.value)
                    if definition_node is None:
                        continue
                    condition: str = definition_node.type_condition.name.value
                    sub = definition_node.selection_set
                else:
                    assert isinstance(selection, InlineFragmentNode)
                    condition = selection.type_condition.name.value if selection.type_condition else parent.name
                    sub = selection.selection_set
                ctype = schema.type_map.get(condition)
                if ctype is None:
                    continue
                if allowed is not None and not allowed(condition, None):
                    continue
                children = walk(sub, ctype, path)  # type: ignore[arg-type]
                if condition == parent.name or (
                    isinstance(parent, GraphQLObjectType) and type_condition_applies(schema, condition, parent.name)
                ):
                    out.extend(children)
                else:
                    out.append(Fragment(condition, children))
        return merge(out)

    items = walk(operation.selection_set, root, ())
    return NormalizedOperation(kind, root.name, items, unauthorized, used)


def merge(items: list[Item]) -> list[Item]:
    """Fields with one response key become one field; fragments with one condition become one fragment."""
    fields: dict[str, Field] = {}
    fragments: dict[str, Fragment] = {}
    out: list[Item] = []
    changed = False
    for item in items:
        if isinstance(item, Field):
            existing = fields.get(item.key)
            if existing is None:
                fields[item.key] = item
                out.append(item)
            else:
                changed = True
                if existing.unauthorized or item.unauthorized:
                    existing.unauthorized = True
                    existing.children = []
                    existing.composite = False
                else:
                    existing.children = existing.children + item.children
        else:
            frag = fragments.get(item.type_condition)
            if frag is None:
                fragments[item.type_condition] = item
                out.append(item)
            else:
                changed = True
                frag.children = frag.children + item.children
    if changed:
        for item in out:
            if (isinstance(item, Field) and item.children) or isinstance(item, Fragment):
                item.children = merge(item.children)
    return out


def fields_for(schema: GraphQLSchema, items: list[Item], runtime: str) -> list[Field]:
    """The fields that apply to an object of type `runtime`, fragments flattened, one field per response key
    (GraphQL's CollectFields). Fields are copied when merged, so the shared tree is never changed."""
    out: dict[str, Field] = {}

    def add(selection: list[Item]) -> None:
        for item in selection:
            if isinstance(item, Field):
                existing = out.get(item.key)
                if existing is None:
                    out[item.key] = item
                elif existing.unauthorized or item.unauthorized:
                    out[item.key] = Field(
                        **{**existing.__dict__, "unauthorized": True, "children": [], "composite": False}
                    )
                else:
                    out[item.key] = Field(**{**existing.__dict__, "children": existing.children + item.children})
            elif type_condition_applies(schema, item.type_condition, runtime):
                add(item.children)

    add(items)
    return list(out.values())
