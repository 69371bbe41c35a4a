"""Edge cases of real subgraphs: objects whose key is null, enum values the API schema does not have, and a root
field several subgraphs share."""

from __future__ import annotations

from pathlib import Path

import pytest

from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Caller, Gateway
from demimas_gateway.supergraph import load_supergraph

from ..support.subgraphs import MiniSubgraph, serve_subgraphs  # noqa: TID252

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures"
ITEMS = [
    {"__typename": "Item", "id": "1", "status": "OPEN", "label": {"text": "one"}},
    {"__typename": "Item", "id": None, "status": "SECRET", "label": None},
    {"__typename": "Item", "id": "3", "status": "CLOSED", "label": {"text": "three"}},
]


async def test_null_keys_unknown_enum_values_and_shared_roots() -> None:
    x = MiniSubgraph(
        "x",
        (FIXTURES / "edge" / "x.graphql").read_text(),
        root={"items": lambda a: ITEMS, "settings": lambda a: {"theme": "dark"}},
        entities={"Item": lambda rep: None},
    )
    y = MiniSubgraph(
        "y",
        (FIXTURES / "edge" / "y.graphql").read_text(),
        entities={"Item": lambda rep: {"id": rep["id"], "extra": f"extra {rep['id']}"}},
    )
    z = MiniSubgraph("z", (FIXTURES / "edge" / "z.graphql").read_text(), root={"settings": lambda a: {"locale": "id"}})
    async with serve_subgraphs([x, y, z]) as urls:
        client = SubgraphClient(urls)
        gateway = Gateway(load_supergraph((FIXTURES / "edge-supergraph.graphql").read_text(), graph_urls=urls), client)
        response = await gateway.execute("{ items { id status extra label { text } } }")
        shared = await gateway.execute("{ settings { locale theme } }")
        await client.close()
    # a shared root field of a type with no key: each subgraph asked for what it resolves, answers merged
    assert shared.errors == []
    assert shared.data == {"settings": {"locale": "id", "theme": "dark"}}
    assert response.data == {
        "items": [
            {"id": "1", "status": "OPEN", "extra": "extra 1", "label": {"text": "one"}},
            {"id": None, "status": None, "extra": None, "label": None},
            {"id": "3", "status": "CLOSED", "extra": "extra 3", "label": {"text": "three"}},
        ]
    }
    assert y.requests[0]["body"]["variables"]["representations"] == [
        {"__typename": "Item", "id": "1"},
        {"__typename": "Item", "id": "3"},
    ]
    assert response.errors == []  # an enum value the API schema does not have (@inaccessible) is null


async def test_a_subscription_outside_a_stream_is_pointed_at_one() -> None:
    """Subscriptions are served over a WebSocket or SSE (test_subscriptions.py); a plain request for one (the
    pipeline's `execute`, what a POST without `Accept: text/event-stream` runs) says so, and calls no subgraph."""
    from demimas_gateway.gateway import RequestError
    from demimas_gateway.subscription import prepare_subscription

    supergraph = load_supergraph((FIXTURES / "edge-supergraph.graphql").read_text())
    gateway = Gateway(supergraph, SubgraphClient({}))
    with pytest.raises(RequestError) as failure:
        await gateway.execute("subscription { ticks }")
    assert failure.value.code == "SUBSCRIPTION_NOT_SUPPORTED"
    assert "WebSocket (graphql-transport-ws)" in failure.value.message
    assert "text/event-stream" in failure.value.message
    # the same operation plans as a subscription: its root field from subgraph z, over its own protocol
    subscription = prepare_subscription(gateway, "subscription { ticks }", None, None, Caller(), {})
    assert (subscription.root.graph, subscription.root.operation) == ("z", "subscription")
    assert subscription.root.query.startswith("subscription ")
