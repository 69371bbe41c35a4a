"""A regional agency's attacks across region and scope boundaries, through the gateway with the agencies' own
tokens (the mutations' existence oracle is found by the region walk, test_region_walk.py): each test here failed
before the fix committed with it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from demimas_common.devstack.testing import TestStack
from demimas_common.subscriptions.client import WsClient
from tests.conftest import Endpoints, ask

from .test_gateway_subscriptions import UPDATE, collect, registered, ws_url
from .test_subgraph_subscriptions import last_seq

pytestmark = pytest.mark.integration

HOME = "16.06.13.2005"  # Musi Banyuasin: the regency office's region
AWAY = "33.07.03.2003"  # Wonosobo, another province
MOVES = """subscription($a: String) { workerChanged(after: $a) {
  workerId kind villageCode previousVillageCode } }"""
REGISTER_ORG = """mutation G($in: LegalAidOrganisationInput!) {
  registerLegalAidOrganisation(input: $in) { id regionsServed } }"""


async def test_a_worker_who_moved_in_does_not_tell_a_regional_subscriber_where_it_came_from(
    stack: TestStack, gateway_over_http: str, endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    """A worker of Wonosobo moves to Musi Banyuasin: the regency office of Musi Banyuasin receives the change (the
    worker is now in its region) but not the village the worker left, which lies outside its region; a national
    subscriber gets both, and a move within the region keeps its previous village. (The change feed already left
    the village out; checked here too, it passed before the fix.)"""
    kp2mi, office = mint("KP2MI"), mint("DISNAKER", region="16.06")
    start = await last_seq(stack)
    url = ws_url(gateway_over_http)
    async with (
        WsClient.connect(url, payload={"authorization": f"Bearer {kp2mi}"}) as national,
        WsClient.connect(url, payload={"authorization": f"Bearer {office}"}) as regional,
    ):
        await national.subscribe("n", MOVES, {"a": start})
        await regional.subscribe("r", MOVES, {"a": start})
        away = await registered(endpoints, kp2mi, AWAY)
        near = await registered(endpoints, kp2mi, "16.06.13.2001")
        for worker in (away, near):
            _, body = await ask(endpoints.gateway, UPDATE, {"id": worker, "input": {"villageCode": HOME}}, token=kp2mi)
            assert "errors" not in body, body

        def moved(events: list[dict[str, Any]]) -> bool:
            return {away, near} <= {e["workerId"] for e in events if e["villageCode"] == HOME}

        seen = {name: {e["workerId"]: e for e in await collect(ws, ident, moved) if e["villageCode"] == HOME}
                for name, ws, ident in (("national", national, "n"), ("regional", regional, "r"))}  # fmt: skip
    assert seen["national"][away]["previousVillageCode"] == AWAY
    assert seen["regional"][away]["previousVillageCode"] is None, seen["regional"][away]
    assert seen["regional"][near]["previousVillageCode"] == "16.06.13.2001"

    # The change feed (and so a webhook, which projects events by the same rule) already left it out: the same
    # moves read there by the office carry the previous village inside its region only.
    changes = """query F($after: String) { changes(after: $after, types: ["demimas.registry.worker.updated"],
        first: 1000) { edges { node { subject data } } } }"""
    _, body = await ask(endpoints.gateway, changes, {"after": start}, token=office)
    moves = {e["node"]["subject"]: e["node"]["data"] for e in body["data"]["changes"]["edges"]
             if e["node"]["data"].get("villageCode") == HOME}  # fmt: skip
    assert "previousVillageCode" not in moves[away], moves[away]
    assert moves[near]["previousVillageCode"] == "16.06.13.2001"


async def test_a_regional_kp2mi_office_registers_legal_aid_only_inside_its_region(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    """KP2MI keeps the register of legal aid organisations; its office of province 16 registered one serving
    province 33 (or 16 and 33): a regional caller acts inside its region only."""
    office = mint("KP2MI", region="16")

    def org(*regions: str) -> dict[str, Any]:
        return {"name": "LBH Hostile Regional", "accreditationNumber": f"HOST-{uuid.uuid4().hex[:10]}",
                "regionsServed": list(regions), "contact": "lbh@example.org"}  # fmt: skip

    for regions in (("33",), ("16.06", "33.07")):
        _, body = await ask(endpoints.gateway, REGISTER_ORG, {"in": org(*regions)}, token=office)
        assert body["data"] == {"registerLegalAidOrganisation": None}, body
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    _, body = await ask(endpoints.gateway, REGISTER_ORG, {"in": org("16.06")}, token=office)
    assert body["data"]["registerLegalAidOrganisation"]["regionsServed"] == ["16.06"], body
    _, body = await ask(endpoints.gateway, REGISTER_ORG, {"in": org("33")}, token=mint("KP2MI"))
    assert body["data"]["registerLegalAidOrganisation"]["regionsServed"] == ["33"], body
