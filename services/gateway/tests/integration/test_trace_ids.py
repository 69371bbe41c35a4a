"""Trace ids handed back to callers (issue 20): every answer of the GraphQL endpoint, data or refusal, carries the
W3C `traceresponse` header (`00-<trace-id>-<span-id>-<flags>`) and `extensions.traceId` in its body, naming the
trace the subgraphs received: the caller's `traceparent` trace when it sent one, else a new one."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Gateway
from demimas_gateway.http import GatewayApp
from demimas_gateway.ratelimit import RateLimiter
from demimas_gateway.supergraph import load_supergraph

from ..conftest import BENCH_SUPERGRAPH, bench_subgraphs  # noqa: TID252
from ..support.subgraphs import MiniSubgraph, serve_subgraphs  # noqa: TID252

pytestmark = pytest.mark.integration

TRACERESPONSE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
SENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SENT_PARENT = f"00-{SENT_TRACE}-00f067aa0ba902b7-01"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def graphs() -> dict[str, MiniSubgraph]:
    return {g.name: g for g in bench_subgraphs()}


@pytest.fixture(scope="module")
async def urls(graphs: dict[str, MiniSubgraph]) -> AsyncIterator[dict[str, str]]:
    async with serve_subgraphs(list(graphs.values())) as served:
        yield served


@asynccontextmanager
async def serve(urls: dict[str, str], limiter: RateLimiter | None = None) -> AsyncIterator[httpx.AsyncClient]:
    client = SubgraphClient(urls, timeout_seconds=10)  # generous: no timeout is tested here (2 s flakes on loaded CI)
    gateway = Gateway(load_supergraph(BENCH_SUPERGRAPH, graph_urls=urls), client)
    app = GatewayApp(gateway, verifier=None, max_body_bytes=10_000, rate_limiter=limiter)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield http
    await client.close()


@pytest.fixture
async def http(urls: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(urls) as http:
        yield http


def trace_of(response: httpx.Response) -> str:
    """The trace id of the `traceresponse` header, checked against the body's `extensions.traceId`."""
    match = TRACERESPONSE.match(response.headers["traceresponse"])
    assert match, response.headers["traceresponse"]
    trace_id = match.group(1)
    assert int(trace_id, 16) != 0
    assert response.json()["extensions"]["traceId"] == trace_id
    return trace_id


@pytest.mark.parametrize("sent", [True, False])
async def test_the_trace_returned_is_the_one_the_subgraphs_received(
    http: httpx.AsyncClient, graphs: dict[str, MiniSubgraph], sent: bool
) -> None:
    graphs["accounts"].requests.clear()
    headers = {"traceparent": SENT_PARENT, "x-demimas-preflight": "1"} if sent else {"x-demimas-preflight": "1"}
    response = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["data"] == {"me": {"id": "1"}}
    trace_id = trace_of(response)
    received = graphs["accounts"].requests[0]["headers"]["traceparent"]
    assert received.split("-")[1] == trace_id
    if sent:
        assert trace_id == SENT_TRACE
        # the span id is the gateway's own span, not the caller's
        assert TRACERESPONSE.match(response.headers["traceresponse"]).group(2) != "00f067aa0ba902b7"  # type: ignore[union-attr]
    else:
        again = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
        assert trace_of(again) != trace_id  # a new trace per request


async def test_errors_and_refusals_carry_the_trace(http: httpx.AsyncClient) -> None:
    cases: list[tuple[int, dict[str, Any]]] = [
        (200, {"json": {"query": "{ me { "}}),  # parse error (application/json: 200)
        (200, {"json": {"query": "{ nope }"}}),  # validation error
        (400, {"json": [{"query": "{ me { id } }"}]}),  # a batch
        (400, {"content": b"{not json", "headers": JSON}),
        (413, {"content": b'{"query": "' + b" " * 20_000 + b'{ me { id } }"}', "headers": JSON}),
        (415, {"content": b"query", "headers": {"content-type": "application/xml", "x-demimas-preflight": "1"}}),
        (400, {"content": b'{"query": "{ me { id } }"}', "headers": {"content-type": "text/plain"}}),  # CSRF
        (406, {"json": {"query": "{ me { id } }"}, "headers": {"accept": "text/csv"}}),
        (401, {"json": {"query": "{ me { id } }"}, "headers": {"authorization": "Bearer x"}}),  # no JWKS here
        (400, {"json": {"query": "{ me { id } }"}, "headers": {"x-demimas-purpose": "GOSSIP"}}),
    ]
    for status, request in cases:
        for sent in (True, False):
            headers = {**request.get("headers", {}), **({"traceparent": SENT_PARENT} if sent else {})}
            response = await http.request("POST", "/graphql", **{**request, "headers": headers})
            assert response.status_code == status, (request, response.text)
            trace_id = trace_of(response)
            assert (trace_id == SENT_TRACE) == sent, request
    response = await http.request("DELETE", "/graphql", headers={"traceparent": SENT_PARENT})
    assert response.status_code == 405
    assert trace_of(response) == SENT_TRACE
    headers = {"x-demimas-preflight": "1", "accept": "application/graphql-response+json"}
    response = await http.get("/graphql", params={"query": "{ me {"}, headers=headers)
    assert response.status_code == 400
    trace_of(response)


async def test_rate_limited_answers_carry_the_trace(urls: dict[str, str]) -> None:
    limiter = RateLimiter.per_process({}, None, (0.001, 1), processes=1)  # one anonymous request, then 429
    headers = {"x-demimas-preflight": "1", "traceparent": SENT_PARENT}
    async with serve(urls, limiter) as http:
        statuses = []
        for _ in range(3):
            response = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
            statuses.append(response.status_code)
            assert trace_of(response) == SENT_TRACE
    assert statuses == [200, 429, 429]


async def test_probes_are_outside_any_trace(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.json() == {"status": "ok"}
    assert "traceresponse" not in response.headers
