"""The JSON of a GraphQL request, read strictly before anything else looks at it (subgraphs and gateway alike).

What is refused, always with HTTP 400 and a GraphQL-shaped body `{"errors": [{"message", "extensions": {"code"}}]}`:

| the body                                             | code                     |
|------------------------------------------------------|--------------------------|
| not JSON, not UTF-8, or a string with a lone surrogate (`"\\ud800"`) | BAD_REQUEST    |
| nested deeper than `MAX_JSON_DEPTH` objects and lists | BAD_REQUEST             |
| a list (a batch of operations)                       | BATCHING_NOT_SUPPORTED   |
| `null`, a string, a number or a boolean              | BAD_REQUEST              |

orjson does the reading: it refuses invalid UTF-8 and lone surrogates (which no PostgreSQL text column and no UTF-8
log line can hold) and stops at 1,024 levels without recursing, where the standard library's `json` raises
`RecursionError` (a 500) on a 10,000-deep body. The lower bound here is what a GraphQL request can ever need: the
deepest input of any subgraph is a handful of levels.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["MAX_JSON_DEPTH", "RequestRefused", "decode_json", "decode_request"]

MAX_JSON_DEPTH = 64


class RequestRefused(Exception):
    """A request refused before execution: its HTTP status, a stable code and a message a person can act on."""

    def __init__(self, message: str, code: str = "BAD_REQUEST", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


def decode_json(data: bytes | bytearray | memoryview | str, what: str = "the request body") -> Any:
    """Any JSON value, strictly: `RequestRefused` on invalid JSON or UTF-8, lone surrogates or too deep nesting."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # orjson's message says what and where (`str is not valid UTF-8 ...: line 1 column 9`), never the content.
        raise RequestRefused(f"{what} is not valid JSON in UTF-8: {exc}") from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise RequestRefused(f"{what} nests objects and lists deeper than {MAX_JSON_DEPTH} levels")
    return value


def decode_request(data: bytes | bytearray | memoryview | str, what: str = "the request body") -> dict[str, Any]:
    """The JSON object of one GraphQL request; `RequestRefused` for anything else."""
    value = decode_json(data, what)
    if isinstance(value, list):
        raise RequestRefused(
            "batched operations are not accepted: send one operation per request, as a JSON object",
            "BATCHING_NOT_SUPPORTED",
        )
    if not isinstance(value, dict):
        raise RequestRefused(f"{what} must be a JSON object with a `query`, not {_kind(value)}")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than `limit` (the outermost is level 1); iterative, so any depth is safe."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"
