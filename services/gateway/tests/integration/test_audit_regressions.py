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


ITEMS = [{"__typename": "Item", "id": "i1", "weight": 2}]
PRICES = {"USD": 10, "EUR": 9}


def regress2_graphs() -> list[MiniSubgraph]:
    sdl = {p.stem: p.read_text() for p in (FIXTURES / "regress2").glob("*.graphql")}
    books = [{"__typename": "Book", "id": "b1"}]
    return [
        MiniSubgraph(
            "a",
            sdl["a"],
            root={"shelf": lambda args: {"id": "s1", "books": books}, "items": lambda args: ITEMS},
            entities={"Shelf": lambda rep: None, "Book": lambda rep: None, "Item": lambda rep: ITEMS[0]},
            fields={"Item.price": lambda parent, args: PRICES[args["currency"]]},
        ),
        MiniSubgraph(
            "b",
            sdl["b"],
            root={"shelf": lambda args: {"id": "s1", "books": [{"id": "b1", "title": "Dune"}]}},
            entities={"Shelf": lambda rep: None, "Book": lambda rep: None},
        ),
        MiniSubgraph("c", sdl["c"], entities={"Book": lambda rep: {"id": rep["id"], "title": "Dune"}}),
        MiniSubgraph(
            "d",
            sdl["d"],
            entities={
                "Item": lambda rep: {
                    "id": rep["id"],
                    "shippingUSD": rep["price"] * rep["weight"] if "price" in rep else None,
                    "shippingEUR": rep["price"] * rep["weight"] if "price" in rep else None,
                }
            },
        ),
    ]


async def test_shared_root_from_the_subgraph_that_provides_and_requirements_with_other_arguments() -> None:
    graphs = regress2_graphs()
    async with serve_subgraphs(graphs) as urls:
        client = SubgraphClient(urls)
        gateway = Gateway(
            load_supergraph((FIXTURES / "regress2-supergraph.graphql").read_text(), graph_urls=urls), client
        )
        # b provides books { title }: one fetch, where starting from a would need a hop to c
        shelf = await gateway.execute("{ shelf { books { title } } }")
        asked = [len(g.requests) for g in graphs[:3]]
        # shippingUSD needs price(currency: "USD"), shippingEUR price(currency: "EUR"): two representations
        items = await gateway.execute("{ items { shippingUSD shippingEUR } }")
        await client.close()
    assert shelf.data == {"shelf": {"books": [{"title": "Dune"}]}}
    assert asked == [0, 1, 0]
    assert items.errors == []
    assert items.data == {"items": [{"shippingUSD": 20, "shippingEUR": 18}]}
