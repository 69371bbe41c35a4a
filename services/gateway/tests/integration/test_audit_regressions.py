"""Cases the federation gateway audit found, reproduced with small in-process subgraphs (fixtures/regress*) so CI
guards them: fields of a value object reached through the parent entity, one response key with two types in a
subgraph's fragments, requirements that need other requirements first, partial unions under shareable fields,
requirements through `@inaccessible` types, fields only a non-resolvable `@interfaceObject` has, and entities of
several types at one path fetched in one request (as Apollo's planner plans them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Gateway, RequestError
from demimas_gateway.supergraph import load_supergraph

from ..support.subgraphs import MiniSubgraph, serve_subgraphs  # noqa: TID252

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


COMMON = {"__typename": "Common", "label": "common"}
ONLY_A = {"__typename": "OnlyA", "a": "only a"}
ONLY_B = {"__typename": "OnlyB", "b": "only b"}
HOLDER = {"__typename": "Holder", "id": "h1"}
FEED = [{"__typename": "Song", "id": "s1"}, {"__typename": "Clip", "id": "c2"}, {"__typename": "Clip", "id": "c2"}]
EVENTS = "events { __typename ... on Common { label } ... on OnlyA { a } ... on OnlyB { b } }"


def regress3_graphs() -> dict[str, MiniSubgraph]:
    """Partial unions under shareable fields (a, b), a requirement through a type clients cannot see (c, d), and a
    field only a non-resolvable `@interfaceObject` has (e, f)."""
    sdl = {p.stem: p.read_text() for p in (FIXTURES / "regress3").glob("*.graphql")}
    box_a = {"__typename": "Box", "id": "x1", "inner": {"events": [COMMON, ONLY_A]}}
    box_b = {
        "__typename": "Box",
        "id": "x1",
        "inner": {"events": [COMMON, ONLY_B]},
        "bInner": {"events": [COMMON, ONLY_B]},
    }
    shared = {"__typename": "Box", "id": "x1", "inner": {"events": [COMMON]}}
    hidden = {"__typename": "Hidden", "size": "L", "secret": "s3"}
    return {
        "a": MiniSubgraph(
            "a", sdl["a"], root={"rootA": lambda args: box_a, "sharedBox": lambda args: shared},
            entities={"Box": lambda rep: box_a},
        ),
        "b": MiniSubgraph(
            "b", sdl["b"], root={"rootB": lambda args: box_b, "sharedBox": lambda args: shared},
            entities={"Box": lambda rep: box_b},
        ),
        "c": MiniSubgraph("c", sdl["c"], entities={"Holder": lambda rep: {**HOLDER, "data": hidden}}),
        "d": MiniSubgraph(
            "d", sdl["d"], root={"holders": lambda args: [HOLDER]},
            entities={
                "Holder": lambda rep: {
                    **HOLDER,
                    "summary": f"{rep['data']['size']}-{rep['data'].get('secret')}" if rep.get("data") else None,
                }
            },
        ),
        "e": MiniSubgraph("e", sdl["e"], root={"thing": lambda args: None}),
        "g": MiniSubgraph("g", sdl["g"], root={"feed": lambda args: FEED}),
        "h": MiniSubgraph(
            "h", sdl["h"],
            entities={
                "Song": lambda rep: {"__typename": "Song", "id": rep["id"], "plays": 7},
                "Clip": lambda rep: {"__typename": "Clip", "id": rep["id"], "plays": int(rep["id"][1:])},
            },
        ),
        "f": MiniSubgraph("f", sdl["f"], root={"fThing": lambda args: None}),
    }  # fmt: skip


@pytest.fixture(scope="module")
def graphs3() -> dict[str, MiniSubgraph]:
    return regress3_graphs()


@pytest.fixture
async def gateway3(graphs3: dict[str, MiniSubgraph]) -> AsyncIterator[Gateway]:
    async with serve_subgraphs(list(graphs3.values())) as urls:
        client = SubgraphClient(urls)
        yield Gateway(load_supergraph((FIXTURES / "regress3-supergraph.graphql").read_text(), graph_urls=urls), client)
        await client.close()


async def test_partial_union_under_a_shareable_field_keeps_the_members_every_candidate_has(
    gateway3: Gateway, graphs3: dict[str, MiniSubgraph]
) -> None:
    # Box.inner and Inner.events are shareable in a and b and Box is an entity in both: either could answer, so
    # only Common (in both unions) is asked for; the OnlyA object's `a` is null, as Apollo's planner plans it
    response = await gateway3.execute(f"{{ rootA {{ inner {{ {EVENTS} }} }} }}")
    assert response.errors == []
    assert response.data == {
        "rootA": {
            "inner": {"events": [{"__typename": "Common", "label": "common"}, {"__typename": "OnlyA", "a": None}]}
        }
    }
    assert "OnlyA" not in graphs3["a"].requests[-1]["body"]["query"]
    shared = await gateway3.execute(f"{{ sharedBox {{ inner {{ {EVENTS} }} }} }}")
    assert shared.data == {"sharedBox": {"inner": {"events": [{"__typename": "Common", "label": "common"}]}}}


async def test_partial_union_after_an_entity_hop_uses_the_target_subgraphs_members(gateway3: Gateway) -> None:
    # bInner is b's alone: the hop to b decides, and b's union has OnlyB
    response = await gateway3.execute(f"{{ rootA {{ bInner {{ {EVENTS} }} }} }}")
    assert response.errors == []
    assert response.data == {
        "rootA": {
            "bInner": {"events": [{"__typename": "Common", "label": "common"}, {"__typename": "OnlyB", "b": "only b"}]}
        }
    }


async def test_requirement_through_a_type_clients_cannot_see(
    gateway3: Gateway, graphs3: dict[str, MiniSubgraph]
) -> None:
    # summary requires `data { size ... on Hidden { secret } }`; Hidden is @inaccessible, yet its fields must be
    # fetched from c for d to compute from them. Clients see the Hidden object itself as null.
    response = await gateway3.execute("{ holders { data { __typename } summary } }")
    assert response.data == {"holders": [{"data": None, "summary": "L-s3"}]}
    assert "on Hidden" in graphs3["c"].requests[-1]["body"]["query"]


async def test_field_only_a_non_resolvable_interface_object_has_is_a_planning_error(
    gateway3: Gateway, graphs3: dict[str, MiniSubgraph]
) -> None:
    before = len(graphs3["e"].requests)
    with pytest.raises(RequestError) as refused:  # no data at all: HTTP 500 with the error, as Apollo answers
        await gateway3.execute("{ thing { extra } }")
    assert refused.value.code == "QUERY_PLANNING_FAILED"
    assert "Thing.extra" in str(refused.value)
    assert len(graphs3["e"].requests) == before  # nothing was sent
    fine = await gateway3.execute("{ thing { id } }")
    assert fine.errors == []
    assert fine.data == {"thing": None}


async def test_entities_of_several_types_at_one_path_in_one_fetch(
    gateway3: Gateway, graphs3: dict[str, MiniSubgraph]
) -> None:
    graphs3["h"].requests.clear()
    response = await gateway3.execute("{ feed { __typename ... on Song { id plays } ... on Clip { id plays } } }")
    assert response.errors == []
    assert response.data == {
        "feed": [
            {"__typename": "Song", "id": "s1", "plays": 7},
            {"__typename": "Clip", "id": "c2", "plays": 2},
            {"__typename": "Clip", "id": "c2", "plays": 2},
        ]
    }
    [request] = graphs3["h"].requests  # one request for both types, the repeated clip sent once
    assert request["body"]["variables"]["representations"] == [
        {"__typename": "Song", "id": "s1"},
        {"__typename": "Clip", "id": "c2"},
    ]
