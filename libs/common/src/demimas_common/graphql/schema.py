"""The schema class every subgraph uses: Federation 2.9, errors shaped once per operation, and expected errors
(a `DemimasError` is an answer, not a fault) kept out of the error log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import ExecutionContext

from demimas_common.errors import DemimasError
from demimas_common.graphql.errors import shape_error

__all__ = ["FEDERATION_VERSION", "DemimasSchema", "build_schema"]

FEDERATION_VERSION = "2.9"  # the newest the MIT composer accepts (ARCHITECTURE.md)
log = logging.getLogger("demimas.graphql")


class DemimasSchema(strawberry.federation.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors or ():
            if not isinstance(error.original_error, DemimasError | None):
                log.error("unexpected error at %s", error.path, exc_info=error.original_error)


def build_schema(
    *, query: type, mutation: type | None = None, types: list[type] | None = None, **kwargs: Any
) -> DemimasSchema:
    return DemimasSchema(
        query=query,
        mutation=mutation,
        types=types or [],
        federation_version=FEDERATION_VERSION,  # type: ignore[arg-type]
        # Ministry systems send the same few operations over and over: parse and validate each document once.
        extensions=[ErrorShapingExtension, lambda: ParserCache(maxsize=256), lambda: ValidationCache(maxsize=256)],
        **kwargs,
    )


class ErrorShapingExtension(strawberry.extensions.SchemaExtension):
    """Rewrites a result's errors once per operation (no per-field cost)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [shape_error(e) for e in errors]
