"""The schema class every subgraph uses: Federation 2.9, errors shaped once per operation (graphql/errors.py),
parse and validation caches, and one tracing span per operation.

Shaping happens around `execute` rather than in an extension's `on_operation`: a parse error raised inside the
parser cache skips the rest of `on_operation`, so an extension would let it through unshaped. Logging happens in
`process_errors`, which strawberry calls exactly once per error with the original exception still attached.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from opentelemetry import trace
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.federation.schema import FederationAny
from strawberry.types import ExecutionContext, ExecutionResult, Info

from demimas_common.graphql.access import AccessRules, install_access_rules
from demimas_common.graphql.errors import log_unexpected, shape_error
from demimas_common.graphql.input_guard import InputGuard
from demimas_common.graphql.list_size import annotate_connections
from demimas_common.graphql.operation_name import OperationName
from demimas_common.graphql.shared_streams import SharedStreams, sharing_key

__all__ = ["FEDERATION_VERSION", "DemimasSchema", "OperationTracing", "build_schema"]

FEDERATION_VERSION = "2.9"  # the newest the MIT composer accepts (docs/gateway.md)
log = logging.getLogger("demimas.graphql")
_tracer = trace.get_tracer("demimas.graphql")


class DemimasSchema(strawberry.federation.Schema):
    """A federation schema that enforces its own declared scopes and regions (graphql/access.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access: AccessRules = install_access_rules(self._schema)
        self.shared_streams = SharedStreams()
        self._checked_entities = self.access.entity_resolver(
            lambda info, rep: super(DemimasSchema, self).entities_resolver(info, [rep])[0]  # type: ignore[list-item]
        )

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        """`_entities`, each representation under its type's requirements and region (graphql/access.py)."""
        return self._checked_entities(info, representations)

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:  # input_guard.py: what it refuses, why
        return [*super().get_extensions(sync), InputGuard()]

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        return _shaped(await super().execute(*args, **kwargs))

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        """Subscriptions (and anything else a WebSocket runs): each operation gets its own copy of the connection's
        context (`RequestContext.for_operation`: the same caller, its own DataLoaders), every result's errors are
        shaped as `execute`'s are, and identical live subscriptions of one caller share one execution."""
        context = kwargs.get("context_value")
        for_operation = getattr(context, "for_operation", None)
        if for_operation is not None:
            kwargs["context_value"] = context = for_operation()
        query = args[0] if args else kwargs.get("query")
        key = sharing_key(query, kwargs.get("variable_values"), kwargs.get("operation_name"), context)
        if key is None:
            return await self._stream_alone(*args, **kwargs)
        # identical subscriptions of one caller execute each event once (graphql/shared_streams.py)
        return await self.shared_streams.join(key, lambda: self._stream_alone(*args, **kwargs))

    async def _stream_alone(self, *args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        return _shaped_stream(await super().stream(*args, **kwargs))

    def execute_sync(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        return _shaped(super().execute_sync(*args, **kwargs))

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Expected errors (a `DemimasError` is an answer, not a fault) stay out of the error log.
        log_unexpected(errors or (), execution_context.operation_name if execution_context else None)


def _shaped(result: ExecutionResult) -> ExecutionResult:
    if result.errors:
        result.errors = [shape_error(error) for error in result.errors]
    return result


async def _shaped_stream(source: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
    try:
        async for result in source:
            if isinstance(result, ExecutionResult):
                _shaped(result)
            yield result
    finally:
        await source.aclose()


class OperationTracing(SchemaExtension):
    """One span per operation (`query WorkersPage`), never per field: a per-field span costs ~15x on big lists.

    The document and variables are not recorded: literals and variables may carry personal data.
    """

    def on_operation(self) -> Iterator[None]:
        with _tracer.start_as_current_span("graphql.operation", kind=trace.SpanKind.INTERNAL) as span:
            yield
            context = self.execution_context
            try:
                kind = context.operation_type.value
            except RuntimeError:  # no operation could be determined (parse or validation failed)
                kind = "operation"
            name = context.operation_name or "anonymous"
            span.update_name(f"{kind} {name}")
            span.set_attribute("graphql.operation.type", kind)
            span.set_attribute("graphql.operation.name", name)
            if context.result is not None and context.result.errors:
                span.set_attribute("graphql.errors", len(context.result.errors))


def build_schema(
    *,
    query: type,
    mutation: type | None = None,
    subscription: type | None = None,
    types: list[type] | None = None,
    **kwargs: Any,
) -> DemimasSchema:
    annotate_connections([query, mutation, *(types or [])])  # @listSize on every connection, for the cost limit
    return DemimasSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=types or [],
        federation_version=FEDERATION_VERSION,
        # Ministry systems send the same few operations over and over: parse and validate each document once.
        extensions=[
            OperationTracing,
            OperationName,  # fills RequestContext.operation (graphql/operation_name.py)
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
        **kwargs,
    )
