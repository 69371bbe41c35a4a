"""A `graphql-transport-ws` test client on the `websockets` library (what an agency's Python system would use), and a
GraphQL-over-SSE reader on httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

__all__ = ["GraphQLWs", "open_ws", "sse_events"]


class GraphQLWs:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.socket.send(message if isinstance(message, str) else orjson.dumps(message).decode())

    async def receive(self, seconds: float = 30.0) -> dict[str, Any]:
        """The next message; waits long (a loaded CI machine may take seconds), a message that is there returns."""
        raw = await asyncio.wait_for(self.socket.recv(), seconds)
        message = orjson.loads(raw)
        assert isinstance(message, dict)
        return message

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(self, ident: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send({"type": "subscribe", "id": ident, "payload": {"query": query, "variables": variables or {}}})

    async def closed(self, seconds: float = 30.0) -> tuple[int, str]:
        """Read until the server closes; the close code and reason."""
        frame = None
        try:
            async with asyncio.timeout(seconds):
                while True:
                    await self.socket.recv()
        except ConnectionClosed as exc:
            frame = exc.rcvd
        if frame is None:
            raise AssertionError("closed without a close frame")
        return frame.code, frame.reason


@asynccontextmanager
async def open_ws(
    url: str,
    *,
    protocols: list[str] | None = None,
    headers: dict[str, str] | None = None,
    max_queue: int | None = 16,
) -> AsyncIterator[GraphQLWs]:
    ws_address = url.replace("http://", "ws://")
    offered = ["graphql-transport-ws"] if protocols is None else protocols
    async with connect(
        ws_address,
        subprotocols=[Subprotocol(p) for p in offered] or None,
        additional_headers=headers,
        max_queue=max_queue,
        max_size=None,
        proxy=None,
        ping_interval=None,
    ) as socket:
        yield GraphQLWs(socket)


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) of a text/event-stream response; comments skipped."""
    event, data = "", list[str]()
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if event:
                text = "\n".join(data)
                yield event, orjson.loads(text) if text else None
            event, data = "", []
        elif line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
