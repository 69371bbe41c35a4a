"""Request limits (Apollo Router's operation limits, OWASP's GraphQL advice), measured on the parsed document before
it is validated or planned: validation itself is quadratic in the worst case (overlapping fields of 10,000 aliases),
so an abusive document must be refused before it. Each limit has a stable code and is answered with HTTP 400.

Measures, per operation, with fragments expanded by reference (a fragment is measured once and its figures reused,
so a "fragment bomb" whose expansion is exponential costs linear time to measure, and its exponential height is
what refuses it):
- depth: the deepest field nesting (`{ a { b } }` is 2);
- height: the number of field selections the operation resolves (fragments counted where spread);
- aliases: aliased field selections; root fields: the operation's top-level fields (after fragments);
- directives: directive applications (directive flooding).
Tokens and the document's size are refused while parsing (graphql-core's `max_tokens`), the variables' size by
`http.py` from the request body. Fragment cycles make the operation invalid (`GRAPHQL_VALIDATION_FAILED`); the
measuring walk stops at them instead of looping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

__all__ = ["LIMIT_CODES", "LimitViolation", "Measures", "RequestLimits", "measure"]


@dataclass(frozen=True)
class RequestLimits:
    """`None` switches a limit off."""

    max_depth: int | None = 15
    max_height: int | None = 400
    max_aliases: int | None = 30
    max_root_fields: int | None = 20
    max_directives: int | None = 50
    max_tokens: int | None = 5000
    max_query_bytes: int | None = 32_768
    max_variables_bytes: int | None = 65_536


LIMIT_CODES = {
    "depth": "MAX_DEPTH_EXCEEDED",
    "height": "MAX_HEIGHT_EXCEEDED",
    "aliases": "MAX_ALIASES_EXCEEDED",
    "root_fields": "MAX_ROOT_FIELDS_EXCEEDED",
    "directives": "MAX_DIRECTIVES_EXCEEDED",
    "tokens": "MAX_TOKENS_EXCEEDED",
    "query_bytes": "MAX_QUERY_SIZE_EXCEEDED",
    "variables_bytes": "MAX_VARIABLES_SIZE_EXCEEDED",
    "cost": "COST_ESTIMATED_TOO_EXPENSIVE",
}


@dataclass(frozen=True)
class Measures:
    depth: int
    height: int
    aliases: int
    root_fields: int
    directives: int


@dataclass(frozen=True)
class LimitViolation:
    limit: str
    measured: int
    allowed: int

    @property
    def code(self) -> str:
        return LIMIT_CODES[self.limit]

    @property
    def message(self) -> str:
        return (
            f"the operation's {self.limit.replace('_', ' ')} is {self.measured}, more than the allowed {self.allowed}"
        )


@dataclass
class _Figures:
    depth: int = 0
    height: int = 0
    aliases: int = 0
    directives: int = 0
    root_fields: int = 0


def measure(operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]) -> Measures:
    memo: dict[str, _Figures] = {}
    visiting: set[str] = set()

    def fragment(name: str) -> _Figures:
        known = memo.get(name)
        if known is not None:
            return known
        definition = fragments.get(name)
        if definition is None or name in visiting:  # unknown or cyclic: validation refuses the document
            return _Figures()
        visiting.add(name)
        figures = selection(definition.selection_set)
        figures.directives += len(definition.directives or ())
        visiting.discard(name)
        memo[name] = figures
        return figures

    def selection(node: SelectionSetNode | None) -> _Figures:
        out = _Figures()
        for item in node.selections if node else ():
            out.directives += len(item.directives or ())
            if isinstance(item, FieldNode):
                inner = selection(item.selection_set)
                out.height += 1 + inner.height
                out.aliases += inner.aliases + (1 if item.alias else 0)
                out.directives += inner.directives
                out.depth = max(out.depth, 1 + inner.depth)
                out.root_fields += 1
                continue
            if isinstance(item, FragmentSpreadNode):
                inner = fragment(item.name.value)
            else:
                assert isinstance(item, InlineFragmentNode)
                inner = selection(item.selection_set)
            out.height += inner.height
            out.aliases += inner.aliases
            out.directives += inner.directives
            out.depth = max(out.depth, inner.depth)
            out.root_fields += inner.root_fields
        return out

    figures = selection(operation.selection_set)
    figures.directives += len(operation.directives or ())
    return Measures(figures.depth, figures.height, figures.aliases, figures.root_fields, figures.directives)


def first_violation(measures: Measures, limits: RequestLimits) -> LimitViolation | None:
    for limit, measured, allowed in (
        ("depth", measures.depth, limits.max_depth),
        ("height", measures.height, limits.max_height),
        ("aliases", measures.aliases, limits.max_aliases),
        ("root_fields", measures.root_fields, limits.max_root_fields),
        ("directives", measures.directives, limits.max_directives),
    ):
        if allowed is not None and measured > allowed:
            return LimitViolation(limit, measured, allowed)
    return None
