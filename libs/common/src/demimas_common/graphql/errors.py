"""How errors leave a subgraph: a `DemimasError` keeps its message and `extensions` (code, field); anything
unexpected becomes "internal error" with code INTERNAL and is logged, never shown (no stack traces, no SQL)."""

from __future__ import annotations

import logging

from graphql import GraphQLError

from demimas_common.errors import DemimasError

__all__ = ["shape_error"]

log = logging.getLogger("demimas.graphql")


def shape_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None:
        if error.extensions is None or "code" not in error.extensions:
            # Parse and validation errors: graphql-core's message is safe and useful.
            error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"}
        return error
    if isinstance(original, DemimasError):
        return GraphQLError(
            original.message, nodes=error.nodes, path=error.path, original_error=None, extensions=original.extensions
        )
    if isinstance(original, GraphQLError):
        return shape_error(original) if original is not error else error
    log.error("unexpected error at %s", error.path, exc_info=original)
    return GraphQLError("internal error", nodes=error.nodes, path=error.path, extensions={"code": "INTERNAL"})
