"""Cases the federation gateway audit found, reproduced with small in-process subgraphs (fixtures/regress) so CI
guards them: fields of a value object reached through the parent entity, one response key with two types in a
subgraph's fragments, and requirements that need other requirements first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Gateway
from demimas_gateway.supergraph import load_supergraph
from demimas_gateway.testing import MiniSubgraph, serve_subgraphs

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures"
PRODUCTS = [{"__typename": "Product", "id": "p1", "category": {"id": "c1"}}]


def regress_graphs() -> dict[str, MiniSubgraph]:
    sdl = {p.stem: p.read_text() for p in (FIXTURES / "regress").glob("*.graphql")}
    return {
        "a": MiniSubgraph(
            "a",
            sdl["a"],
            root={
                "products": lambda args: PRODUCTS,
                "accounts": lambda args: [
                    {"__typename": "User", "id": "u1", "nickname": "uu"},
                    {"__typename": "Admin", "id": "a1", "nickname": None},
                ],
            },
            entities={"Product": lambda rep: PRODUCTS[0], "User": lambda rep: None},
        ),
        "b": MiniSubgraph(
            "b",
            sdl["b"],
            entities={
                "Product": lambda rep: {"id": rep["id"], "price": 100, "category": {"id": "c1", "details": "lamps"}}
            },
        ),
        "c": MiniSubgraph(
            "c", sdl["c"], entities={"Product": lambda rep: {"id": rep["id"], "tax": rep["price"] // 10}}
        ),
        "d": MiniSubgraph(
            "d", sdl["d"], entities={"Product": lambda rep: {"id": rep["id"], "total": 100 + rep["tax"]}}
        ),
        "e": MiniSubgraph("e", sdl["e"], entities={"User": lambda rep: {"id": rep["id"], "nickname": "e"}}),
    }


@pytest.fixture(scope="module")
def graphs() -> dict[str, MiniSubgraph]:
    return regress_graphs()


@pytest.fixture
async def gateway(graphs: dict[str, MiniSubgraph]) -> AsyncIterator[Gateway]:
    async with serve_subgraphs(list(graphs.values())) as urls:
        client = SubgraphClient(urls)
        yield Gateway(load_supergraph((FIXTURES / "regress-supergraph.graphql").read_text(), graph_urls=urls), client)
        await client.close()


async def test_value_object_fields_through_the_parent_entity(gateway: Gateway) -> None:
    # Category has no key anywhere: its `details` (only in b) come through Product's entity fetch in b
    response = await gateway.execute("{ products { id category { id details } } }")
    assert response.errors == []
    assert response.data == {"products": [{"id": "p1", "category": {"id": "c1", "details": "lamps"}}]}


async def test_one_key_with_two_types_in_a_subgraph(gateway: Gateway, graphs: dict[str, MiniSubgraph]) -> None:
    # in a, User.nickname is String! and Admin.nickname String: the subgraph query must alias one of them
    response = await gateway.execute("{ accounts { ... on User { id nickname } ... on Admin { id nickname } } }")
    assert response.errors == []
    assert response.data == {"accounts": [{"id": "u1", "nickname": "uu"}, {"id": "a1", "nickname": None}]}
    assert "nickname__Admin: nickname" in graphs["a"].requests[-1]["body"]["query"]


async def test_requirements_of_requirements_run_first(gateway: Gateway) -> None:
    # total (d) requires tax (c), which requires price (b): b, then c, then d, each given what it needs
    response = await gateway.execute("{ products { id total } }")
    assert response.errors == []
    assert response.data == {"products": [{"id": "p1", "total": 110}]}
