"""Field sets of `@key`, `@requires` and `@provides` (`"id org { id }"`, `"... on Car { vin }"`) as small trees."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import FieldNode, GraphQLError, InlineFragmentNode, SelectionSetNode, parse, print_ast

__all__ = ["FieldSet", "FsField", "FsFragment", "parse_field_set"]


@dataclass(frozen=True)
class FsField:
    name: str
    children: FieldSet
    args: str = ""
    """Arguments as printed GraphQL (`(currency: USD)`), empty when none."""


@dataclass(frozen=True)
class FsFragment:
    type_condition: str | None
    children: FieldSet


FieldSet = tuple[FsField | FsFragment, ...]


def _convert(selection_set: SelectionSetNode | None) -> FieldSet:
    if selection_set is None:
        return ()
    out: list[FsField | FsFragment] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            args = ""
            if selection.arguments:
                args = "(" + ",".join(print_ast(a) for a in selection.arguments) + ")"
            out.append(FsField(selection.name.value, _convert(selection.selection_set), args))
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition.name.value if selection.type_condition else None
            out.append(FsFragment(condition, _convert(selection.selection_set)))
        else:
            raise GraphQLError("named fragment spreads are not allowed in a field set")
    return tuple(out)


def parse_field_set(text: str) -> FieldSet:
    document = parse("{" + text + "}", no_location=True)
    operation = document.definitions[0]
    return _convert(operation.selection_set)  # type: ignore[attr-defined]
