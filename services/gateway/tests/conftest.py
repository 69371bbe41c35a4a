"""Fixtures of the gateway tests: the public gateway benchmark's four subgraphs as in-process mini subgraphs, and a
monolith that answers the same API schema directly (what the gateway's answer must equal)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSchema, graphql

from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Gateway
from demimas_gateway.supergraph import Supergraph, load_supergraph

from .support.subgraphs import MiniSubgraph, serve_subgraphs

FIXTURES = Path(__file__).parent / "fixtures"
DATA = json.loads((FIXTURES / "bench-data.json").read_text())
BENCH_QUERY = (FIXTURES / "bench-query.graphql").read_text()
BENCH_SUPERGRAPH = (FIXTURES / "bench-supergraph.graphql").read_text()

USERS = {u["id"]: u for u in DATA["users"]}
PRODUCTS = {p["upc"]: p for p in DATA["products"]}
INVENTORY = {i["upc"]: i for i in DATA["inventory"]}


def _review(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "Review",
        "id": r["id"],
        "body": r["body"],
        "product": {"__typename": "Product", "upc": r["productUpc"]},
    }


def _shipping(price: int | None, weight: int | None) -> int | None:
    if price is None:
        return None
    if price > 1000:
        return 0
    return (weight or 0) // 2


def bench_subgraphs() -> list[MiniSubgraph]:
    accounts = MiniSubgraph(
        "accounts",
        """
        type Query { me: User  user(id: ID!): User  users: [User] }
        type User @key(fields: "id") { id: ID! name: String username: String @shareable birthday: Int }
        """,
        root={
            "me": lambda a: USERS["1"],
            "user": lambda a: USERS.get(a["id"]),
            "users": lambda a: list(USERS.values()),
        },
        entities={"User": lambda rep: USERS.get(rep["id"])},
    )
    products = MiniSubgraph(
        "products",
        """
        type Query { topProducts(first: Int = 5): [Product] }
        type Product @key(fields: "upc") { upc: String! name: String price: Int weight: Int }
        """,
        root={"topProducts": lambda a: list(PRODUCTS.values())[: a.get("first", 5)]},
        entities={"Product": lambda rep: PRODUCTS.get(rep["upc"])},
    )
    inventory = MiniSubgraph(
        "inventory",
        """
        type Product @key(fields: "upc") {
          upc: String! weight: Int @external price: Int @external inStock: Boolean
          shippingEstimate: Int @requires(fields: "price weight")
        }
        """,
        entities={
            "Product": lambda rep: {
                "upc": rep["upc"],
                "inStock": INVENTORY.get(rep["upc"], {}).get("inStock"),
                "shippingEstimate": _shipping(rep.get("price"), rep.get("weight")),
            }
        },
    )
    first_two = [_review(r) for r in DATA["reviews"][:2]]
    reviews = MiniSubgraph(
        "reviews",
        """
        type Review @key(fields: "id") {
          id: ID! body: String product: Product author: User @provides(fields: "username")
        }
        type User @key(fields: "id") { id: ID! username: String @external reviews: [Review] }
        type Product @key(fields: "upc") { upc: String! reviews: [Review] }
        """,
        entities={
            "User": lambda rep: {"id": rep["id"], "username": "user", "reviews": first_two},
            "Product": lambda rep: {
                "upc": rep["upc"],
                "reviews": [_review(r) for r in DATA["reviews"] if r["productUpc"] == rep["upc"]],
            },
            "Review": lambda rep: next((_review(r) for r in DATA["reviews"] if r["id"] == rep["id"]), None),
        },
        fields={
            "Review.author": lambda parent, args: {"id": "1", "username": "urigo", "reviews": first_two},
            "Product.reviews": lambda parent, args: [
                _review(r) for r in DATA["reviews"] if r["productUpc"] == parent["upc"]
            ],
        },
    )
    return [accounts, products, inventory, reviews]


def bench_monolith(schema: GraphQLSchema) -> GraphQLSchema:
    """The same answers without federation: resolvers straight on the API schema."""
    first_two = DATA["reviews"][:2]

    def product(upc: str) -> dict[str, Any]:
        p = PRODUCTS[upc]
        return {
            **p,
            "inStock": INVENTORY.get(upc, {}).get("inStock"),
            "shippingEstimate": _shipping(p.get("price"), p.get("weight")),
            "reviews": [review(r) for r in DATA["reviews"] if r["productUpc"] == upc],
        }

    def review(r: dict[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "body": r["body"], "product": lambda *_: product(r["productUpc"]), "author": author}

    def author(*_: Any) -> dict[str, Any]:
        return {**USERS["1"], "username": "urigo", "reviews": lambda *_: [review(r) for r in first_two]}

    def user(u: dict[str, Any]) -> dict[str, Any]:
        return {**u, "reviews": lambda *_: [review(r) for r in first_two]}

    query = schema.query_type
    assert query is not None
    query.fields["users"].resolve = lambda *_: [user(u) for u in USERS.values()]
    query.fields["me"].resolve = lambda *_: user(USERS["1"])
    query.fields["topProducts"].resolve = lambda _r, _i, first=5: [product(u) for u in list(PRODUCTS)[:first]]
    return schema


async def run_monolith(schema: GraphQLSchema, query: str, variables: dict[str, Any] | None = None) -> Any:
    def default(source: Any, info: Any, **args: Any) -> Any:
        value = source.get(info.field_name) if isinstance(source, dict) else getattr(source, info.field_name, None)
        return value(source, info, **args) if callable(value) else value

    result = await graphql(schema, query, variable_values=variables, field_resolver=default)
    assert not result.errors, result.errors
    return result.data


@pytest.fixture(scope="session")
def bench_graphs() -> list[MiniSubgraph]:
    return bench_subgraphs()


@pytest.fixture(scope="session")
async def bench_urls(bench_graphs: list[MiniSubgraph]) -> AsyncIterator[dict[str, str]]:
    async with serve_subgraphs(bench_graphs) as urls:
        yield urls


@pytest.fixture(scope="session")
def bench_supergraph(bench_urls: dict[str, str]) -> Supergraph:
    return load_supergraph(BENCH_SUPERGRAPH, graph_urls=bench_urls)


@pytest.fixture
async def bench_gateway(bench_supergraph: Supergraph) -> AsyncIterator[Gateway]:
    client = SubgraphClient({n: g.url for n, g in bench_supergraph.graphs.items()}, timeout_seconds=5)
    yield Gateway(bench_supergraph, client)
    await client.close()
