"""HTTP to subgraphs: keep-alive HTTP/1.1 connections pooled per subgraph, JSON in and out with orjson, every
failure turned into a `SubgraphFailure` with a stable code (the codes Apollo's gateways use, so clients can match
on them).

Why not aiohttp or httpx: a gateway request fans out into many small subgraph requests, and a general-purpose
client's per-request machinery (request and response objects, header multidicts, stream readers) cost about a
quarter of the gateway's CPU on the benchmark query. This client writes the request bytes itself and parses the
response with httptools (the parser uvicorn uses), chunked bodies included, and nothing else.

A kept-alive connection that closes before any answer is retried once on a fresh one, for queries only: a mutation
may have been carried out by a subgraph that died before answering (a replica killed mid-request, as the cluster
rehearsal does), and sending it again would apply it twice. Its outcome is unknown, and the client is told so
(`SUBREQUEST_HTTP_ERROR`). Idle connections are not reused once they have idled for `max_idle` seconds, before a
subgraph's own keep-alive timeout (uvicorn: 5 s) closes them under a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httptools
import orjson

from demimas_gateway.breaker import CircuitBreaker

__all__ = ["SubgraphClient", "SubgraphFailure"]


class SubgraphFailure(Exception):
    def __init__(self, graph: str, code: str, message: str) -> None:
        super().__init__(message)
        self.graph = graph
        self.code = code
        self.message = message


class _Closed(Exception):
    """The connection closed before a full response; safe to retry on a fresh one if nothing was received."""

    def __init__(self, received: bool) -> None:
        super().__init__("connection closed")
        self.received = received


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []
        self.received = False
        self.closed = False
        self.keep_alive = True
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(_Closed(self.received))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        if self.closed or self.transport.is_closing():
            raise _Closed(received=False)
        self.body = []
        self.received = False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Pool:
    def __init__(self, url: str, max_connections: int, max_idle: float = 4.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"subgraph URL {url!r}: only http://host[:port]/path is supported (TLS ends before)")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc
        self.head = (
            f"POST {self.path} HTTP/1.1\r\nhost: {host_header}\r\ncontent-type: application/json\r\n"
            "accept: application/json\r\n"
        ).encode("latin-1")
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(max_connections)
        self.max_idle = max_idle

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Connection, self.host, self.port)
        return protocol

    def _take_idle(self) -> _Connection | None:
        """The most recently used idle connection, dropping those closed by the server or idle too long."""
        stale_before = time.monotonic() - self.max_idle
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed and connection.idle_since >= stale_before:
                return connection
            connection.close()
        return None

    async def send(self, payload: bytes, *, idempotent: bool = True) -> tuple[int, bytes]:
        async with self.slots:
            for attempt in range(2):
                connection = self._take_idle()
                reused = connection is not None
                if connection is None:
                    connection = await self._connect()
                try:
                    status, body = await connection.request(payload)
                except _Closed as closed:
                    # a kept-alive connection the server had already closed: once more on a new one, unless the
                    # request was a mutation, which the server may have carried out before it went away
                    if reused and not closed.received and attempt == 0 and idempotent:
                        continue
                    raise ConnectionError("the subgraph closed the connection") from closed
                except BaseException:
                    connection.close()
                    raise
                if connection.keep_alive and not connection.closed:
                    connection.idle_since = time.monotonic()
                    self.idle.append(connection)
                else:
                    connection.close()
                return status, body
        raise ConnectionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class SubgraphClient:
    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout_seconds: float = 10.0,
        max_connections: int = 100,
        timeouts: Mapping[str, float] | None = None,
        breaker_failures: int | None = None,
        breaker_reset_seconds: float = 5.0,
    ) -> None:
        """`timeouts` per subgraph override `timeout_seconds`; `breaker_failures` consecutive failures of a subgraph
        open its circuit breaker (None: no breakers)."""
        self.urls = dict(urls)
        self.timeout = timeout_seconds
        self.timeouts = dict(timeouts or {})
        self.max_connections = max_connections
        self._pools: dict[str, _Pool] = {}
        self.breakers: dict[str, CircuitBreaker] = (
            {name: CircuitBreaker(breaker_failures, breaker_reset_seconds) for name in self.urls}
            if breaker_failures
            else {}
        )

    def _pool(self, graph: str) -> _Pool:
        pool = self._pools.get(graph)
        if pool is None:
            url = self.urls.get(graph)
            if not url:
                raise SubgraphFailure(graph, "SUBREQUEST_HTTP_ERROR", f"subgraph {graph!r} has no URL")
            pool = self._pools[graph] = _Pool(url, self.max_connections)
        return pool

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    async def post(
        self, graph: str, body: dict[str, Any], headers: Mapping[str, str], *, idempotent: bool = True
    ) -> dict[str, Any]:
        """`idempotent=False` for mutations: never sent twice (see the module's docstring)."""
        breaker = self.breakers.get(graph)
        if breaker is None:
            return await self._post(graph, body, headers, idempotent)
        if not breaker.allow():
            raise SubgraphFailure(graph, "SUBREQUEST_CIRCUIT_OPEN", f"subgraph {graph!r} is failing: not called")
        try:
            result = await self._post(graph, body, headers, idempotent)
        except SubgraphFailure:
            breaker.failure()
            raise
        except BaseException:
            breaker.failure()  # cancelled mid-request: let the next request be the trial
            raise
        breaker.success()
        return result

    async def _post(
        self, graph: str, body: dict[str, Any], headers: Mapping[str, str], idempotent: bool
    ) -> dict[str, Any]:
        pool = self._pool(graph)
        data = orjson.dumps(body)
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if "\n" not in v and "\r" not in v)
        payload = b"".join((pool.head, extra.encode("latin-1"), b"content-length: %d\r\n\r\n" % len(data), data))
        try:
            async with asyncio.timeout(self.timeouts.get(graph, self.timeout)):
                status, raw = await pool.send(payload, idempotent=idempotent)
        except TimeoutError as exc:
            raise SubgraphFailure(graph, "SUBREQUEST_TIMEOUT", f"subgraph {graph!r} did not answer in time") from exc
        except (OSError, httptools.HttpParserError) as exc:
            raise SubgraphFailure(
                graph, "SUBREQUEST_HTTP_ERROR", f"subgraph {graph!r} could not be reached: {type(exc).__name__}"
            ) from exc
        parsed: Any = None
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(raw)
        if isinstance(parsed, dict) and ("data" in parsed or "errors" in parsed):
            return parsed
        if status >= 400:
            raise SubgraphFailure(graph, "SUBREQUEST_HTTP_ERROR", f"subgraph {graph!r} answered HTTP {status}")
        raise SubgraphFailure(
            graph,
            "SUBREQUEST_MALFORMED_RESPONSE",
            f"subgraph {graph!r} answered something that is not a GraphQL response",
        )
