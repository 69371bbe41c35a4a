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
