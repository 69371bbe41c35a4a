"""The abuse corpus: requests the gateway must refuse cheaply, each with the status and code it must get, and none
of which may reach a subgraph. The gateway's tests send every case; `bench/security.py` floods the gateway with them
while measuring the latency of ordinary traffic.

The cases assume the gateway's default settings (docs/gateway-security.md) and a query type with a list field of
objects that nest (`LIST_FIELD`, `NESTED`, as the benchmark supergraph's `topProducts { reviews { product ... } }`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

__all__ = ["AbuseCase", "corpus"]

JSON = {"content-type": "application/json", "accept": "application/graphql-response+json"}


@dataclass(frozen=True)
class AbuseCase:
    name: str
    body: bytes
    status: int
    code: str
    method: str = "POST"
    path: str = "/graphql"
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))


def _post(name: str, request: object, status: int, code: str) -> AbuseCase:
    return AbuseCase(name, orjson.dumps(request), status, code)


def corpus(nested: tuple[str, str] = ("reviews", "product")) -> list[AbuseCase]:
    """`nested`: two fields that lead into each other (a list of B under A, an A under B) for lists within lists."""
    down, up = nested
    deep_lists = "{ topProducts " + "".join(f"{{ {down} {{ {up} " for _ in range(4)) + "{ upc }" + " } }" * 4 + " }"
    fragments = " ".join(
        f"fragment F{i} on Query {{ a: __typename ...F{i + 1} b: __typename ...F{i + 1} }}" for i in range(30)
    )
    return [
        _post("depth bomb", {"query": "{" + " a {" * 40 + " b" + " }" * 40 + " }"}, 400, "MAX_DEPTH_EXCEEDED"),
        _post("depth bomb past the parser", {"query": "{" + "a{" * 1500 + "b" + "}" * 1501}, 400, "MAX_DEPTH_EXCEEDED"),
        _post(
            "10,000 aliases",
            {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(10_000)) + " }"},
            400,
            "MAX_QUERY_SIZE_EXCEEDED",
        ),
        _post(
            "too many aliases",
            {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"},
            400,
            "MAX_ALIASES_EXCEEDED",
        ),
        _post("too many root fields", {"query": "{ " + " __typename" * 30 + " }"}, 400, "MAX_ROOT_FIELDS_EXCEEDED"),
        _post("too many tokens", {"query": "{ " + "a " * 6_000 + "}"}, 400, "MAX_TOKENS_EXCEEDED"),
        _post(
            "fragment cycle",
            {"query": "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"},
            400,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        _post(
            "fragment bomb",
            {"query": "{ ...F0 } " + fragments + " fragment F30 on Query { __typename }"},
            400,
            "MAX_HEIGHT_EXCEEDED",
        ),
        _post(
            "directive flooding",
            {"query": "{ __typename" + " @skip(if: false)" * 100 + " }"},
            400,
            "MAX_DIRECTIVES_EXCEEDED",
        ),
        _post("deeply nested lists", {"query": deep_lists}, 400, "COST_ESTIMATED_TOO_EXPENSIVE"),
        _post(
            "huge variables",
            {"query": "query Q($v: String) { __typename }", "variables": {"v": "x" * 100_000}},
            400,
            "MAX_VARIABLES_SIZE_EXCEEDED",
        ),
        _post("batched operations", [{"query": "{ __typename }"}] * 50, 400, "BATCHING_NOT_SUPPORTED"),
        AbuseCase("oversized body", b'{"query": "' + b" " * 300_000 + b'{ __typename }"}', 413, "BODY_TOO_LARGE"),
        AbuseCase("malformed JSON", b'{"query": "{ __typename }"', 400, "BAD_REQUEST"),
        AbuseCase(
            "simple content type (cross-site)",
            orjson.dumps({"query": "{ __typename }"}),
            400,
            "CSRF_REQUEST_REFUSED",
            headers={"content-type": "text/plain", "accept": "application/json"},
        ),
        AbuseCase(
            "form content type (cross-site)",
            b"query=%7B__typename%7D",
            400,
            "CSRF_REQUEST_REFUSED",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        AbuseCase(
            "wrong content type with a preflight header",
            b"<query>{ __typename }</query>",
            415,
            "BAD_REQUEST",
            headers={"content-type": "application/xml", "x-demimas-preflight": "1"},
        ),
        AbuseCase(
            "GET without a preflight (cross-site)",
            b"",
            400,
            "CSRF_REQUEST_REFUSED",
            method="GET",
            path="/graphql?query=%7B__typename%7D",
            headers={"accept": "application/json"},
        ),
        AbuseCase(
            "introspection outside development",
            orjson.dumps({"query": "{ __schema { types { name } } " + up + "s: __typename }"}),
            400,
            "INTROSPECTION_DISABLED",
        ),
    ]
