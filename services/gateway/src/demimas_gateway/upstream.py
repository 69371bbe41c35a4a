"""Subscriptions to subgraphs: one upstream `graphql-transport-ws` connection per client subscription, opened with
the caller's headers (`Authorization`, `X-Demimas-Purpose`, `traceparent`) on the handshake, as the fetcher forwards
them with queries; the token and purpose also go in the `connection_init` payload for subgraphs that read it there.

Why a connection per subscription rather than one multiplexed per subgraph: the subgraph resolves the caller from
the handshake, so one connection can only carry one caller's subscriptions; a connection per subscription keeps
the token's life, a subgraph restart and a slow reader each confined to the one subscription they concern. The
events arrive through the `websockets` client's bounded queue (`max_queue`): when the gateway cannot keep up, the
subgraph's socket is read no faster, and its own bound (the contract's `SLOW_CONSUMER`) applies.

Every failure is a `SubgraphFailure` with a stable code: `SUBREQUEST_HTTP_ERROR` (cannot connect, handshake
refused), `SUBREQUEST_TIMEOUT` (no `connection_ack` in time), `SUBREQUEST_MALFORMED_RESPONSE` (not the protocol),
`SUBSCRIPTION_UPSTREAM_CLOSED` (the subgraph closed the connection before completing the subscription).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from demimas_gateway.fetcher import SubgraphFailure

__all__ = ["PROTOCOL", "UpstreamErrors", "UpstreamSubscriptions", "ws_url"]

PROTOCOL = "graphql-transport-ws"


class UpstreamErrors(Exception):
    """The subgraph answered the subscription with an `error` message (it refused or ended the operation)."""

    def __init__(self, graph: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"subgraph {graph!r} refused the subscription")
        self.graph = graph
        self.errors = errors


def ws_url(url: str) -> str:
    """The WebSocket address of a subgraph's HTTP GraphQL endpoint (same host, port and path)."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))


class UpstreamSubscriptions:
    """Opens subscriptions to subgraphs (`urls`: the HTTP GraphQL endpoints by subgraph name)."""

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        ack_timeout_seconds: float = 10.0,
        max_queue: int = 64,
        max_message_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.urls = {name: ws_url(url) for name, url in urls.items()}
        self.ack_timeout = ack_timeout_seconds
        self.max_queue = max_queue
        self.max_message_bytes = max_message_bytes

    async def events(
        self, graph: str, request: dict[str, Any], headers: Mapping[str, str]
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The subgraph's execution results for `request` (`next` payloads) until it completes; an `error`
        message raises `UpstreamErrors`, any failure `SubgraphFailure`. Closing the generator completes the
        subscription upstream."""
        url = self.urls.get(graph)
        if not url:
            raise SubgraphFailure(graph, "SUBREQUEST_HTTP_ERROR", f"subgraph {graph!r} has no URL")
        forwarded = {k: v for k, v in headers.items() if "\n" not in v and "\r" not in v}
        init: dict[str, str] = {}
        for header, key in (("authorization", "authorization"), ("x-demimas-purpose", "purpose")):
            if header in forwarded:
                init[key] = forwarded[header]
        try:
            socket = await asyncio.wait_for(
                connect(
                    url,
                    subprotocols=[Subprotocol(PROTOCOL)],
                    additional_headers=forwarded,
                    max_queue=self.max_queue,
                    max_size=self.max_message_bytes,
                    proxy=None,
                    ping_interval=20,
                    open_timeout=None,
                ),
                self.ack_timeout,
            )
        except TimeoutError as exc:
            raise SubgraphFailure(graph, "SUBREQUEST_TIMEOUT", f"subgraph {graph!r} did not accept in time") from exc
        except (OSError, InvalidHandshake) as exc:
            raise SubgraphFailure(
                graph, "SUBREQUEST_HTTP_ERROR", f"subgraph {graph!r} refused the subscription: {type(exc).__name__}"
            ) from exc
        completed = False
        try:
            # connection_init, subscribe, then the events (a send to a closed socket fails as a receive would)
            await socket.send(orjson.dumps({"type": "connection_init", "payload": init}).decode())
            try:
                async with asyncio.timeout(self.ack_timeout):
                    while True:
                        message = await _receive(socket, graph)
                        if message["type"] == "connection_ack":
                            break
                        if message["type"] == "ping":
                            await socket.send('{"type":"pong"}')
            except TimeoutError as exc:
                raise SubgraphFailure(
                    graph, "SUBREQUEST_TIMEOUT", f"subgraph {graph!r} did not acknowledge the connection in time"
                ) from exc
            await socket.send(orjson.dumps({"type": "subscribe", "id": "1", "payload": request}).decode())
            while True:
                message = await _receive(socket, graph)
                kind = message["type"]
                if kind == "next" and isinstance(message.get("payload"), dict):
                    yield message["payload"]
                elif kind == "error":
                    completed = True
                    errors = message.get("payload")
                    listed = errors if isinstance(errors, list) else [errors]
                    raise UpstreamErrors(graph, [e if isinstance(e, dict) else {"message": str(e)} for e in listed])
                elif kind == "complete":
                    completed = True
                    return
                elif kind == "ping":
                    await socket.send('{"type":"pong"}')
                elif kind != "pong":
                    raise SubgraphFailure(
                        graph, "SUBREQUEST_MALFORMED_RESPONSE", f"subgraph {graph!r} sent a {kind!r} message"
                    )
        except ConnectionClosed as exc:
            raise _closed(graph, exc) from exc
        finally:
            await _close(socket, completed)


async def _receive(socket: ClientConnection, graph: str) -> dict[str, Any]:
    try:
        raw = await socket.recv()
    except ConnectionClosed as exc:
        raise _closed(graph, exc) from exc
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise SubgraphFailure(graph, "SUBREQUEST_MALFORMED_RESPONSE", f"subgraph {graph!r} broke the protocol")
    return message


def _closed(graph: str, exc: ConnectionClosed) -> SubgraphFailure:
    code = exc.rcvd.code if exc.rcvd is not None else 1006
    reason = exc.rcvd.reason if exc.rcvd is not None else ""
    detail = f" ({code}{': ' + reason[:60] if reason else ''})"
    return SubgraphFailure(
        graph,
        "SUBSCRIPTION_UPSTREAM_CLOSED",
        f"subgraph {graph!r} closed the subscription{detail}: subscribe again after your last cursor",
    )


async def _close(socket: ClientConnection, completed: bool) -> None:
    """Tell the subgraph the subscription is over (a `complete` unless it completed it), then close, without waiting
    long for a subgraph that does not answer."""
    with contextlib.suppress(Exception):
        if not completed:
            await asyncio.wait_for(socket.send('{"type":"complete","id":"1"}'), 1.0)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(), 2.0)
