"""Request limits and cost, measured on parsed documents (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, build_schema, parse

from demimas_gateway.cost import CostModel, estimate
from demimas_gateway.limits import Measures, RequestLimits, first_violation, measure

SUPERGRAPH = (Path(__file__).parent.parent / "fixtures" / "bench-supergraph.graphql").read_text()


def measured(query: str) -> Measures:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return measure(operation, fragments)


class TestMeasure:
    def test_depth_height_aliases_root_fields_directives(self) -> None:
        figures = measured("{ a { b { c } x: b { d @skip(if: true) } } e ...F } fragment F on Q { f g { h } }")
        assert figures == Measures(depth=3, height=9, aliases=1, root_fields=4, directives=1)

    def test_fragment_bomb_is_measured_in_linear_time(self) -> None:
        levels = 40  # expands to 2**40 fields
        fragments = " ".join(f"fragment F{i} on Q {{ a: f ...F{i + 1} b: f ...F{i + 1} }}" for i in range(levels))
        figures = measured(f"{{ ...F0 }} {fragments} fragment F{levels} on Q {{ x }}")
        assert figures.height > 2**40
        assert first_violation(figures, RequestLimits()) is not None

    def test_fragment_cycle_does_not_loop(self) -> None:
        figures = measured("{ ...A } fragment A on Q { a ...B } fragment B on Q { b ...A }")
        assert figures.height == 2

    @pytest.mark.parametrize(
        ("query", "limit"),
        [
            ("{ a { b { c { d } } } }", "depth"),
            ("{ a b c d e }", "root_fields"),
            ("{ x: a y: a }", "aliases"),
            ("{ a @include(if: true) @skip(if: false) @include(if: true) }", "directives"),
            ("{ a { b c d e f } }", "height"),
        ],
    )
    def test_each_limit(self, query: str, limit: str) -> None:
        limits = RequestLimits(max_depth=3, max_height=5, max_aliases=1, max_root_fields=4, max_directives=2)
        violation = first_violation(measured(query), limits)
        assert violation is not None
        assert violation.limit == limit
        assert violation.code.startswith("MAX_")
        assert violation.code.endswith("_EXCEEDED")


SCHEMA_SDL = """
directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT | SCALAR | ENUM
directive @listSize(assumedSize: Int, slicingArguments: [String!]) on FIELD_DEFINITION
type Query {
  users(first: Int): [User] @listSize(slicingArguments: ["first"])
  top: [User] @listSize(assumedSize: 3)
  all: [User]
  me: User
}
type Mutation { rename(name: String): User }
type User { id: ID name: String friends: [User] @listSize(assumedSize: 2) secret: String @cost(weight: 7) }
"""


class TestCost:
    model = CostModel.from_sdl(SCHEMA_SDL, default_list_size=10)
    schema = build_schema(SCHEMA_SDL)

    def cost(self, query: str, variables: dict[str, object] | None = None) -> float:
        document = parse(query)
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return estimate(self.schema, self.model, operation, fragments, variables or {})

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("{ me { id name } }", 1),  # object 1, scalars 0
            ("{ me { secret } }", 8),  # @cost on a field
            ("{ users(first: 5) { id } }", 5),  # slicing argument
            ("{ top { id } }", 3),  # assumed size
            ("{ all { id } }", 10),  # default list size
            ("{ top { friends { id } } }", 3 * (1 + 2)),  # nested lists multiply
            ('mutation { rename(name: "x") { id } }', 10),
            ("{ me { ...F } } fragment F on User { secret }", 8),
        ],
    )
    def test_weights(self, query: str, expected: float) -> None:
        assert self.cost(query) == expected

    def test_slicing_argument_from_a_variable(self) -> None:
        query = "query Q($n: Int) { users(first: $n) { friends { id } } }"
        assert self.cost(query, {"n": 100}) == 100 * (1 + 2)
        assert self.cost(query, {}) == 10 * (1 + 2)


CONNECTION_SDL = """
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],
  requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
type Query {
  workers(first: Int = null, after: String): WorkerConnection
    @listSize(assumedSize: 50, slicingArguments: ["first"], sizedFields: ["edges"], requireOneSlicingArgument: false)
  pages(first: Int = 7, last: Int): WorkerConnection
    @listSize(slicingArguments: ["first", "last"], sizedFields: ["edges"], requireOneSlicingArgument: false)
  unsized(first: Int): WorkerConnection
  overdue(first: Int = null): [Worker] @listSize(assumedSize: 50, slicingArguments: ["first"])
}
type WorkerConnection { edges: [WorkerEdge!]! pageInfo: PageInfo! totalCount: Int }
type WorkerEdge { cursor: String! node: Worker! }
type PageInfo { hasNextPage: Boolean! }
type Worker { id: ID! village: Village }
type Village {
  workers(first: Int = null, after: String): WorkerConnection
    @listSize(assumedSize: 50, slicingArguments: ["first"], sizedFields: ["edges"], requireOneSlicingArgument: false)
}
"""


class TestConnectionCost:
    """`@listSize(slicingArguments:, sizedFields:)` on a connection sizes its `edges`, as Apollo's demand control."""

    model = CostModel.from_sdl(CONNECTION_SDL, default_list_size=10)
    schema = build_schema(CONNECTION_SDL)

    def cost(self, query: str, variables: dict[str, object] | None = None) -> float:
        document = parse(query)
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return estimate(self.schema, self.model, operation, fragments, variables or {})

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            # connection 1 + first x (edge 1 + node 1); pageInfo 1
            ("{ workers(first: 500) { edges { node { id } } pageInfo { hasNextPage } } }", 1 + 500 * 2 + 1),
            ("{ workers { edges { node { id } } } }", 1 + 50 * 2),  # no first: the assumed size (the default page)
            ("{ pages { edges { cursor } } }", 1 + 7),  # no first: the argument's default in the schema
            ("{ pages(first: 3, last: 40) { edges { cursor } } }", 1 + 40),  # the largest slicing argument
            ("{ unsized(first: 500) { edges { cursor } } }", 1 + 10),  # no @listSize: the default list size
            ("{ overdue(first: 30) { id } }", 30),  # a plain list sized by its own slicing argument
            ("{ overdue { id } }", 50),
            # a fragment on the connection is sized by the field it is spread under
            ("{ a: workers(first: 4) { ...E } b: workers(first: 8) { ...E } } fragment E on WorkerConnection "
             "{ edges { cursor } }", (1 + 4) + (1 + 8)),
        ],
    )  # fmt: skip
    def test_sizes(self, query: str, expected: float) -> None:
        assert self.cost(query) == expected

    def test_first_from_a_variable(self) -> None:
        query = "query Q($n: Int) { workers(first: $n) { edges { cursor } } }"
        assert self.cost(query, {"n": 200}) == 1 + 200
        assert self.cost(query, {}) == 1 + 50

    def test_the_nested_example_multiplies(self) -> None:
        """Issue 15's example: three nested `workers(first: 500)` cost 500^3 nodes, far over the default limit."""
        level = "workers(first: 500) {{ edges {{ node {{ id village {{ {} }} }} }} }}"
        query = "{ " + level.format(level.format(level.format("__typename"))) + " }"
        one = 1 + 500 * (1 + 1 + 1)  # connection, then per edge: edge, node, village
        cost = self.cost(query)
        assert cost == 1 + 500 * (1 + 1 + 1 + 1 + 500 * (1 + 1 + 1 + 1 + 500 * 3))
        assert cost > 500**3 > 100_000
        assert one < 100_000
