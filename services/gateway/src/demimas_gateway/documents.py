"""Client documents, once per document text: size and token limits, parse, shape limits (before validation, which
abusive documents make slow), validation; what planning needs of each operation; and refusals, so that a repeated
bad document costs nothing either. Least recently used documents are forgotten first."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableNode,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql.language import Visitor

from demimas_gateway.errors import RequestError, locations
from demimas_gateway.limits import LIMIT_CODES, RequestLimits, first_violation, measure

__all__ = ["Documents", "Lru", "Prepared"]


@dataclass
class Prepared:
    document: DocumentNode | None
    """None for a document refused before validation (`refusal` says why; kept so that a repeat costs nothing)."""
    operations: dict[str | None, OperationDefinitionNode]
    fragments: dict[str, FragmentDefinitionNode]
    plan_variables: dict[str | None, tuple[str, ...]] = field(default_factory=dict)
    var_types: dict[str | None, dict[str, str]] = field(default_factory=dict)
    refusal: RequestError | None = None
    costs: dict[Any, float] = field(default_factory=dict)


class Lru(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_item(self, key: Any) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)


class Documents:
    def __init__(
        self, schema: GraphQLSchema, limits: RequestLimits | None, *, suggestions: bool = True, size: int = 2000
    ) -> None:
        """`limits` None: none; `suggestions` False removes "Did you mean" hints (schema names) from validation
        errors."""
        self.schema = schema
        self.limits = limits
        self.suggestions = suggestions
        self._cache = Lru(size)

    def prepare(self, query: str) -> Prepared:
        prepared: Prepared | None = self._cache.get_item(query)
        if prepared is not None:
            if prepared.refusal is not None:
                raise prepared.refusal
            return prepared
        try:
            prepared = self._parse(query)
        except RequestError as exc:
            if exc.code != "GRAPHQL_PARSE_FAILED":  # limits and validation: the same answer next time, for free
                self._cache.put(query, Prepared(None, {}, {}, refusal=exc))
            raise
        return prepared

    def _parse(self, query: str) -> Prepared:
        limits = self.limits
        if limits is not None and limits.max_query_bytes is not None and len(query) > limits.max_query_bytes:
            raise RequestError(
                f"the query is {len(query)} characters long, more than the allowed {limits.max_query_bytes}",
                LIMIT_CODES["query_bytes"],
                always_status=True,
            )
        try:
            document = parse(query, max_tokens=limits.max_tokens if limits is not None else None)
        except GraphQLError as exc:
            if "Document contains more than" in exc.message:
                raise RequestError(exc.message, LIMIT_CODES["tokens"], always_status=True) from exc
            if "nested too deeply" in exc.message:  # graphql-core's own guard against recursion
                raise RequestError(
                    "the operation is nested too deeply", LIMIT_CODES["depth"], always_status=True
                ) from exc
            raise RequestError(exc.message, "GRAPHQL_PARSE_FAILED", locations=locations(exc)) from exc
        except RecursionError as exc:
            raise RequestError("the operation is nested too deeply", LIMIT_CODES["depth"], always_status=True) from exc
        operations: dict[str | None, OperationDefinitionNode] = {}
        fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                operations[definition.name.value if definition.name else None] = definition
            elif isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
        if limits is not None:  # before validation, which abusive documents make slow
            for operation in operations.values():
                try:
                    violation = first_violation(measure(operation, fragments), limits)
                except RecursionError as exc:
                    raise RequestError(
                        "the operation is nested too deeply", LIMIT_CODES["depth"], always_status=True
                    ) from exc
                if violation is not None:
                    raise RequestError(violation.message, violation.code, always_status=True)
        errors = validate(self.schema, document)
        if errors:
            first = errors[0]
            message = first.message if self.suggestions else _without_suggestions(first.message)
            raise RequestError(message, "GRAPHQL_VALIDATION_FAILED", locations=locations(first))
        prepared = Prepared(document, operations, fragments)
        for name, operation in operations.items():
            prepared.plan_variables[name] = tuple(sorted(_conditional_variables(operation, fragments)))
            prepared.var_types[name] = {  # type and default, as the subgraph operations declare them
                d.variable.name.value: print_ast(d.type) + (f"={print_ast(d.default_value)}" if d.default_value else "")
                for d in operation.variable_definitions or ()
            }
        self._cache.put(query, prepared)
        return prepared


def _without_suggestions(message: str) -> str:
    """graphql-core's hints name schema elements a caller did not ask for: none outside development."""
    head, _, _ = message.partition(" Did you mean")
    return head


def _conditional_variables(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> set[str]:
    """Variables in `@skip`/`@include`: their values change the plan, so they belong to its cache key."""
    found: set[str] = set()

    class _V(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                for arg in node.arguments or ():
                    if isinstance(arg.value, VariableNode):
                        found.add(arg.value.name.value)

    visit(operation, _V())
    for fragment in fragments.values():
        visit(fragment, _V())
    return found
