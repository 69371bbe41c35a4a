"""Federated subscriptions through the gateway, over real sockets: the gateway (`build_app` from settings, as
`make run` builds it, served by uvicorn) in front of two strawberry subgraphs that follow the issue-18 contract
(`support/live.py`), with real WebSocket (`graphql-transport-ws`) and SSE clients and real signed tokens."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.settings import Environment
from demimas_gateway.app import build_app
from demimas_gateway.http import GatewayApp
from demimas_gateway.settings import GatewaySettings
from demimas_gateway.supergraph import load_supergraph

from ..support.live import SUPERGRAPH, LiveSubgraphs, Served, live_subgraphs, serve_app  # noqa: TID252
from ..support.wsclient import GraphQLWs, open_ws, sse_events  # noqa: TID252

pytestmark = pytest.mark.integration

ISSUER, AUDIENCE = "https://auth.subscriptions.test", "demimas"
CHANGES = """subscription ($after: String, $region: String) {
  workerChanged(after: $after, regionPrefix: $region) { cursor kind workerId worker { id status name village } }
}"""
SIMPLE = "subscription ($after: String) { workerChanged(after: $after) { cursor workerId } }"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("subscription-keys"))


@pytest.fixture(scope="module")
def mint(keys: DevKeys) -> Callable[..., str]:
    def make(agency: str, **claims: Any) -> str:
        return "Bearer " + mint_token(keys, issuer=ISSUER, audience=AUDIENCE, agency=agency, **claims)

    return make


@pytest.fixture(scope="module")
async def live() -> AsyncIterator[LiveSubgraphs]:
    async with live_subgraphs() as subgraphs:
        yield subgraphs


def settings(keys: DevKeys, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "environment": Environment.TEST,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwks_path": Path(keys.jwks_path),
        "jwt_leeway_seconds": 0,
        "gateway_default_rate_limit": None,
        **overrides,
    }
    return GatewaySettings(**values)


async def serve_gateway(live: LiveSubgraphs, keys: DevKeys, port: int | None = None, **overrides: Any) -> Served:
    app = build_app(settings(keys, **overrides), load_supergraph(SUPERGRAPH, graph_urls=live.urls))
    return await serve_app(app, port)


@pytest.fixture(scope="module")
async def gateway(live: LiveSubgraphs, keys: DevKeys) -> AsyncIterator[Served]:
    served = await serve_gateway(live, keys)
    yield served
    await served.stop()


async def until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Wait for a condition of a subgraph's state (polled: the subgraphs signal nothing to the tests); generous, as a
    loaded CI machine may be slow, and a condition that holds returns at once."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def subscribed(live: LiveSubgraphs, before: int) -> None:
    """Wait until the subgraph has one more live subscription than `before` (events published after are seen)."""
    await until(lambda: live.hub.active > before)


async def nexts(ws: GraphQLWs, count: int, ident: str = "1") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < count:
        message = await ws.receive()
        assert message["type"] == "next", message
        assert message["id"] == ident, message
        out.append(message["payload"])
    return out


# ---- protocol, join, authorization ----------------------------------------------------------------------------------


async def test_events_join_entity_fields_from_another_subgraph(
    gateway: Served, live: LiveSubgraphs, mint: Callable[..., str]
) -> None:
    token = mint("KP2MI")
    async with open_ws(gateway.url, headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}) as ws:
        ack = await ws.init({"authorization": token, "purpose": "PLACEMENT_SERVICE"})
        assert ack == {"type": "connection_ack", "payload": {"traceId": "a" * 32}}  # the caller's trace
        active = live.hub.active
        await ws.subscribe("1", CHANGES)
        await subscribed(live, active)
        first = live.hub.publish("w1", "16.06.01.2001", "CREATED")
        live.hub.publish("w2", "32.01.01.2001", "RETURNED")
        events = await nexts(ws, 2)
        assert events[0] == {
            "data": {
                "workerChanged": {
                    "cursor": first,
                    "kind": "CREATED",
                    "workerId": "w1",
                    "worker": {"id": "w1", "status": "ACTIVE", "name": "name of w1", "village": "village of w1"},
                }
            }
        }
        assert events[1]["data"]["workerChanged"]["worker"]["status"] == "RETURNED"
        assert int(events[1]["data"]["workerChanged"]["cursor"]) == int(first) + 1
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}
        await ws.send({"type": "complete", "id": "1"})
        await until(lambda: live.hub.active == active)
    handshake = live.hub.handshakes[-1]
    assert handshake["authorization"] == token  # the caller's headers, forwarded on the upstream handshake
    assert handshake["x-demimas-purpose"] == "PLACEMENT_SERVICE"
    assert handshake["traceparent"].startswith("00-" + "a" * 32)  # the client's trace continues
    assert live.hub.entity_headers[-1]["authorization"] == token  # and with each event's _entities fetch


async def test_authorization_applies_to_every_event(
    gateway: Served, live: LiveSubgraphs, mint: Callable[..., str]
) -> None:
    # a regional office without pii:read: events of its region only, name and village (policy national) refused
    token = mint("BP3MI", region="16.06", scopes=["registry:read"])
    async with open_ws(gateway.url, headers={"authorization": token}) as ws:  # the token on the handshake this time
        assert (await ws.init())["type"] == "connection_ack"
        active = live.hub.active
        await ws.subscribe("a", CHANGES)
        await subscribed(live, active)
        called = len(live.hub.entity_headers)
        live.hub.publish("w3", "32.01.01.2001")  # outside its region: never sent
        inside = live.hub.publish("w4", "16.06.02.2002")
        (event,) = await nexts(ws, 1, "a")
        assert event["data"]["workerChanged"]["cursor"] == inside
        worker = {"id": "w4", "status": "ACTIVE", "name": None, "village": None}
        assert event["data"]["workerChanged"]["worker"] == worker
        paths = sorted(e["path"] for e in event["errors"])
        assert paths == [["workerChanged", "worker", "name"], ["workerChanged", "worker", "village"]]
        assert {e["extensions"]["code"] for e in event["errors"]} == {"UNAUTHORIZED_FIELD_OR_TYPE"}
        assert len(live.hub.entity_headers) == called  # nothing left to ask the people subgraph for
    # without registry:read, or without a token, the subscription itself is refused, and the connection stays
    for init in ({"authorization": mint("AUDITOR")}, {}):
        async with open_ws(gateway.url) as ws:
            assert (await ws.init(init))["type"] == "connection_ack"
            await ws.subscribe("b", CHANGES)
            refused = await ws.receive()
            assert refused["type"] == "error"
            assert refused["id"] == "b"
            assert refused["payload"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
            await ws.send({"type": "ping"})
            assert await ws.receive() == {"type": "pong"}
    # personal fields need a purpose, as for queries
    async with open_ws(gateway.url) as ws:
        await ws.init({"authorization": mint("KP2MI")})
        active = live.hub.active
        await ws.subscribe("c", CHANGES)
        await subscribed(live, active)
        live.hub.publish("w5", "16.06.02.2002")
        (event,) = await nexts(ws, 1, "c")
        assert event["data"]["workerChanged"]["worker"]["name"] is None
        assert [e["extensions"]["code"] for e in event["errors"]] == ["PURPOSE_REQUIRED"]


async def test_resume_after_the_last_cursor_loses_and_repeats_nothing(
    gateway: Served, live: LiveSubgraphs, mint: Callable[..., str]
) -> None:
    init = {"authorization": mint("KP2MI")}
    async with open_ws(gateway.url) as ws:
        await ws.init(init)
        active = live.hub.active
        await ws.subscribe("1", SIMPLE)
        await subscribed(live, active)
        sent = [live.hub.publish(f"r{i}", "16.06.01.2001") for i in range(3)]
        seen = [e["data"]["workerChanged"]["cursor"] for e in await nexts(ws, 3)]
        assert seen == sent
    missed = [live.hub.publish(f"m{i}", "16.06.01.2001") for i in range(4)]  # while disconnected
    async with open_ws(gateway.url) as ws:
        await ws.init(init)
        active = live.hub.active
        await ws.subscribe("1", SIMPLE, {"after": seen[-1]})
        replayed = [e["data"]["workerChanged"]["cursor"] for e in await nexts(ws, 4)]
        assert replayed == missed
        await subscribed(live, active)
        live_one = live.hub.publish("after", "16.06.01.2001")
        (event,) = await nexts(ws, 1)
        assert event["data"]["workerChanged"]["cursor"] == live_one


async def test_a_query_sent_as_subscribe_runs_once(gateway: Served, mint: Callable[..., str]) -> None:
    async with open_ws(gateway.url) as ws:
        trace_id = (await ws.init({"authorization": mint("KP2MI")}))["payload"]["traceId"]
        await ws.subscribe("q", "{ worker(id: 7) { id status } hello }")
        assert await ws.receive() == {
            "type": "next",
            "id": "q",
            "payload": {
                "data": {"worker": {"id": "7", "status": "ACTIVE"}, "hello": "hello"},
                "extensions": {"traceId": trace_id},
            },
        }
        assert await ws.receive() == {"type": "complete", "id": "q"}


async def ended_with_error(ws: GraphQLWs, ident: str) -> dict[str, Any]:
    """The one error that ended operation `ident`: an `error` message, or (strawberry's way for an error the
    subscription raises before its first event) a `next` with `data: null` and the error, then `complete`."""
    message = await ws.receive()
    assert message["id"] == ident, message
    if message["type"] == "error":
        (error,) = message["payload"]
        return error  # type: ignore[no-any-return]
    assert message["type"] == "next", message
    assert message["payload"]["data"] is None, message
    assert await ws.receive() == {"type": "complete", "id": ident}
    (error,) = message["payload"]["errors"]
    return error  # type: ignore[no-any-return]


# ---- bad input ------------------------------------------------------------------------------------------------------


async def test_unknown_or_missing_subprotocol_is_refused(gateway: Served) -> None:
    for offered in (["graphql-ws"], []):
        async with open_ws(gateway.url, protocols=offered) as ws:
            code, reason = await ws.closed()
            assert code == 4406
            assert "graphql-transport-ws" in reason


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        (["not json"], 4400),
        (['{"no": "type"}'], 4400),
        (['{"type": "what"}'], 4400),
        (['{"type": "subscribe", "id": "1", "payload": {"query": "{hello}"}}'], 4401),
        (['{"type": "connection_init"}', '{"type": "connection_init"}'], 4429),
        (['{"type": "connection_init", "payload": "x"}'], 4400),
        (['{"type": "connection_init"}', '{"type": "subscribe", "id": 1, "payload": {"query": "{hello}"}}'], 4400),
        (['{"type": "connection_init"}', '{"type": "subscribe", "id": "1", "payload": {}}'], 4400),
        (['{"type": "connection_init", "payload": {"authorization": "Bearer nope"}}'], 4403),
        (['{"type": "connection_init", "payload": {"purpose": "GOSSIP"}}'], 4403),
    ],
)
async def test_bad_messages_close_with_the_protocol_codes(gateway: Served, messages: list[str], code: int) -> None:
    async with open_ws(gateway.url) as ws:
        for message in messages:
            await ws.send(message)
        assert (await ws.closed())[0] == code


async def test_duplicate_ids_and_binary_frames(gateway: Served, mint: Callable[..., str]) -> None:
    async with open_ws(gateway.url) as ws:
        await ws.init({"authorization": mint("KP2MI")})
        await ws.subscribe("same", SIMPLE)
        await ws.subscribe("same", SIMPLE)
        code, reason = await ws.closed()
        assert code == 4409
        assert "same" in reason
    async with open_ws(gateway.url) as ws:
        await ws.socket.send(b"\x00\x01")
        assert (await ws.closed())[0] == 4400


async def test_request_errors_and_invalid_cursors_are_errors_of_the_operation(
    gateway: Served, live: LiveSubgraphs, mint: Callable[..., str]
) -> None:
    async with open_ws(gateway.url) as ws:
        await ws.init({"authorization": mint("KP2MI")})
        await ws.subscribe("v", "subscription { workerChanged { nope } }")
        refused = await ws.receive()
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        for ident, cursor, code in (("c1", "abc", "BAD_USER_INPUT"), ("c2", "99999999", "BAD_USER_INPUT")):
            await ws.subscribe(ident, SIMPLE, {"after": cursor})
            error = await ended_with_error(ws, ident)  # the subgraph's error, passed through with its code
            assert error["extensions"]["code"] == code
            assert error["extensions"]["reason"] == "invalid_cursor"
            assert error["extensions"]["serviceName"] == "changes"
        live.hub.first_available = live.hub.last + 1  # everything so far has left the stream's retention
        try:
            await ws.subscribe("old", SIMPLE, {"after": "0"})
            error = await ended_with_error(ws, "old")
        finally:
            live.hub.first_available = 1
        assert error["extensions"]["code"] == "CURSOR_EXPIRED"
        assert error["extensions"]["firstAvailable"]
        await ws.send({"type": "ping"})  # the connection is still usable
        assert await ws.receive() == {"type": "pong"}


async def test_plain_http_points_subscriptions_at_a_stream(gateway: Served, mint: Callable[..., str]) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(gateway.url, json={"query": SIMPLE}, headers={"authorization": mint("KP2MI")})
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "SUBSCRIPTION_NOT_SUPPORTED"
    assert "WebSocket" in error["message"]
    assert "text/event-stream" in error["message"]


# ---- SSE ------------------------------------------------------------------------------------------------------------


async def test_server_sent_events(gateway: Served, live: LiveSubgraphs, mint: Callable[..., str]) -> None:
    headers = {"authorization": mint("KP2MI"), "accept": "text/event-stream", "x-demimas-purpose": "STATISTICS"}
    async with httpx.AsyncClient(timeout=10) as client:
        active = live.hub.active
        async with client.stream("POST", gateway.url, json={"query": CHANGES}, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
            await subscribed(live, active)
            cursor = live.hub.publish("s1", "16.06.01.2001")
            kind, data = await anext(events)
            assert kind == "next"
            assert data["data"]["workerChanged"]["cursor"] == cursor
            assert data["data"]["workerChanged"]["worker"]["name"] == "name of s1"
        await until(lambda: live.hub.active == active)  # the client went away: the upstream subscription ended
        query = {"query": "{ hello }"}
        async with client.stream("POST", gateway.url, json=query, headers=headers) as response:
            got = [e async for e in sse_events(response)]
        trace_id = response.headers["traceresponse"].split("-")[1]
        assert got == [("next", {"data": {"hello": "hello"}, "extensions": {"traceId": trace_id}}), ("complete", None)]
        params = {"query": SIMPLE, "variables": '{"after": "abc"}'}
        async with client.stream("GET", gateway.url, params=params, headers=headers) as response:
            got = [e async for e in sse_events(response)]
        assert [k for k, _ in got] == ["next", "complete"]
        assert got[0][1]["errors"][0]["extensions"]["reason"] == "invalid_cursor"
        bad = {**headers, "authorization": "Bearer nope"}
        response = await client.post(gateway.url, json={"query": SIMPLE}, headers=bad)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# ---- limits, liveness -----------------------------------------------------------------------------------------------


async def test_limits_per_connection_per_agency_and_rate(
    live: LiveSubgraphs, keys: DevKeys, mint: Callable[..., str]
) -> None:
    served = await serve_gateway(
        live,
        keys,
        gateway_subscriptions_per_connection=2,
        gateway_subscriptions_per_agency=3,
        gateway_rate_limits={"BNN": (0.001, 2)},
    )
    try:
        token = {"authorization": mint("KP2MI")}
        async with open_ws(served.url) as one, open_ws(served.url) as two:
            await one.init(token)
            await two.init(token)
            for ident in ("1", "2", "3"):
                await one.subscribe(ident, SIMPLE)
            refused = await one.receive()
            assert refused["id"] == "3"
            assert refused["type"] == "error"
            assert refused["payload"][0]["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": 2}
            await two.subscribe("4", SIMPLE)  # the agency's third
            await two.subscribe("5", SIMPLE)
            refused = await two.receive()
            assert refused["id"] == "5"
            assert refused["payload"][0]["extensions"]["limit"] == 3
            assert "KP2MI" in refused["payload"][0]["message"]
            await one.send({"type": "complete", "id": "1"})  # one completed: room again
            app = served.server.config.app
            assert isinstance(app, GatewayApp)
            await until(lambda: app.limits.open("KP2MI") == 2)  # the gateway has handled the complete (not 0.2 s)
            await two.subscribe("6", SIMPLE)
            await two.send({"type": "ping"})
            assert await two.receive() == {"type": "pong"}  # no refusal came before the pong
        async with open_ws(served.url) as ws:
            await ws.init({"authorization": mint("BNN")})
            for ident in ("a", "b", "c"):
                await ws.subscribe(ident, "{ hello }")
            results = [await ws.receive() for _ in range(5)]
            errors = [m for m in results if m["type"] == "error"]
            assert [m["id"] for m in errors] == ["c"]
            assert errors[0]["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
    finally:
        await served.stop()


async def test_init_timeout(live: LiveSubgraphs, keys: DevKeys) -> None:
    served = await serve_gateway(live, keys, gateway_ws_init_timeout_seconds=0.3)
    try:
        async with open_ws(served.url) as ws:
            code, reason = await ws.closed()
            assert code == 4408
            assert "timeout" in reason.lower()
    finally:
        await served.stop()


async def test_a_slow_client_is_closed_at_the_buffer_bound(
    live: LiveSubgraphs, keys: DevKeys, mint: Callable[..., str]
) -> None:
    served = await serve_gateway(live, keys, gateway_stream_buffer_messages=8)
    try:
        async with open_ws(served.url, max_queue=1) as ws:
            await ws.init({"authorization": mint("KP2MI")})
            active = live.hub.active
            await ws.subscribe("1", "subscription { workerChanged { cursor padding } }")
            await subscribed(live, active)
            padding = "x" * 200_000
            for i in range(200):  # 40 MB, far more than the socket buffers hold: the client reads nothing meanwhile
                live.hub.publish(f"slow{i}", "16.06.01.2001", padding=padding)
                if i % 20 == 0:
                    await asyncio.sleep(0.05)
            code, reason = await ws.closed(seconds=30)
            assert code == 4413
            assert "resume" in reason
    finally:
        await served.stop()


async def test_an_expired_token_closes_the_connection(
    live: LiveSubgraphs, gateway: Served, mint: Callable[..., str]
) -> None:
    # valid when the connection opens, even if a loaded machine pauses the test for seconds before (2 s did not)
    token = mint("KP2MI", ttl=dt.timedelta(seconds=6))
    async with open_ws(gateway.url) as ws:
        await ws.init({"authorization": token})
        await ws.subscribe("1", SIMPLE)
        code, reason = await ws.closed(seconds=30)
        assert code == 4419
        assert "expired" in reason.lower()


async def test_gateway_restart_closes_with_1012_and_resume_loses_nothing(
    live: LiveSubgraphs, keys: DevKeys, mint: Callable[..., str]
) -> None:
    served = await serve_gateway(live, keys)
    init = {"authorization": mint("KP2MI")}
    async with open_ws(served.url) as ws:
        await ws.init(init)
        active = live.hub.active
        await ws.subscribe("1", SIMPLE)
        await subscribed(live, active)
        first = live.hub.publish("g1", "16.06.01.2001")
        assert (await nexts(ws, 1))[0]["data"]["workerChanged"]["cursor"] == first
        stopping = asyncio.create_task(served.stop())
        code, _ = await ws.closed()
        assert code == 1012
        await stopping
    missed = [live.hub.publish(f"g{i}", "16.06.01.2001") for i in range(2, 5)]
    served = await serve_gateway(live, keys, port=served.port)
    try:
        async with open_ws(served.url) as ws:
            await ws.init(init)
            await ws.subscribe("1", SIMPLE, {"after": first})
            assert [e["data"]["workerChanged"]["cursor"] for e in await nexts(ws, 3)] == missed
    finally:
        await served.stop()


async def test_a_subgraph_restart_ends_the_subscription_with_a_code_and_resume_works(
    live: LiveSubgraphs, gateway: Served, mint: Callable[..., str]
) -> None:
    init = {"authorization": mint("KP2MI")}
    async with open_ws(gateway.url) as ws:
        await ws.init(init)
        active = live.hub.active
        await ws.subscribe("1", SIMPLE)
        await subscribed(live, active)
        first = live.hub.publish("x1", "16.06.01.2001")
        assert (await nexts(ws, 1))[0]["data"]["workerChanged"]["cursor"] == first
        await live.restart_changes()
        ended = await ws.receive()
        assert ended["type"] == "error"
        assert ended["id"] == "1"
        (error,) = ended["payload"]
        assert error["extensions"] == {"code": "SUBSCRIPTION_UPSTREAM_CLOSED", "serviceName": "changes"}
        missed = [live.hub.publish(f"x{i}", "16.06.01.2001") for i in range(2, 4)]
        await ws.subscribe("1", SIMPLE, {"after": first})  # the same id is free again
        assert [e["data"]["workerChanged"]["cursor"] for e in await nexts(ws, 2)] == missed


def test_settings_reach_the_app(keys: DevKeys) -> None:
    app = build_app(
        settings(keys, gateway_subscriptions_per_agency=10, gateway_workers=2),
        load_supergraph(SUPERGRAPH, graph_urls={"changes": "http://x/graphql", "people": "http://y/graphql"}),
    )
    assert isinstance(app, GatewayApp)
    assert app.limits.per_agency == 5  # the replica's limit shared among its worker processes
    assert app.upstream.urls["changes"] == "ws://x/graphql"


async def test_sse_token_expiry_and_slow_reader(live: LiveSubgraphs, keys: DevKeys, mint: Callable[..., str]) -> None:
    served = await serve_gateway(live, keys, gateway_stream_buffer_messages=4)
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            # valid when the stream starts, even if a loaded machine pauses the test for seconds (2 s did not)
            headers = {"authorization": mint("KP2MI", ttl=dt.timedelta(seconds=6)), "accept": "text/event-stream"}
            async with client.stream("POST", served.url, json={"query": SIMPLE}, headers=headers) as response:
                got = [e async for e in sse_events(response)]
            assert [kind for kind, _ in got] == ["next", "complete"]
            (error,) = got[0][1]["errors"]
            assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "expired"}
            # a reader that does not read: the stream is cut (no `complete`), never buffered without bound
            headers = {"authorization": mint("KP2MI"), "accept": "text/event-stream"}
            query = {"query": "subscription { workerChanged { cursor padding } }"}
            active = live.hub.active
            async with client.stream("POST", served.url, json=query, headers=headers) as response:
                await subscribed(live, active)
                for i in range(200):
                    live.hub.publish(f"sse-slow{i}", "16.06.01.2001", padding="y" * 200_000)
                    if i % 20 == 0:
                        await asyncio.sleep(0.05)
                await until(lambda: live.hub.active == active, seconds=20)  # the gateway gave up on it
                kinds: list[str] = []

                async def read_all() -> None:
                    async for kind, _ in sse_events(response):
                        kinds.append(kind)

                with pytest.raises(httpx.RemoteProtocolError):  # the body ends mid-stream
                    await read_all()
                assert "complete" not in kinds
                assert len(kinds) < 200
    finally:
        await served.stop()


async def test_shutdown_closes_websockets_with_1012_and_ends_sse_streams(
    live: LiveSubgraphs, keys: DevKeys, mint: Callable[..., str]
) -> None:
    served = await serve_gateway(live, keys)
    app = served.server.config.app
    assert isinstance(app, GatewayApp)
    token = mint("KP2MI")
    headers = {"authorization": token, "accept": "text/event-stream"}
    try:
        async with httpx.AsyncClient(timeout=10) as client, open_ws(served.url) as ws:
            await ws.init({"authorization": token})
            active = live.hub.active
            await ws.subscribe("1", SIMPLE)
            async with client.stream("POST", served.url, json={"query": SIMPLE}, headers=headers) as response:
                await until(lambda: live.hub.active == active + 1)  # one shared upstream subscription
                await until(lambda: len(app.streams) == 2)  # the WebSocket and the SSE stream
                app.close_streams()  # what SIGTERM does first (test_signals_close_the_streams_first)
                code, reason = await ws.closed()
                assert code == 1012
                assert "resume" in reason
                raw = b"".join([chunk async for chunk in response.aiter_bytes()])
            assert b"event: complete" not in raw
            assert b"restarting" in raw
            await until(lambda: live.hub.active == active)
    finally:
        await served.stop()


async def test_signals_close_the_streams_first(live: LiveSubgraphs, keys: DevKeys) -> None:
    import signal

    app = build_app(settings(keys), load_supergraph(SUPERGRAPH, graph_urls=live.urls))
    order: list[str] = []
    app.streams.add(lambda: order.append("streams closed"))
    before = signal.getsignal(signal.SIGUSR1)
    signal.signal(signal.SIGUSR1, lambda *_: order.append("server told to stop"))
    try:
        app.watch_shutdown_signals((signal.SIGUSR1,))
        signal.raise_signal(signal.SIGUSR1)
        await asyncio.sleep(0.05)
    finally:
        signal.signal(signal.SIGUSR1, before)
    assert order == ["server told to stop", "streams closed"]  # in the same loop turn, before uvicorn acts


async def test_live_subscribers_with_the_same_token_share_one_upstream_subscription(
    gateway: Served, live: LiveSubgraphs, mint: Callable[..., str]
) -> None:
    init = {"authorization": mint("KP2MI", sub="sharing"), "purpose": "STATISTICS"}
    other = {"authorization": mint("KP2MI", sub="sharing-other"), "purpose": "STATISTICS"}
    async with open_ws(gateway.url) as one, open_ws(gateway.url) as two, open_ws(gateway.url) as three:
        for ws, payload in ((one, init), (two, init), (three, other)):
            await ws.init(payload)
        active = live.hub.active
        await one.subscribe("1", CHANGES)
        await subscribed(live, active)
        await two.subscribe("2", CHANGES)  # same document, variables and token: joins the running upstream
        await three.subscribe("3", CHANGES)  # another token: its own
        await until(lambda: live.hub.active == active + 2)
        await asyncio.sleep(0.1)
        assert live.hub.active == active + 2
        joins = len(live.hub.entity_headers)
        cursor = live.hub.publish("sh1", "16.06.01.2001")
        for ws, ident in ((one, "1"), (two, "2"), (three, "3")):
            (event,) = await nexts(ws, 1, ident)
            assert event["data"]["workerChanged"]["cursor"] == cursor
            assert event["data"]["workerChanged"]["worker"]["name"] == "name of sh1"
        assert len(live.hub.entity_headers) == joins + 2  # one join per upstream subscription, not per subscriber
        await one.send({"type": "complete", "id": "1"})  # the first leaves: the second keeps the upstream
        second = live.hub.publish("sh2", "16.06.01.2001")
        (event,) = await nexts(two, 1, "2")
        assert event["data"]["workerChanged"]["cursor"] == second
        await two.subscribe("r", CHANGES, {"after": cursor})  # a resuming subscription never shares: its own replay
        (event,) = await nexts(two, 1, "r")
        assert event["data"]["workerChanged"]["cursor"] == second
        await two.send({"type": "complete", "id": "2"})
        await two.send({"type": "complete", "id": "r"})
        await until(lambda: live.hub.active == active + 1)  # only the other token's left


async def test_an_unreachable_subgraph_is_an_error_of_the_operation(keys: DevKeys, mint: Callable[..., str]) -> None:
    from demimas_common.devstack.ports import free_port

    closed = {"changes": f"http://127.0.0.1:{free_port()}/graphql", "people": f"http://127.0.0.1:{free_port()}/graphql"}
    served = await serve_app(build_app(settings(keys), load_supergraph(SUPERGRAPH, graph_urls=closed)))
    try:
        async with open_ws(served.url) as ws:
            await ws.init({"authorization": mint("KP2MI")})
            await ws.subscribe("1", SIMPLE)
            message = await ws.receive()
            assert message["type"] == "error"
            (error,) = message["payload"]
            assert error["extensions"] == {"code": "SUBREQUEST_HTTP_ERROR", "serviceName": "changes"}
            await ws.send({"type": "ping"})
            assert await ws.receive() == {"type": "pong"}
    finally:
        await served.stop()


# ---- trace ids handed back (issue 20) -------------------------------------------------------------------------------


async def test_streams_hand_back_the_trace_the_subgraph_received(
    gateway: Served, live: LiveSubgraphs, mint: Callable[..., str]
) -> None:
    """Without a `traceparent`: the WebSocket's `connection_ack` and handshake answer, and an SSE stream's
    `traceresponse` header, name the new trace the subgraph's subscription runs in. With one: the caller's trace."""
    token = mint("KP2MI")
    async with open_ws(gateway.url) as ws:
        handshake_answer = ws.socket.response
        assert handshake_answer is not None
        ack = await ws.init({"authorization": token})
        trace_id = ack["payload"]["traceId"]
        assert len(trace_id) == 32
        assert int(trace_id, 16) != 0
        assert handshake_answer.headers["traceresponse"].split("-")[1] == trace_id
        active = live.hub.active
        await ws.subscribe("1", SIMPLE)
        await subscribed(live, active)
        assert live.hub.handshakes[-1]["traceparent"].split("-")[1] == trace_id
        await ws.subscribe("2", "{ hello }")
        (answer,) = await nexts(ws, 1, "2")
        assert answer == {"data": {"hello": "hello"}, "extensions": {"traceId": trace_id}}
    async with open_ws(gateway.url) as other:
        assert (await other.init({"authorization": token}))["payload"]["traceId"] != trace_id  # a trace per connection
    sent = "c" * 32
    headers = {"authorization": token, "accept": "text/event-stream", "traceparent": f"00-{sent}-{'d' * 16}-01"}
    for extra in ({}, {"traceparent": None}):
        sending = {k: v for k, v in {**headers, **extra}.items() if v is not None}
        async with httpx.AsyncClient(timeout=10) as client:
            active = live.hub.active
            async with client.stream("POST", gateway.url, json={"query": SIMPLE}, headers=sending) as response:
                assert response.status_code == 200
                version, trace_id, span_id, flags = response.headers["traceresponse"].split("-")
                assert (version, len(span_id), len(flags)) == ("00", 16, 2)
                await subscribed(live, active)
                assert live.hub.handshakes[-1]["traceparent"].split("-")[1] == trace_id
            assert (trace_id == sent) == ("traceparent" in sending)
            refused = await client.post(gateway.url, json={"query": "subscription {"}, headers=sending)
            assert refused.status_code == 400
            refused_trace = refused.headers["traceresponse"].split("-")[1]
            assert refused.json()["extensions"]["traceId"] == refused_trace
