"""A small `graphql-transport-ws` client (the `websockets` library) for tests, benchmarks and scripts: connect with
headers and/or a `connection_init` payload, subscribe, read messages.

    async with WsClient.connect("ws://127.0.0.1:4001/graphql", headers={"Authorization": f"Bearer {jwt}"}) as ws:
        await ws.subscribe("1", "subscription { workerChanged { cursor workerId } }")
        message = await ws.receive()   # {"id": "1", "type": "next", "payload": {...}}
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

__all__ = ["PROTOCOL", "WsClient", "serve"]

PROTOCOL = "graphql-transport-ws"


class WsClient:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        payload: Mapping[str, Any] | None = None,
        protocol: str = PROTOCOL,
        timeout: float = 10.0,  # noqa: ASYNC109 (the handshake's and the acknowledgement's)
    ) -> AsyncIterator[WsClient]:
        """An acknowledged connection (the `connection_ack` is awaited)."""
        async with ws_connect(
            url,
            subprotocols=[Subprotocol(protocol)],
            additional_headers=dict(headers or {}),
            open_timeout=timeout,
        ) as connection:
            client = cls(connection)
            await client.send({"type": "connection_init", "payload": dict(payload or {})})
            ack = await client.receive(timeout)
            if ack.get("type") != "connection_ack":
                raise AssertionError(f"expected connection_ack, got {ack}")
            yield client

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def subscribe(self, id: str, query: str, variables: Mapping[str, Any] | None = None) -> None:
        await self.send(
            {"id": id, "type": "subscribe", "payload": {"query": query, "variables": dict(variables or {})}}
        )

    async def complete(self, id: str) -> None:
        await self.send({"id": id, "type": "complete"})

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The next message other than a ping (answered) or pong."""
        while True:
            raw = await asyncio.wait_for(self.connection.recv(), timeout)
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            if message.get("type") == "pong":
                continue
            return message

    async def events(self, id: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """The payloads of the next `count` `next` messages of operation `id` (AssertionError on anything else)."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            message = await self.receive(timeout)
            if message.get("id") != id or message.get("type") != "next":
                raise AssertionError(f"expected a next message of {id}, got {message}")
            found.append(message["payload"])
        return found

    async def nothing_within(self, seconds: float) -> bool:
        """True when no message (other than pings) arrives within `seconds`."""
        try:
            message = await self.receive(seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"expected nothing, got {message}")


@asynccontextmanager
async def serve(app: Any, *, lifespan: bool = False) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in this event loop (tests): yields its ws:// URL of
    `/graphql`. `lifespan=False` when the test already entered the app's lifespan."""
    import socket

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # No log_config nor log_level: uvicorn would reconfigure the process's loggers (tests share one process).
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on" if lifespan else "off",
                            log_config=None, log_level=None, access_log=False, ws="websockets-sansio")  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
