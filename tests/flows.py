"""Flows through the real gateway that several test folders play (the portal's end-to-end and browser tests)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx

PROPOSE = "mutation P($v: String!, $j: String!) { proposeVillage(villageCode: $v, justification: $j) { id } }"
APPROVE = (
    "mutation D($id: ID!, $d: Date!, $n: String!) { approveProposal(id: $id, decreeNumber: $n, decreeDate: $d, "
    'overrideReason: "evidence filed on paper") { status } }'
)


async def gql(gateway: str, query: str, variables: dict[str, Any], token: str) -> tuple[dict[str, Any], str]:
    """The gateway's data (no errors allowed) and the request's trace id (`traceresponse`, the same as
    `extensions.traceId`)."""
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            gateway,
            content=json.dumps({"query": query, "variables": variables}),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
    answer = response.json()
    assert "errors" not in answer, answer
    trace = response.headers["traceresponse"].split("-")[1]
    assert answer["extensions"]["traceId"] == trace
    data: dict[str, Any] = answer["data"]
    return data, trace


async def decree(gateway: str, mint: Callable[..., str], village: str, number: str) -> str:
    """A village of Musi Banyuasin (16.06) proposed by the regency office, verified and assessed by the province's
    BP3MI and designated by KP2MI's decree `number`; the trace id of the approval, whose event makes the pillars
    service open the village's portfolio (two services in one trace)."""
    disnaker, bp3mi, kp2mi = mint("DISNAKER", region="16.06"), mint("BP3MI", region="16"), mint("KP2MI")
    why = "Residents work in Malaysia as production operators, mostly SMK graduates"
    pid = (await gql(gateway, PROPOSE, {"v": village, "j": why}, disnaker))[0]["proposeVillage"]["id"]
    await gql(gateway, "mutation S($id: ID!) { submitProposal(id: $id) { status } }", {"id": pid}, disnaker)
    await gql(gateway, "mutation V($id: ID!) { verifyProposal(id: $id) { status } }", {"id": pid}, bp3mi)
    await gql(gateway, "mutation A($id: ID!) { assessProposal(id: $id) { eligible } }", {"id": pid}, bp3mi)
    _, trace = await gql(gateway, APPROVE, {"id": pid, "d": dt.date.today().isoformat(), "n": number}, kp2mi)
    return trace
