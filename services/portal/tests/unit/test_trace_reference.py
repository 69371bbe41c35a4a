"""The reference a person hands an auditor: the gateway's trace id of an action, read from the answer and shown in
the flash message after a milestone is completed."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from demimas_portal.app import create_app
from demimas_portal.csrf import csrf_token
from demimas_portal.gateway import GatewayResult, check, trace_id_of
from demimas_portal.session import COOKIE_NAME, Session
from demimas_portal.settings import PortalSettings

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_the_trace_id_comes_from_the_body_else_the_traceresponse_header() -> None:
    assert trace_id_of({"extensions": {"traceId": TRACE}}) == TRACE
    assert trace_id_of({}, f"00-{TRACE}-00f067aa0ba902b7-01") == TRACE
    assert trace_id_of({"extensions": {"traceId": TRACE}}, "00-" + "1" * 32 + "-00f067aa0ba902b7-01") == TRACE


@pytest.mark.parametrize(
    ("payload", "header"),
    [({}, None), ({"extensions": {"traceId": "not-a-trace"}}, "garbage"), ({}, f"00-{'0' * 32}-00f067aa0ba902b7-01"),
     ({"extensions": "x"}, f"00-{TRACE.upper()}-00f067aa0ba902b7-01")],
)  # fmt: skip
def test_no_trace_id_when_neither_holds_a_valid_one(payload: dict[str, Any], header: str | None) -> None:
    assert trace_id_of(payload, header) is None


def test_a_checked_answer_carries_its_trace_id() -> None:
    result = check({"data": {"a": 1}}, traceresponse=f"00-{TRACE}-00f067aa0ba902b7-01")
    assert result.trace_id == TRACE
    assert check({"data": {"a": 1}}).trace_id is None


PILOT, MILESTONE = "0190c1d2-9a6b-7c2e-8f00-000000000001", "0190c1d2-9a6b-7c2e-8f00-000000000002"
"""Ids as the API makes them (UUIDs): the routes refuse anything else before asking the gateway."""


class FakeGateway:
    """Answers the completion as the gateway would, with (or without) a trace id."""

    def __init__(self, trace_id: str | None) -> None:
        self.trace_id = trace_id
        self.url = "http://gateway.invalid/graphql"

    async def execute(self, query: str, variables: dict[str, Any] | None = None, **_: Any) -> GatewayResult:
        if "completeMilestone" in query:
            data = {"completeMilestone": {"id": "p1", "milestones": [{"id": "m1", "completedOn": "2026-03-01"}]}}
            return GatewayResult(data=data, errors=[], trace_id=self.trace_id)
        return GatewayResult(data={}, errors=[])

    async def close(self) -> None:
        return None


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = PortalSettings(
        environment="test", dev_keys_dir=tmp_path, portal_gateway_url="http://127.0.0.1:9/graphql"
    )
    app = create_app(settings)
    await app.state.portal.gateway.close()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as http:
        yield http, app


async def complete(client: httpx.AsyncClient, app: Any, trace_id: str | None, lang: str) -> str:
    """Complete a milestone of a pilot as KEMENDES; the flash message the next page would show."""
    app.state.portal.gateway = FakeGateway(trace_id)
    session = Session(
        csrf_secret="s" * 32, lang=lang, token="t", agency="KEMENDES", expires_at=time.time() + 600, sid="sid-1"
    )
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, app.state.portal.codec.encode(session))
    done = await client.post(
        f"/pilots/{PILOT}/milestones/{MILESTONE}/complete", data={"csrf_token": csrf_token("s" * 32)}
    )
    assert done.status_code == 303
    cookie = re.search(rf"{COOKIE_NAME}=([^;]+)", done.headers["set-cookie"])
    assert cookie
    after = app.state.portal.codec.decode(cookie.group(1))
    assert after is not None
    assert after.flash_kind == "success"
    return str(after.flash)


async def test_the_flash_after_a_completion_names_the_trace(portal: tuple[httpx.AsyncClient, Any]) -> None:
    client, app = portal
    assert await complete(client, app, TRACE, "id") == f"Tahapan ditandai selesai. Referensi untuk auditor: {TRACE}"
    assert await complete(client, app, TRACE, "en") == f"Milestone marked completed. Reference for an auditor: {TRACE}"
    assert await complete(client, app, None, "en") == "Milestone marked completed."  # no trace id: no reference
