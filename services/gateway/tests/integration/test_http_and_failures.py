"""GraphQL over HTTP through the gateway's ASGI app: bad requests get well-formed errors with stable codes, and a
subgraph that answers garbage, fails or hangs costs only its own fields while other requests keep being served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Gateway
from demimas_gateway.http import GatewayApp
from demimas_gateway.supergraph import load_supergraph

from ..conftest import BENCH_SUPERGRAPH, bench_subgraphs  # noqa: TID252
from ..support.subgraphs import MiniSubgraph, serve_subgraphs  # noqa: TID252

pytestmark = pytest.mark.integration
GQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture(scope="module")
def graphs() -> dict[str, MiniSubgraph]:
    return {g.name: g for g in bench_subgraphs()}


@pytest.fixture(scope="module")
async def urls(graphs: dict[str, MiniSubgraph]) -> AsyncIterator[dict[str, str]]:
    async with serve_subgraphs(list(graphs.values())) as served:
        yield served


@pytest.fixture
async def http(urls: dict[str, str], graphs: dict[str, MiniSubgraph]) -> AsyncIterator[httpx.AsyncClient]:
    for graph in graphs.values():
        graph.raw_response = None
        graph.hang = False
    client = SubgraphClient(urls, timeout_seconds=3)  # the hanging test waits it out; 0.5 s flaked on loaded CI
    app = GatewayApp(Gateway(load_supergraph(BENCH_SUPERGRAPH, graph_urls=urls), client), verifier=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield http
    await client.close()


async def post(http: httpx.AsyncClient, body: Any, accept: str = "application/json") -> httpx.Response:
    return await http.post("/graphql", json=body, headers={"accept": accept})


@pytest.mark.parametrize(
    ("body", "code", "legacy_status"),
    [
        ({"query": "{ topProducts { upc "}, "GRAPHQL_PARSE_FAILED", 200),
        ({"query": "{ topProducts { nope } }"}, "GRAPHQL_VALIDATION_FAILED", 200),
        (
            {"query": "query Q($n: Int) { topProducts(first: $n) { upc } }", "variables": {"n": "x"}},
            "BAD_USER_INPUT",
            200,
        ),
        ({"query": "query A { me { id } } query B { users { id } }"}, "BAD_REQUEST", 200),
        ({"query": "subscription { me { id } }"}, "GRAPHQL_VALIDATION_FAILED", 200),
        # not a GraphQL-over-HTTP request at all: 400 whatever the media type
        ({"query": ""}, "BAD_REQUEST", 400),
        ({"variables": {}}, "BAD_REQUEST", 400),
        ({"query": "{ me { id } }", "variables": [1]}, "BAD_REQUEST", 400),
    ],
)
async def test_bad_requests(http: httpx.AsyncClient, body: dict[str, Any], code: str, legacy_status: int) -> None:
    response = await post(http, body, GQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"] == GQL_RESPONSE
    payload = response.json()
    assert "data" not in payload or payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == code
    assert payload["errors"][0]["message"]
    legacy = await post(http, body)  # application/json: 200 for every well-formed request
    assert legacy.status_code == legacy_status
    assert legacy.json()["errors"][0]["extensions"]["code"] == code


async def test_not_json_and_wrong_methods(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    response = await http.get("/graphql", params={"query": "{ me { id name } }"})
    assert response.status_code == 400  # a browser could send it from any site: no preflight, no token
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_REQUEST_REFUSED"
    response = await http.get("/graphql", params={"query": "{ me { id name } }"}, headers={"x-demimas-preflight": "1"})
    assert response.status_code == 200
    assert response.json()["data"] == {"me": {"id": "1", "name": "Uri Goldshtein"}}
    response = await http.post("/graphql", json={"query": "{ me { id } }"}, headers={"accept": "text/csv"})
    assert response.status_code == 406


async def test_several_operations_with_a_name(http: httpx.AsyncClient) -> None:
    body = {"query": "query A { me { id } } query B { users { id } }", "operationName": "A"}
    response = await post(http, body)
    assert response.json()["data"] == {"me": {"id": "1"}}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ((200, b"{not json", "application/json"), "SUBREQUEST_MALFORMED_RESPONSE"),
        ((200, b"<html><body>proxy error</body></html>", "text/html"), "SUBREQUEST_MALFORMED_RESPONSE"),
        ((500, b"Internal Server Error", "text/plain"), "SUBREQUEST_HTTP_ERROR"),
        ((502, b"<html>Bad gateway</html>", "text/html"), "SUBREQUEST_HTTP_ERROR"),
    ],
)
async def test_misbehaving_subgraph(
    http: httpx.AsyncClient, graphs: dict[str, MiniSubgraph], raw: tuple[int, bytes, str], code: str
) -> None:
    graphs["inventory"].raw_response = raw
    response = await post(http, {"query": "{ topProducts(first: 2) { upc name inStock } }"}, GQL_RESPONSE)
    assert response.status_code == 200
    payload = response.json()
    assert payload["data"] == {
        "topProducts": [{"upc": "1", "name": "Table", "inStock": None}, {"upc": "2", "name": "Couch", "inStock": None}]
    }
    assert payload["errors"][0]["extensions"] == {"code": code, "serviceName": "inventory"}
    assert payload["errors"][0]["path"] == ["topProducts"]
    assert "proxy error" not in response.text  # a subgraph's raw body never reaches the client


async def test_hanging_subgraph_times_out_and_others_are_served(
    http: httpx.AsyncClient, graphs: dict[str, MiniSubgraph]
) -> None:
    graphs["inventory"].hang = True
    slow = asyncio.create_task(post(http, {"query": "{ topProducts(first: 1) { upc inStock } }"}))
    fast = await post(http, {"query": "{ me { name } }"})
    assert fast.json()["data"] == {"me": {"name": "Uri Goldshtein"}}
    assert not slow.done()
    payload = (await slow).json()
    assert payload["data"] == {"topProducts": [{"upc": "1", "inStock": None}]}
    assert payload["errors"][0]["extensions"]["code"] == "SUBREQUEST_TIMEOUT"


async def test_root_subgraph_down(http: httpx.AsyncClient, graphs: dict[str, MiniSubgraph]) -> None:
    graphs["accounts"].raw_response = (503, b"", "text/plain")
    payload = (await post(http, {"query": "{ me { id } topProducts(first: 1) { upc } }"})).json()
    assert payload["data"] == {"me": None, "topProducts": [{"upc": "1"}]}
    assert payload["errors"][0]["extensions"]["serviceName"] == "accounts"


async def test_health_and_readiness(http: httpx.AsyncClient, graphs: dict[str, MiniSubgraph]) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    graphs["reviews"].raw_response = (500, b"down", "text/plain")
    not_ready = await http.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["subgraphs"]["reviews"] != "ok"


async def test_entity_error_paths_are_rewritten(http: httpx.AsyncClient, urls: dict[str, str]) -> None:
    failing = MiniSubgraph(
        "inventory",
        'type Product @key(fields: "upc") { upc: String! inStock: Boolean! }',
        entities={"Product": lambda rep: {"upc": rep["upc"], "inStock": None}},  # breaks its own non-null field
    )
    sdl = BENCH_SUPERGRAPH
    async with serve_subgraphs([failing]) as extra:
        client = SubgraphClient({**urls, **extra}, timeout_seconds=10)  # generous: no timeout tested here
        gateway = Gateway(load_supergraph(sdl, graph_urls={**urls, **extra}), client)
        response = await gateway.execute("{ topProducts(first: 2) { upc inStock } }")
        await client.close()
    paths = [e.get("path") for e in response.errors]
    # the subgraph said ["_entities", 0, "inStock"]; the client is told where that is in its own response
    assert paths == [["topProducts", 0, "inStock"], ["topProducts", 1, "inStock"]]
    assert response.data == {"topProducts": [{"upc": "1", "inStock": None}, {"upc": "2", "inStock": None}]}


async def test_an_entity_a_subgraph_hides_is_not_found_not_an_internal_error(urls: dict[str, str]) -> None:
    """A subgraph answers null for an entity it does not show this caller (another region): the non-nullable
    fields it would have added cannot be answered, and the client is told NOT_FOUND at the object, never the
    gateway's INTERNAL_SERVER_ERROR."""
    hiding = MiniSubgraph(
        "inventory",
        'type Product @key(fields: "upc") { upc: String! inStock: Boolean! }',
        entities={"Product": lambda rep: None if rep["upc"] == "2" else {"upc": rep["upc"], "inStock": True}},
    )
    async with serve_subgraphs([hiding]) as extra:
        client = SubgraphClient({**urls, **extra}, timeout_seconds=10)  # generous: no timeout tested here
        # inStock non-nullable, as a subgraph may declare its fields
        sdl = BENCH_SUPERGRAPH.replace("inStock: Boolean @join__field", "inStock: Boolean! @join__field")
        gateway = Gateway(load_supergraph(sdl, graph_urls={**urls, **extra}), client)
        response = await gateway.execute("{ topProducts(first: 2) { upc inStock } }")
        await client.close()
    assert [(e["path"], e["extensions"]["code"]) for e in response.errors] == [(["topProducts", 1], "NOT_FOUND")]
    assert response.data == {"topProducts": [{"upc": "1", "inStock": True}, None]}


async def test_entity_error_paths_are_rewritten_in_a_fetch_serving_several_paths(urls: dict[str, str]) -> None:
    failing = MiniSubgraph(
        "inventory",
        'type Product @key(fields: "upc") { upc: String! inStock: Boolean! }',
        entities={"Product": lambda rep: {"upc": rep["upc"], "inStock": None}},
    )
    async with serve_subgraphs([failing]) as extra:
        client = SubgraphClient({**urls, **extra}, timeout_seconds=10)  # generous: no timeout tested here
        gateway = Gateway(load_supergraph(BENCH_SUPERGRAPH, graph_urls={**urls, **extra}), client)
        response = await gateway.execute(
            "{ a: topProducts(first: 1) { upc inStock } b: topProducts(first: 2) { upc inStock } }"
        )
        await client.close()
    # one _entities request for both positions, product 1 sent once: its error is told at its first place
    assert len(failing.requests) == 1
    assert [e.get("path") for e in response.errors] == [["a", 0, "inStock"], ["b", 1, "inStock"]]
    assert response.data == {
        "a": [{"upc": "1", "inStock": None}],
        "b": [{"upc": "1", "inStock": None}, {"upc": "2", "inStock": None}],
    }


async def test_authorization_purpose_and_trace_context_reach_the_subgraphs(
    http: httpx.AsyncClient, graphs: dict[str, MiniSubgraph]
) -> None:
    graphs["accounts"].requests.clear()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", "x-demimas-purpose": "AUDIT", "x-other": "no"}
    response = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
    assert response.status_code == 200
    sent = graphs["accounts"].requests[0]["headers"]
    assert sent["x-demimas-purpose"] == "AUDIT"
    assert sent["traceparent"].split("-")[1] == trace_id  # same trace, the gateway's own span as parent
    assert "x-other" not in sent


async def test_ide_page_in_development_only(urls: dict[str, str]) -> None:
    for development, status in ((True, 200), (False, 400)):
        client = SubgraphClient(urls)
        gateway = Gateway(load_supergraph(BENCH_SUPERGRAPH, graph_urls=urls), client)
        app = GatewayApp(gateway, verifier=None, development=development)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
            response = await http.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == status
        await client.close()
