"""The gateway as `make run` builds it (settings defaults, `build_app`) over the benchmark subgraphs: every case of the
abuse corpus is refused with its status and code and no subgraph is called; rate limits per agency answer 429 with
Retry-After; trusted documents; purpose headers; faults of one subgraph (hanging, garbage, closing connections)
cost only the fields that need it, and the circuit breaker makes a dead subgraph a fast error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.abuse import AbuseCase, corpus
from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_gateway.app import build_app
from demimas_gateway.http import GatewayApp
from demimas_gateway.settings import GatewaySettings
from demimas_gateway.supergraph import load_supergraph
from demimas_gateway.trusted import document_hash

from ..conftest import BENCH_SUPERGRAPH, bench_subgraphs  # noqa: TID252
from ..support.subgraphs import MiniSubgraph, serve_subgraphs  # noqa: TID252

pytestmark = pytest.mark.integration
ISSUER, AUDIENCE = "https://auth.gateway.test", "demimas"


@pytest.fixture(scope="module")
def graphs() -> dict[str, MiniSubgraph]:
    return {g.name: g for g in bench_subgraphs()}


@pytest.fixture(scope="module")
async def urls(graphs: dict[str, MiniSubgraph]) -> AsyncIterator[dict[str, str]]:
    async with serve_subgraphs(list(graphs.values())) as served:
        yield served


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def reset(graphs: dict[str, MiniSubgraph]) -> None:
    for graph in graphs.values():
        graph.requests.clear()
        graph.raw_response = None
        graph.hang = False
        graph.delay = 0.0


@pytest.fixture
async def gateway(urls: dict[str, str], keys: DevKeys, reset: None) -> AsyncIterator[Callable[..., Any]]:
    """Builds the app from settings (keyword arguments are settings fields) and yields an httpx client for it."""
    apps: list[GatewayApp] = []
    clients: list[httpx.AsyncClient] = []

    def make(**overrides: Any) -> httpx.AsyncClient:
        options: dict[str, Any] = {
            "environment": "development",
            "gateway_introspection": False,
            "jwks_path": keys.jwks_path,
            "jwt_issuer": ISSUER,
            "jwt_audience": AUDIENCE,
            # generous: only the tests of timeouts set a short one (a loaded CI machine took over 0.5 s to answer once)
            "gateway_subgraph_timeout_seconds": 5,
        }
        settings = GatewaySettings(**(options | overrides))
        app = build_app(settings, load_supergraph(BENCH_SUPERGRAPH, graph_urls=urls))
        apps.append(app)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for app in apps:
        await app.gateway.client.close()


def token(keys: DevKeys, agency: str = "KEMENDES", **claims: Any) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_token(keys, issuer=ISSUER, audience=AUDIENCE, agency=agency, **claims)}


def calls(graphs: dict[str, MiniSubgraph]) -> int:
    return sum(len(g.requests) for g in graphs.values())


@pytest.mark.parametrize("case", corpus(), ids=lambda c: c.name)
async def test_abuse_corpus_is_refused_without_calling_subgraphs(
    gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph], case: AbuseCase
) -> None:
    http = gateway()
    response = await http.request(case.method, case.path, content=case.body or None, headers=case.headers)
    assert (response.status_code, response.json()["errors"][0]["extensions"]["code"]) == (case.status, case.code)
    assert response.json().get("data") is None
    assert calls(graphs) == 0


async def test_the_benchmark_query_passes_the_default_limits(
    gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph]
) -> None:
    from ..conftest import BENCH_QUERY  # noqa: TID252

    http = gateway()
    response = await http.post("/graphql", json={"query": BENCH_QUERY})
    assert response.status_code == 200
    assert "errors" not in response.json()
    assert calls(graphs) > 0


async def test_limits_are_settings(gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph]) -> None:
    query = {"query": "{ topProducts { reviews { product { upc } } } }"}
    http = gateway(gateway_max_depth=2)
    response = await http.post("/graphql", json=query)
    assert (response.status_code, response.json()["errors"][0]["extensions"]["code"]) == (400, "MAX_DEPTH_EXCEEDED")
    http = gateway(gateway_max_cost=50, gateway_cost_mode="measure")  # measured, not enforced
    response = await http.post("/graphql", json=query)
    assert response.status_code == 200
    assert "errors" not in response.json()
    http = gateway(gateway_max_cost=50)
    response = await http.post("/graphql", json=query)
    assert response.json()["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"


async def test_rate_limit_per_agency(
    gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph], keys: DevKeys
) -> None:
    http = gateway(gateway_rate_limits={"KEMENDES": (0.001, 2)}, gateway_default_rate_limit=(1000, 1000))
    kemendes, bnn = token(keys, "KEMENDES"), token(keys, "BNN")
    query = {"query": "{ me { id } }"}
    for _ in range(2):
        assert (await http.post("/graphql", json=query, headers=kemendes)).status_code == 200
    before = calls(graphs)
    refused = await http.post("/graphql", json=query, headers=kemendes)
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) >= 1
    assert calls(graphs) == before
    assert (await http.post("/graphql", json=query, headers=bnn)).status_code == 200  # another agency's bucket


async def test_trusted_documents(
    gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph], tmp_path: Path
) -> None:
    registered = "query Me { me { id } }"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"operations": [{"id": document_hash(registered), "body": registered}]}))
    http = gateway(gateway_trusted_documents=manifest)
    by_id = {"documentId": f"sha256:{document_hash(registered)}"}
    persisted = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(registered)}}}
    for body in (by_id, persisted, {"query": registered}):
        response = await http.post("/graphql", json=body)
        assert response.json()["data"] == {"me": {"id": "1"}}
    response = await http.post("/graphql", json={"query": "{ me { id name } }"})
    assert (response.status_code, response.json()["errors"][0]["extensions"]["code"]) == (
        400,
        "PERSISTED_QUERY_NOT_FOUND",
    )
    assert calls(graphs) == 3


async def test_unknown_purpose_header_is_refused(
    gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph], keys: DevKeys
) -> None:
    http = gateway()
    headers = {**token(keys), "x-demimas-purpose": "CURIOSITY"}
    response = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
    assert (response.status_code, response.json()["errors"][0]["extensions"]["code"]) == (400, "BAD_USER_INPUT")
    assert calls(graphs) == 0


async def test_unknown_purpose_header_answer_is_the_gateways_own(
    gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph], keys: DevKeys
) -> None:
    """The refusal lists the purposes without echoing what the caller sent, on the field `purpose`: the answer
    the gateway gave before issue 16 (a refactor, which must not change what clients see)."""
    http = gateway()
    headers = {**token(keys), "x-demimas-purpose": "CURIOSITY"}
    response = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
    [error] = response.json()["errors"]
    assert error["message"] == (
        "unknown purpose; use one of AUDIT, DATA_SUBJECT_REQUEST, FAMILY_SUPPORT, PLACEMENT_SERVICE, "
        "PROGRAMME_DELIVERY, PROTECTION_CASE, STATISTICS"
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "purpose"}
    assert "CURIOSITY" not in response.text


# ---- faults ----------------------------------------------------------------------------------------------------


async def test_hanging_subgraph_does_not_hold_up_requests_that_do_not_need_it(
    gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph]
) -> None:
    # the hanging request must still wait when the other is answered: 5 s, not 0.5 s, which a loaded CI machine's
    # pause before that answer outlasted
    http = gateway(gateway_subgraph_timeout_seconds=5)
    graphs["inventory"].hang = True
    slow = asyncio.create_task(http.post("/graphql", json={"query": "{ topProducts(first: 1) { upc inStock } }"}))
    fast = await http.post("/graphql", json={"query": "{ me { name } }"})
    assert fast.json()["data"] == {"me": {"name": "Uri Goldshtein"}}
    assert not slow.done()  # answered while the other still waits for the hanging subgraph
    payload = (await slow).json()
    assert payload["data"] == {"topProducts": [{"upc": "1", "inStock": None}]}
    assert payload["errors"][0]["extensions"]["code"] == "SUBREQUEST_TIMEOUT"


async def test_request_timeout(gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph]) -> None:
    http = gateway(gateway_request_timeout_seconds=0.1, gateway_subgraph_timeout_seconds=5)
    graphs["accounts"].hang = True
    response = await http.post("/graphql", json={"query": "{ me { id } }"})
    assert (response.status_code, response.json()["errors"][0]["extensions"]["code"]) == (504, "GATEWAY_TIMEOUT")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ((200, b"\x00\xff garbage", "application/octet-stream"), "SUBREQUEST_MALFORMED_RESPONSE"),
        ((200, b'{"data": ', "application/json"), "SUBREQUEST_MALFORMED_RESPONSE"),
    ],
)
async def test_garbage_costs_only_its_fields(
    gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph], raw: tuple[int, bytes, str], code: str
) -> None:
    http = gateway()
    graphs["inventory"].raw_response = raw
    payload = (await http.post("/graphql", json={"query": "{ topProducts(first: 1) { upc inStock } }"})).json()
    assert payload["data"] == {"topProducts": [{"upc": "1", "inStock": None}]}
    assert payload["errors"][0]["extensions"] == {"code": code, "serviceName": "inventory"}


async def test_connection_closing_subgraph(gateway: Callable[..., httpx.AsyncClient]) -> None:
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        http = gateway()
        app: GatewayApp = http._transport.app  # type: ignore[attr-defined]
        app.gateway.client.urls["inventory"] = f"http://127.0.0.1:{port}/graphql"
        query = {"query": "{ topProducts(first: 1) { upc inStock } }"}
        payload = (await http.post("/graphql", json=query)).json()
    finally:
        server.close()
    assert payload["data"] == {"topProducts": [{"upc": "1", "inStock": None}]}
    assert payload["errors"][0]["extensions"] == {"code": "SUBREQUEST_HTTP_ERROR", "serviceName": "inventory"}


async def test_circuit_breaker_makes_a_dead_subgraph_a_fast_error(
    gateway: Callable[..., httpx.AsyncClient], graphs: dict[str, MiniSubgraph]
) -> None:
    http = gateway(gateway_breaker_failures=2, gateway_breaker_reset_seconds=60)
    graphs["inventory"].raw_response = (503, b"", "text/plain")
    query = {"query": "{ topProducts(first: 1) { upc inStock } }"}
    for _ in range(2):
        payload = (await http.post("/graphql", json=query)).json()
        assert payload["errors"][0]["extensions"]["code"] == "SUBREQUEST_HTTP_ERROR"
    sent = len(graphs["inventory"].requests)
    payload = (await http.post("/graphql", json=query)).json()
    assert payload["data"] == {"topProducts": [{"upc": "1", "inStock": None}]}
    assert payload["errors"][0]["extensions"]["code"] == "SUBREQUEST_CIRCUIT_OPEN"
    assert len(graphs["inventory"].requests) == sent  # not called while open
