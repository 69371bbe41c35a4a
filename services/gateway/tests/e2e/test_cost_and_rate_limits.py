"""The cost limit and the rate limits as `make run` sets them (issue 15, items 5 and 6), over the real registry,
designation and pillars services.

- Cost: the nested `workers(first: 500)` example costs 500^3 nodes and is refused with the cost code before any
  subgraph is asked, while every operation of the documentation's GraphQL examples and the pilot tracker's
  benchmark query cost less than the default limit (computed on the committed supergraph) and, for the queries, run
  through the gateway without a limit refusing them. The documented operations are read from README.md and
  docs/*.md, so a new example is checked without editing this test.
- Rate limits: with the settings' defaults, one agency flooding the gateway gets 429 `RATE_LIMITED` with
  `Retry-After` after its burst, within what a 50/s, burst-100 bucket allows; an anonymous address after 10.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from bench.pillars import TRACKER
from demimas_common.auth.keys import DevKeys
from demimas_common.devstack.ports import free_port
from demimas_common.settings import Environment
from demimas_gateway.app import build_app
from demimas_gateway.cost import CostModel, estimate
from demimas_gateway.http import GatewayApp
from demimas_gateway.settings import GatewaySettings
from demimas_gateway.supergraph import load_supergraph

ROOT = Path(__file__).resolve().parents[4]
SUPERGRAPH = ROOT / "deploy" / "supergraph.graphql"
ISSUER, AUDIENCE = "https://auth.gateway-e2e.test", "demimas"  # as conftest.py's services expect
DEFAULTS = GatewaySettings()
NESTED = """{ workers(first: 500) { edges { node { village { workers(first: 500) { edges { node { village {
  workers(first: 500) { edges { node { id fullName } } } } } } } } } } } }"""
LIMIT_CODES = ("COST_ESTIMATED_TOO_EXPENSIVE", "MAX_")


def readme_operations() -> Iterator[str]:
    """Each operation of the documentation's ```graphql blocks (README.md and docs/), comments dropped and
    placeholders ("…") made an id."""
    docs = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    for block in re.findall(r"```graphql\n(.*?)```", docs, flags=re.S):
        text = re.sub(r"#[^\n]*", "", block)
        text = re.sub(r'"[^"\n]*…[^"\n]*"', f'"{uuid.UUID(int=1)}"', text)
        depth, start, in_string = 0, 0, False
        for i, char in enumerate(text):
            if char == '"':
                in_string = not in_string
            elif in_string:
                continue
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    yield text[start : i + 1].strip()
                    start = i + 1


README = list(readme_operations())
QUERIES = [op for op in README if not op.startswith(("mutation", "subscription"))]  # subscriptions: a stream


def cost(query: str) -> float:
    supergraph = load_supergraph(SUPERGRAPH.read_text())
    model = CostModel.from_sdl(supergraph.sdl, DEFAULTS.gateway_default_list_size)
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return estimate(supergraph.api_schema, model, operation, fragments, {})


def test_the_readme_has_operations_to_check() -> None:
    assert len(README) >= 20
    assert any(op.startswith("mutation") for op in README)
    assert len(QUERIES) >= 10


@pytest.mark.parametrize("query", [*README, TRACKER], ids=[*(f"readme{i}" for i in range(len(README))), "tracker"])
def test_real_operations_cost_less_than_the_default_limit(query: str) -> None:
    assert DEFAULTS.gateway_max_cost is not None
    assert cost(query) <= DEFAULTS.gateway_max_cost / 10  # an order of magnitude of room


def test_the_nested_example_costs_500_cubed() -> None:
    assert DEFAULTS.gateway_max_cost is not None
    assert cost(NESTED) > 500**3 > DEFAULTS.gateway_max_cost


@pytest.fixture
async def gateway_with_defaults(
    matrix_services: dict[str, str], matrix_keys: DevKeys
) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """The gateway as `make run` builds it (every default, rate limits included); audit, not started here, at a
    closed port. A factory: each call gives a client from its own address (`client=`) on the same app."""
    urls = matrix_services | {"audit": f"http://127.0.0.1:{free_port()}/graphql"}
    keys = {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
    jwks = Path(matrix_keys.jwks_path)
    settings = GatewaySettings(environment=Environment.TEST, jwks_path=jwks, gateway_subgraph_urls=urls, **keys)
    app: GatewayApp = build_app(settings, load_supergraph(SUPERGRAPH.read_text(), graph_urls=urls))
    clients: list[httpx.AsyncClient] = []

    def client(address: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://gateway"))
        return clients[-1]

    yield client
    for http in clients:
        await http.aclose()
    await app.gateway.client.close()


async def post(http: httpx.AsyncClient, query: str, token: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json", "x-demimas-purpose": "PROTECTION_CASE"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await http.post("/graphql", json={"query": query}, headers=headers)


@pytest.mark.integration
async def test_the_nested_example_is_refused_with_the_cost_code(
    gateway_with_defaults: Callable[..., httpx.AsyncClient], matrix_mint: Callable[..., str]
) -> None:
    response = await post(gateway_with_defaults(), NESTED, matrix_mint("KP2MI"))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    assert "estimated cost is 2.51002e+08" in error["message"]
    assert "data" not in response.json()


@pytest.mark.integration
@pytest.mark.parametrize("query", [*QUERIES, TRACKER], ids=[*(f"readme{i}" for i in range(len(QUERIES))), "tracker"])
async def test_real_queries_pass_through_the_gateway(
    gateway_with_defaults: Callable[..., httpx.AsyncClient], matrix_mint: Callable[..., str], query: str
) -> None:
    response = await post(gateway_with_defaults(), query, matrix_mint("KP2MI"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("data") is not None, body
    codes = [error.get("extensions", {}).get("code", "") for error in body.get("errors", ())]
    assert not [code for code in codes if code.startswith(LIMIT_CODES)], body


async def _flood(http: httpx.AsyncClient, n: int, token: str | None) -> tuple[list[httpx.Response], float]:
    started = time.monotonic()
    responses = await asyncio.gather(*(post(http, "{ __typename }", token) for _ in range(n)))
    return list(responses), time.monotonic() - started


@pytest.mark.integration
async def test_one_agency_flooding_with_the_defaults_gets_429_with_retry_after(
    gateway_with_defaults: Callable[..., httpx.AsyncClient], matrix_mint: Callable[..., str]
) -> None:
    assert DEFAULTS.gateway_default_rate_limit == (50, 100)
    http = gateway_with_defaults()
    responses, elapsed = await _flood(http, 300, matrix_mint("KEMENDES"))
    served = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(served) + len(refused) == 300
    # a full bucket of 100 at the start, then at most 50 a second (+1 for rounding): a bound, not a timing guess
    assert 100 <= len(served) <= 100 + 50 * elapsed + 1
    for response in refused:
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(response.headers["retry-after"]) >= 1
    other = await post(http, "{ __typename }", matrix_mint("BNN"))  # another agency: its own bucket
    assert other.status_code == 200


@pytest.mark.integration
async def test_anonymous_callers_are_limited_per_address(
    gateway_with_defaults: Callable[..., httpx.AsyncClient],
) -> None:
    assert DEFAULTS.gateway_anonymous_rate_limit == (5, 10)
    responses, elapsed = await _flood(gateway_with_defaults("10.1.1.1"), 40, None)
    served = sum(r.status_code == 200 for r in responses)
    assert 10 <= served <= 10 + 5 * elapsed + 1
    assert any(r.status_code == 429 and int(r.headers["retry-after"]) >= 1 for r in responses)
    assert (await post(gateway_with_defaults("10.1.1.2"), "{ __typename }")).status_code == 200
