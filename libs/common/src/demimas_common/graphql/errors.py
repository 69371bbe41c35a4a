"""How errors leave a subgraph (docs/contracts.md, "Error codes"): top-level GraphQL errors with `extensions.code`.

| what went wrong                                  | message                 | extensions                      |
|--------------------------------------------------|-------------------------|---------------------------------|
| a `DemimasError` in a resolver (or an extension) | its message             | its `.extensions` (code, field) |
| pydantic `ValidationError` of an input           | the first problem       | BAD_USER_INPUT, field           |
| unparsable document                              | graphql-core's          | GRAPHQL_PARSE_FAILED            |
| document invalid against the schema              | graphql-core's          | GRAPHQL_VALIDATION_FAILED       |
| a variable of the wrong type                     | graphql-core's          | BAD_USER_INPUT, field=variable  |
| a `GraphQLError` with a code, raised on purpose  | its message             | its extensions                  |
| anything else (a bug, a driver error, ...)       | "internal error"        | INTERNAL                        |

The last kind is logged once (by `log_unexpected`, with the traceback, through the masking log handler) and never
shown: no stack trace, no SQL, no personal data in an exception message reaches a caller.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from graphql import GraphQLError, GraphQLSyntaxError
from pydantic import ValidationError

from demimas_common.errors import DemimasError

__all__ = ["INTERNAL_MESSAGE", "is_unexpected", "log_unexpected", "shape_error"]

INTERNAL_MESSAGE = "internal error"
_VARIABLE = re.compile(r"^Variable '\$(\w+)'")

log = logging.getLogger("demimas.graphql")


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors that are faults of the service, which callers never see in detail."""
    original = error.original_error
    if original is None or isinstance(original, DemimasError | ValidationError):
        return False
    # graphql-core's own input coercion errors wrap a GraphQLError; those are the caller's mistake.
    return not (isinstance(original, GraphQLError) and (error.path is None or original.extensions))


def log_unexpected(errors: Iterable[GraphQLError], operation: str | None = None) -> None:
    for error in errors:
        if is_unexpected(error):
            where = ".".join(str(p) for p in error.path or ()) or "(operation)"
            log.error(
                "unexpected error at %s in %s", where, operation or "anonymous operation", exc_info=error.original_error
            )


def shape_error(error: GraphQLError) -> GraphQLError:
    """The error as the caller should see it; the location and path are kept."""
    original = error.original_error
    if isinstance(original, DemimasError):
        return _with(error, original.message, original.extensions)
    if isinstance(original, ValidationError):
        return _with(error, *_pydantic(original))
    if is_unexpected(error):
        return _with(error, INTERNAL_MESSAGE, {"code": "INTERNAL"})
    extensions = dict(error.extensions or {})
    if isinstance(original, GraphQLError) and original.extensions:
        extensions = {**original.extensions, **extensions}
    if "code" not in extensions:
        extensions["code"] = _code(error)
        variable = _VARIABLE.match(error.message)
        if variable:
            extensions.setdefault("field", variable.group(1))
    return _with(error, error.message, extensions)


def _code(error: GraphQLError) -> str:
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None and _VARIABLE.match(error.message):
        return "BAD_USER_INPUT"
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED"
    return "INTERNAL"  # an error graphql-core raised while executing, without a code of its own


def _pydantic(exc: ValidationError) -> tuple[str, dict[str, object]]:
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{field}: {first['msg']}" if field else str(first["msg"])
    extensions: dict[str, object] = {"code": "BAD_USER_INPUT"}
    if field:
        extensions["field"] = field
    return message, extensions


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source if error.nodes is None else None,
        positions=error.positions if error.nodes is None else None,
        path=error.path,
        extensions=extensions,
    )
