"""The public federation gateway benchmark's scenario (graphql-hive/graphql-gateways-benchmark, MIT), as the gateway
benchmarks use it, and the answer a correct gateway must give to it.

Its files are in the repository, shared with the gateway's tests: services/gateway/tests/fixtures/
`bench-supergraph.graphql` (four subgraphs, accounts, inventory, products and reviews, joined with join v0.3; their
URLs are rewritten to where the benchmark's subgraphs listen), `bench-query.graphql` (the one operation `TestQuery`,
a deep nested query; about 87 KB of JSON in answer) and `bench-data.json` (6 users, 9 products, 11 reviews,
9 inventory rows). `BENCH_GATEWAY_SCENARIO` names another folder laid out as the public benchmark's
(`supergraph.graphql`, `query.graphql`, `data.json`).

How the four subgraphs answer (bench/node/subgraphs.mjs; all state in memory, read-only):
- accounts: `users` all users, `me` user 1, `user(id)`; entity `User` by `id`;
- products: `topProducts(first = 5)` the first N products; entity `Product` by `upc` (name, price, weight);
- reviews: `Product.reviews` the reviews of the product; entity `User` with `reviews` = the first two reviews;
  `Review.author` always user 1 with `username: "urigo"` (`@provides(fields: "username")`);
- inventory: `Product.inStock` from its rows; `Product.shippingEstimate` `@requires(fields: "price weight")`: 0 when
  price > 1000, else weight / 2 (integer division), null without a price, from the representation's price and
  weight as `@requires` intends (the public benchmark's own inventory subgraph always answers null).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLSchema, build_ast_schema, graphql_sync, parse

from bench.harness import ROOT, BenchError

__all__ = ["Scenario", "differences", "expected_answer", "expected_executor", "request_body"]

FIXTURES = ROOT / "services" / "gateway" / "tests" / "fixtures"


@dataclass(frozen=True)
class Scenario:
    supergraph: Path
    query: Path
    data: Path

    @classmethod
    def in_repo(cls) -> Scenario:
        return cls(
            FIXTURES / "bench-supergraph.graphql", FIXTURES / "bench-query.graphql", FIXTURES / "bench-data.json"
        )

    @classmethod
    def in_folder(cls, folder: Path) -> Scenario:
        """A folder laid out as the public benchmark's."""
        return cls(folder / "supergraph.graphql", folder / "query.graphql", folder / "data.json")

    @classmethod
    def from_env(cls) -> Scenario:
        """`BENCH_GATEWAY_SCENARIO` (a folder), else the scenario in the repository."""
        folder = os.environ.get("BENCH_GATEWAY_SCENARIO", "")
        return cls.in_folder(Path(folder)) if folder else cls.in_repo()

    def supergraph_at(self, port: int) -> str:
        """The supergraph with every subgraph URL pointing at the benchmark's subgraphs on this loopback port."""
        return re.sub(r'url: "http://[^"/]+/', f'url: "http://127.0.0.1:{port}/', self.supergraph.read_text())

    @property
    def query_label(self) -> str:
        """`TestQuery (<its file>)`, relative to the repository when inside it."""
        path = self.query.resolve()
        return f"TestQuery ({path.relative_to(ROOT) if path.is_relative_to(ROOT) else path})"


def expected_executor(scenario: Scenario) -> GraphQLSchema:
    """The scenario's graph as one executable schema: the supergraph's types with the merged behaviour of the four
    subgraphs (the rules above), so that graphql-core computes the answer a correct gateway must give."""
    data = json.loads(scenario.data.read_text())
    schema = build_ast_schema(parse(scenario.supergraph.read_text()))
    users: dict[str, dict[str, Any]] = {u["id"]: dict(u) for u in data["users"]}  # accounts
    stock = {row["upc"]: row["inStock"] for row in data["inventory"]}
    products: dict[str, dict[str, Any]] = {}
    for p in data["products"]:  # products: name, price, weight; inventory: inStock, shippingEstimate; reviews
        price, weight = p.get("price"), p.get("weight")
        estimate = None if price is None else 0 if price > 1000 else None if weight is None else weight // 2
        products[p["upc"]] = dict(p, inStock=stock.get(p["upc"]), shippingEstimate=estimate, reviews=[])
    # reviews: Review.author is always user 1, its username provided by the reviews subgraph ("urigo")
    author = dict(users["1"], username="urigo")
    reviews: list[dict[str, Any]] = []
    for r in data["reviews"]:
        review = {"id": r["id"], "body": r["body"], "product": products.get(r["productUpc"]), "author": author}
        reviews.append(review)
        if r["productUpc"] in products:
            products[r["productUpc"]]["reviews"].append(review)
    for user in [*users.values(), author]:  # reviews: User.reviews is the first two reviews, for every user
        user["reviews"] = reviews[:2]
    query = schema.query_type
    assert query is not None
    query.fields["users"].resolve = lambda *_: list(users.values())
    query.fields["me"].resolve = lambda *_: users["1"]
    query.fields["user"].resolve = lambda _root, _info, **args: users.get(args["id"])
    query.fields["topProducts"].resolve = lambda _root, _info, first: list(products.values())[:first]
    return schema


def expected_answer(schema: GraphQLSchema, query: str) -> dict[str, Any]:
    result = graphql_sync(schema, query)
    if result.errors:
        raise BenchError(f"the expected answer itself has errors: {result.errors}")
    return {"data": result.data}


def differences(expected: Any, actual: Any, path: str = "$", limit: int = 20) -> list[str]:
    """Where actual differs from expected: values, types, list lengths, missing or extra keys, key order."""
    out: list[str] = []

    def walk(e: Any, a: Any, at: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(e, dict) and isinstance(a, dict):
            missing, extra = [k for k in e if k not in a], [k for k in a if k not in e]
            if missing:
                out.append(f"{at}: missing {missing}")
            if extra:
                out.append(f"{at}: unexpected {extra}")
            common = [k for k in e if k in a]
            if not missing and not extra and list(e) != list(a):
                out.append(f"{at}: field order {list(a)}, expected {list(e)}")
            for k in common:
                walk(e[k], a[k], f"{at}.{k}")
        elif isinstance(e, list) and isinstance(a, list):
            if len(e) != len(a):
                out.append(f"{at}: {len(a)} items, expected {len(e)}")
            for i, (ei, ai) in enumerate(zip(e, a, strict=False)):
                walk(ei, ai, f"{at}[{i}]")
        elif type(e) is not type(a) or e != a:
            out.append(f"{at}: {json.dumps(a)[:120]}, expected {json.dumps(e)[:120]}")

    walk(expected, actual, path)
    return out


def request_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    """A GraphQL request's JSON body."""
    return orjson.dumps({"query": query} | ({"variables": variables} if variables else {}))
