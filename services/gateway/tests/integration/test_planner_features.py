"""Each planner feature end to end over small in-process subgraphs (fixtures/shop: catalog, pricing, reviews,
composed by The Guild's composer into fixtures/shop-supergraph.graphql)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Caller, Gateway, RequestError
from demimas_gateway.supergraph import load_supergraph

from ..support.subgraphs import MiniSubgraph, serve_subgraphs  # noqa: TID252

pytestmark = pytest.mark.integration

SHOP = Path(__file__).parent.parent / "fixtures" / "shop"
SUPERGRAPH = (Path(__file__).parent.parent / "fixtures" / "shop-supergraph.graphql").read_text()

PRODUCTS = {
    "p1": {
        "id": "p1",
        "name": "Lamp",
        "weight": 2,
        "size": {"width": 3, "height": 4},
        "stock": 5,
        "cost": 7,
        "sku": "L",
    },
    "p2": {
        "id": "p2",
        "name": "Desk",
        "weight": 10,
        "size": {"width": 8, "height": 2},
        "stock": 0,
        "cost": 70,
        "sku": None,
    },
}
PRICES = {"p1": {"price": 100, "stock": 50, "margin": 10}, "p2": {"price": 250, "stock": 60, "margin": 20}}
MEDIA = [
    {"__typename": "Book", "id": "b1", "title": "Dune", "pages": 500},
    {"__typename": "Movie", "id": "m1", "title": "Alien", "minutes": 117},
]
RATINGS = {"b1": 4, "m1": 5}
REVIEWS = [
    {"id": "r1", "body": "good", "product": {"id": "p1", "name": "Lamp"}},
    {"id": "r2", "body": "bad", "product": {"id": "p2", "name": "Desk"}},
]


def _product(pid: str) -> dict[str, Any] | None:
    p = PRODUCTS.get(pid)
    return {"__typename": "Product", **p} if p else None


def shop_graphs() -> dict[str, MiniSubgraph]:
    sdl = {p.stem: p.read_text() for p in SHOP.glob("*.graphql")}
    catalog = MiniSubgraph(
        "catalog",
        sdl["catalog"],
        root={
            "products": lambda a: [_product(p) for p in PRODUCTS],
            "product": lambda a: _product(a["id"]),
            "search": lambda a: [_product("p1"), {"__typename": "Article", "id": "a1", "title": "Guide"}],
            "media": lambda a: MEDIA,
            "node": lambda a: _product(a["id"]),
        },
        mutations={"setStock": lambda a: {**(_product(a["id"]) or {}), "stock": a["stock"]}},
        entities={
            "Product": lambda rep: _product(rep["id"]),
            "Book": lambda rep: MEDIA[0],
            "Movie": lambda rep: MEDIA[1],
            "Media": lambda rep: next((m for m in MEDIA if m["id"] == rep["id"]), None),
        },
    )
    pricing = MiniSubgraph(
        "pricing",
        sdl["pricing"],
        mutations={"setPrice": lambda a: {"__typename": "Product", "id": a["id"], "price": a["price"]}},
        entities={
            "Product": lambda rep: {
                "id": rep["id"],
                **PRICES[rep["id"]],
                "shipping": rep["weight"] * rep["size"]["width"] if "weight" in rep else None,
            }
        },
    )
    reviews = MiniSubgraph(
        "reviews",
        sdl["reviews"],
        root={
            "topReviews": lambda a: REVIEWS[: a.get("first", 2)],
            "mediaOfTheWeek": lambda a: {"__typename": "Media", "id": "b1", "rating": 4},
        },
        entities={
            "Product": lambda rep: {
                "id": rep["id"],
                "reviews": [r for r in REVIEWS if r["product"]["id"] == rep["id"]],
            },
            "Media": lambda rep: {"id": rep["id"], "rating": RATINGS.get(rep["id"])},
        },
    )
    return {"catalog": catalog, "pricing": pricing, "reviews": reviews}


@pytest.fixture(scope="module")
def graphs() -> dict[str, MiniSubgraph]:
    return shop_graphs()


@pytest.fixture(scope="module")
async def urls(graphs: dict[str, MiniSubgraph]) -> AsyncIterator[dict[str, str]]:
    async with serve_subgraphs(list(graphs.values())) as served:
        yield served


@pytest.fixture
async def gateway(urls: dict[str, str], graphs: dict[str, MiniSubgraph]) -> AsyncIterator[Gateway]:
    supergraph = load_supergraph(SUPERGRAPH, graph_urls=urls)
    client = SubgraphClient(urls, timeout_seconds=10)  # generous: no timeout is tested here (1 s flakes on loaded CI)
    for graph in graphs.values():
        graph.requests.clear()
    yield Gateway(supergraph, client)
    await client.close()


def calls(graphs: dict[str, MiniSubgraph]) -> dict[str, int]:
    return {name: len(g.requests) for name, g in graphs.items()}


async def test_requires_passes_required_fields_in_representations(
    gateway: Gateway, graphs: dict[str, MiniSubgraph]
) -> None:
    response = await gateway.execute("{ products { id shipping } }")
    assert response.errors == []
    assert response.data == {"products": [{"id": "p1", "shipping": 6}, {"id": "p2", "shipping": 80}]}
    reps = graphs["pricing"].requests[0]["body"]["variables"]["representations"]
    assert reps[0] == {"__typename": "Product", "id": "p1", "weight": 2, "size": {"width": 3}}


async def test_provides_skips_the_owning_subgraph(gateway: Gateway, graphs: dict[str, MiniSubgraph]) -> None:
    response = await gateway.execute("{ topReviews { body product { name } } }")
    assert response.data == {
        "topReviews": [{"body": "good", "product": {"name": "Lamp"}}, {"body": "bad", "product": {"name": "Desk"}}]
    }
    assert calls(graphs) == {"catalog": 0, "pricing": 0, "reviews": 1}


async def test_entities_are_batched_and_deduplicated(gateway: Gateway, graphs: dict[str, MiniSubgraph]) -> None:
    response = await gateway.execute('{ a: product(id: "p1") { price } b: product(id: "p1") { price } }')
    assert response.data == {"a": {"price": 100}, "b": {"price": 100}}
    # both positions (a, b) in one fetch, waiting for the same root fetch; the one product sent once
    assert calls(graphs)["pricing"] == 1
    assert [len(r["body"]["variables"]["representations"]) for r in graphs["pricing"].requests] == [1]
    graphs["pricing"].requests.clear()
    response = await gateway.execute("{ products { price } topReviews { product { id price } } }")
    assert response.errors == []
    assert [p["price"] for p in response.data["products"]] == [100, 250]  # type: ignore[index]


async def test_union_and_interface_type_conditions(gateway: Gateway) -> None:
    response = await gateway.execute(
        "{ search { __typename ... on Product { name price } ... on Article { title } }"
        '  node(id: "p2") { id ... on Product { price } } }'
    )
    assert response.errors == []
    assert response.data == {
        "search": [
            {"__typename": "Product", "name": "Lamp", "price": 100},
            {"__typename": "Article", "title": "Guide"},
        ],
        "node": {"id": "p2", "price": 250},
    }


async def test_interface_object_fields(gateway: Gateway, graphs: dict[str, MiniSubgraph]) -> None:
    response = await gateway.execute("{ media { id title rating ... on Book { pages } ... on Movie { minutes } } }")
    assert response.errors == []
    assert response.data == {
        "media": [
            {"id": "b1", "title": "Dune", "rating": 4, "pages": 500},
            {"id": "m1", "title": "Alien", "rating": 5, "minutes": 117},
        ]
    }
    reps = graphs["reviews"].requests[0]["body"]["variables"]["representations"]
    assert reps == [{"__typename": "Media", "id": "b1"}, {"__typename": "Media", "id": "m1"}]


async def test_interface_object_root_gets_its_concrete_type(gateway: Gateway, graphs: dict[str, MiniSubgraph]) -> None:
    query = "{ mediaOfTheWeek { __typename id rating title ... on Book { pages } ... on Movie { minutes } } }"
    response = await gateway.execute(query)
    assert response.errors == []
    assert response.data == {
        "mediaOfTheWeek": {"__typename": "Book", "id": "b1", "rating": 4, "title": "Dune", "pages": 500}
    }
    assert graphs["catalog"].requests[0]["body"]["variables"]["representations"] == [
        {"__typename": "Media", "id": "b1"}
    ]


async def test_progressive_override_label(gateway: Gateway) -> None:
    # percent(100): the pricing subgraph always wins (the catalog says 5 and 0)
    response = await gateway.execute("{ products { stock } }")
    assert response.data == {"products": [{"stock": 50}, {"stock": 60}]}
    cached, *_ = gateway.plan_for("{ products { stock } }", labels=frozenset())
    assert [f.graph for f in cached.plan.fetches] == ["catalog"]


async def test_fragments_aliases_variables_skip_include(gateway: Gateway) -> None:
    query = """
      query Q($id: ID!, $withPrice: Boolean!, $skipName: Boolean = false) {
        first: product(id: $id) { ...Ids n: name @skip(if: $skipName) cost: price @include(if: $withPrice) }
      }
      fragment Ids on Product { id pid: id }
    """
    response = await gateway.execute(query, variables={"id": "p1", "withPrice": True})
    assert response.errors == []
    assert response.data == {"first": {"id": "p1", "pid": "p1", "n": "Lamp", "cost": 100}}
    response = await gateway.execute(query, variables={"id": "p1", "withPrice": False, "skipName": True})
    assert response.data == {"first": {"id": "p1", "pid": "p1"}}


async def test_mutations_run_in_order(gateway: Gateway, graphs: dict[str, MiniSubgraph]) -> None:
    response = await gateway.execute(
        'mutation { a: setStock(id: "p1", stock: 3) { stock } b: setPrice(id: "p1", price: 9) { price }'
        ' c: setStock(id: "p2", stock: 4) { id } }'
    )
    assert response.errors == []
    assert response.data == {"a": {"stock": 50}, "b": {"price": 9}, "c": {"id": "p2"}}
    order = [(name, r["body"]["query"].split("{")[1]) for name, g in graphs.items() for r in g.requests]
    assert len(order) == 4  # setStock, (stock from pricing), setPrice, setStock


async def test_null_in_non_null_field_nulls_the_parent(gateway: Gateway) -> None:
    response = await gateway.execute("{ products { id sku } }")
    assert response.data == {"products": [{"id": "p1", "sku": "L"}, None]}
    assert response.errors[0]["path"] == ["products", 1, "sku"]


async def test_inaccessible_fields_are_not_in_the_api_schema(gateway: Gateway) -> None:
    with pytest.raises(RequestError) as failure:
        await gateway.execute("{ search { ... on Article { secret } } }")
    assert failure.value.code == "GRAPHQL_VALIDATION_FAILED"


async def test_scopes_remove_fields_before_planning(gateway: Gateway, graphs: dict[str, MiniSubgraph]) -> None:
    query = '{ product(id: "p1") { name cost margin } }'
    response = await gateway.execute(query)
    assert response.data == {"product": {"name": "Lamp", "cost": None, "margin": None}}
    assert sorted(tuple(e["path"]) for e in response.errors) == [("product", "cost"), ("product", "margin")]
    assert {e["extensions"]["code"] for e in response.errors} == {"UNAUTHORIZED_FIELD_OR_TYPE"}
    assert calls(graphs)["pricing"] == 0  # margin's fetch became empty: not called
    assert "cost" not in graphs["catalog"].requests[0]["body"]["query"]
    caller = Caller(authenticated=True, scopes=frozenset({"finance:read"}))
    response = await gateway.execute(query, caller=caller)
    assert response.errors == []
    assert response.data == {"product": {"name": "Lamp", "cost": 7, "margin": 10}}


async def test_mutation_over_get_is_refused(gateway: Gateway, graphs: dict[str, MiniSubgraph]) -> None:
    with pytest.raises(RequestError) as failure:
        await gateway.execute(
            'mutation { setStock(id: "p1", stock: 1) { id } }', allowed_operations=frozenset({"query"})
        )
    assert (failure.value.status, failure.value.code) == (405, "METHOD_NOT_ALLOWED")
    assert calls(graphs) == {"catalog": 0, "pricing": 0, "reviews": 0}
