"""`@listSize` on every connection field, added once at schema build time so that no subgraph can forget one.

The gateway's cost limit (IBM/Apollo demand-control specification) multiplies the cost of a list's item by the
list's expected size. A connection field (`workers(first: Int, after: String): WorkerConnection`) returns an object,
not a list; without `@listSize` the gateway could only guess the size of its `edges` (the default list size, 10), so
`workers(first: 500) { edges { node { village { workers(first: 500) ... } } } }` looked cheap while asking for
500 x 500 x 500 rows. `annotate_connections` therefore puts

    @listSize(slicingArguments: ["first"], sizedFields: ["edges"], assumedSize: 50, requireOneSlicingArgument: false)

on every field whose type is a connection (an object with `edges` and `pageInfo`) and which takes `first`: the value
of `first` in the operation sizes `edges`; without it the resolver's page is `DEFAULT_PAGE` (50), the assumed size.
`requireOneSlicingArgument: false` because `first` is optional in every connection. A plain list that takes `first`
(`overdueMilestones(first:)`) gets the same without `sizedFields`: `first` sizes the list itself.

Other plain lists (`[Enrolment!]`, `family`, `history`, ...) keep the gateway's default size (see
docs/gateway-security.md for why). A field that declares its own `@listSize` is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from strawberry.federation.schema_directives import ListSize
from strawberry.types.base import (
    StrawberryContainer,
    StrawberryList,
    StrawberryObjectDefinition,
    StrawberryOptional,
    get_object_definition,
)
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.union import StrawberryUnion
from strawberry.types.unset import UNSET

from demimas_common.graphql.pagination import DEFAULT_PAGE

__all__ = ["CONNECTION_LIST_SIZE", "SLICED_LIST_SIZE", "annotate_connections", "sliced_fields"]

SLICING_ARGUMENT = "first"
SIZED_FIELD = "edges"


CONNECTION_LIST_SIZE = ListSize(
    assumed_size=DEFAULT_PAGE,
    slicing_arguments=[SLICING_ARGUMENT],
    sized_fields=[SIZED_FIELD],
    require_one_slicing_argument=False,
)
"""The directive every connection field gets (one shared, immutable-by-convention instance)."""

SLICED_LIST_SIZE = ListSize(
    assumed_size=DEFAULT_PAGE,
    slicing_arguments=[SLICING_ARGUMENT],
    sized_fields=UNSET,  # printed as absent (None would print `sizedFields: null`)
    require_one_slicing_argument=False,
)
"""The directive every plain list field taking `first` gets."""


def annotate_connections(roots: Iterable[type | None]) -> int:
    """Add `CONNECTION_LIST_SIZE` (or `SLICED_LIST_SIZE`) to every connection field (or list field) taking `first`
    reachable from `roots` (query, mutation, extra types) that has no `@listSize` yet; returns how many were added.
    Idempotent: building a schema twice adds nothing the second time."""
    added = 0
    for field, directive in sliced_fields(roots):
        if not any(isinstance(existing, ListSize) for existing in field.directives):
            field.directives.append(directive)
            added += 1
    return added


def sliced_fields(roots: Iterable[type | None]) -> Iterator[tuple[StrawberryField, ListSize]]:
    """Fields reachable from `roots` that take `first` and return a connection or a list, with their directive."""
    seen: set[int] = set()
    pending = [definition for root in roots if (definition := _definition(root)) is not None]
    while pending:
        definition = pending.pop()
        if id(definition) in seen:
            continue
        seen.add(id(definition))
        pending.extend(interface for interface in definition.interfaces if id(interface) not in seen)
        for field in definition.fields:
            targets = [target for target in _named(field.type) if target is not None]
            pending.extend(targets)
            if not _takes_first(field):
                continue
            if _is_list(field.type):
                yield field, SLICED_LIST_SIZE
            elif any(_is_connection(target) for target in targets):
                yield field, CONNECTION_LIST_SIZE


def _definition(value: Any) -> StrawberryObjectDefinition | None:
    if value is None:
        return None
    if isinstance(value, StrawberryObjectDefinition):
        return value
    if isinstance(value, LazyType):
        return _definition(value.resolve_type())
    return get_object_definition(value)


def _named(gtype: Any) -> Iterator[StrawberryObjectDefinition | None]:
    """The object types under lists, optionals, lazy types and unions (scalars and enums give nothing)."""
    while isinstance(gtype, StrawberryContainer):
        gtype = gtype.of_type
    if isinstance(gtype, LazyType):
        gtype = gtype.resolve_type()
    if isinstance(gtype, StrawberryUnion):
        for member in gtype.types:
            yield from _named(member)
        return
    yield _definition(gtype)


def _is_list(gtype: Any) -> bool:
    while isinstance(gtype, StrawberryOptional):
        gtype = gtype.of_type
    return isinstance(gtype, StrawberryList)


def _takes_first(field: StrawberryField) -> bool:
    return any((argument.graphql_name or argument.python_name) == SLICING_ARGUMENT for argument in field.arguments)


def _is_connection(definition: StrawberryObjectDefinition) -> bool:
    names = {field.graphql_name or field.python_name for field in definition.fields}
    return SIZED_FIELD in names and ("page_info" in names or "pageInfo" in names)
