"""`@listSize` added to connections and sliced lists at schema build time (the gateway's cost limit reads it)."""

from __future__ import annotations

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.types.unset import UNSET

from demimas_common.graphql.list_size import annotate_connections
from demimas_common.graphql.pagination import Connection
from demimas_common.graphql.schema import build_schema
from demimas_common.graphql.types import PageInfo

CONNECTION = (
    '@listSize(assumedSize: 50, slicingArguments: ["first"], sizedFields: ["edges"], requireOneSlicingArgument: false)'
)
SLICED = '@listSize(assumedSize: 50, slicingArguments: ["first"], requireOneSlicingArgument: false)'


@strawberry.type
class Leaf:
    id: strawberry.ID


@strawberry.type
class HandWrittenLeafEdge:
    cursor: str
    node: Leaf


@strawberry.type
class HandWrittenLeaves:  # a hand-written connection, as the services write them
    edges: list[HandWrittenLeafEdge]
    page_info: PageInfo


@strawberry.type
class Branch:
    @strawberry.field
    def leaves(self, first: int | None = None) -> HandWrittenLeaves | None:  # reached only through Query.branch
        return None

    @strawberry.field
    def generic(self, first: int | None = None) -> Connection[Leaf]:  # the generic one of libs/common
        raise NotImplementedError

    @strawberry.field
    def recent(self, first: int | None = None) -> list[Leaf]:  # a plain list with `first`
        return []

    @strawberry.field
    def all(self) -> list[Leaf]:  # a plain list without `first`: the gateway's default size
        return []

    @strawberry.field
    def unsliced(self) -> HandWrittenLeaves:  # a connection without `first`: nothing to slice by
        raise NotImplementedError

    @strawberry.field(
        directives=[
            ListSize(assumed_size=3, slicing_arguments=UNSET, sized_fields=UNSET, require_one_slicing_argument=False)
        ]
    )  # type: ignore[untyped-decorator]
    def own(self, first: int | None = None) -> list[Leaf]:  # declares its own: kept
        return []


@strawberry.type
class Query:
    @strawberry.field
    def branch(self) -> Branch | None:
        return None


def _line(sdl: str, field: str) -> str:
    return next(line.strip() for line in sdl.splitlines() if line.strip().startswith(field))


def test_every_connection_and_sliced_list_gets_list_size_and_nothing_else_does() -> None:
    sdl = build_schema(query=Query).as_str()
    assert '"@listSize"' in _line(sdl, "schema @link")  # imported, so composition keeps it
    assert _line(sdl, "leaves(").endswith(CONNECTION)  # nested, reached from a root's type
    assert _line(sdl, "generic(").endswith(CONNECTION)
    assert _line(sdl, "recent(").endswith(SLICED)
    assert "@listSize" not in _line(sdl, "all:")
    assert "@listSize" not in _line(sdl, "unsliced:")
    assert _line(sdl, "own(").endswith("@listSize(assumedSize: 3, requireOneSlicingArgument: false)")


def test_annotating_twice_adds_nothing() -> None:
    build_schema(query=Query)
    assert annotate_connections([Query]) == 0
    assert build_schema(query=Query).as_str().count("@listSize(") == 4
