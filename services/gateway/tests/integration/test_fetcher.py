"""The gateway's HTTP/1.1 client against a raw server: chunked bodies, `Connection: close`, kept-alive connections
the server closed in between (retried once on a fresh one), refused connections and garbage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from demimas_gateway.fetcher import SubgraphClient, SubgraphFailure

pytestmark = pytest.mark.integration

OK = b'{"data":{"ok":true}}'
Responder = Callable[[int], bytes]


class RawServer:
    """Answers request number n (counted per server) with `respond(n)`; closes after it when `close_after(n)`."""

    def __init__(self, respond: Responder, close_after: Callable[[int], bool] = lambda n: False) -> None:
        self.respond = respond
        self.close_after = close_after
        self.count = 0
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                self.count += 1
                writer.write(self.respond(self.count))
                await writer.drain()
                if self.close_after(self.count):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[RawServer], asyncio.Future[str]]]:
    servers: list[asyncio.Server] = []

    async def start(raw: RawServer) -> str:
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/graphql"

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def plain(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


def chunked(body: bytes) -> bytes:
    half = len(body) // 2
    parts = [body[:half], body[half:]]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )


async def test_chunked_and_keep_alive(serve: Callable[[RawServer], asyncio.Future[str]]) -> None:
    raw = RawServer(lambda n: chunked(OK) if n % 2 else plain(OK))
    client = SubgraphClient({"g": await serve(raw)})
    for _ in range(4):
        assert await client.post("g", {"query": "{ok}"}, {}) == {"data": {"ok": True}}
    assert raw.connections == 1  # one kept-alive connection for sequential requests
    await client.close()


async def test_connection_close_and_stale_connections_are_handled(
    serve: Callable[[RawServer], asyncio.Future[str]],
) -> None:
    closing = RawServer(lambda n: plain(OK, b"connection: close\r\n"), close_after=lambda n: True)
    client = SubgraphClient({"g": await serve(closing)})
    for _ in range(3):
        assert await client.post("g", {"query": "{ok}"}, {}) == {"data": {"ok": True}}
    assert closing.connections == 3
    # the server closes kept-alive connections silently after each answer: the next request retries on a new one
    silent = RawServer(lambda n: plain(OK), close_after=lambda n: True)
    client = SubgraphClient({"g": await serve(silent)})
    for _ in range(3):
        assert await client.post("g", {"query": "{ok}"}, {}) == {"data": {"ok": True}}
        await asyncio.sleep(0.01)
    await client.close()


async def test_refused_and_garbage(serve: Callable[[RawServer], asyncio.Future[str]]) -> None:
    client = SubgraphClient({"down": "http://127.0.0.1:1/graphql"})
    with pytest.raises(SubgraphFailure) as failure:
        await client.post("down", {"query": "{ok}"}, {})
    assert failure.value.code == "SUBREQUEST_HTTP_ERROR"
    garbage = RawServer(lambda n: b"SSH-2.0-OpenSSH_9.2\r\n\r\n", close_after=lambda n: True)
    client = SubgraphClient({"g": await serve(garbage)})
    with pytest.raises(SubgraphFailure) as failure:
        await client.post("g", {"query": "{ok}"}, {})
    assert failure.value.code == "SUBREQUEST_HTTP_ERROR"
    await client.close()


async def test_headers_cannot_be_smuggled(serve: Callable[[RawServer], asyncio.Future[str]]) -> None:
    seen: list[bytes] = []

    class Recording(RawServer):
        async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            seen.append(head)
            length = next(int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            writer.write(plain(OK))
            await writer.drain()
            writer.close()

    client = SubgraphClient({"g": await serve(Recording(lambda n: b""))})
    await client.post(
        "g", {"query": "{ok}"}, {"x-demimas-purpose": "AUDIT\r\nx-injected: 1", "authorization": "Bearer t"}
    )
    assert b"x-injected" not in seen[0]
    assert b"authorization: Bearer t" in seen[0]
    await client.close()


async def test_a_mutation_is_never_sent_twice(serve: Callable[[RawServer], asyncio.Future[str]]) -> None:
    """The cluster rehearsal's finding: a subgraph replica killed after carrying out a mutation and before
    answering closed a kept-alive connection with nothing received, and the client sent the mutation again (to
    the other replica, through the proxy): applied twice. A query is still retried once on a fresh connection."""

    class Crashing(RawServer):
        """Answers the first request of each connection, reads the second and closes without answering."""

        async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            served = 0
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next(
                        int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")
                    )
                    await reader.readexactly(length)
                    self.count += 1
                    served += 1
                    if served == 2:
                        break  # carried out, then gone
                    writer.write(plain(OK))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

    crashing = Crashing(lambda n: b"")
    client = SubgraphClient({"g": await serve(crashing)})
    mutation = {"query": "mutation { ok }"}
    assert await client.post("g", mutation, {}, idempotent=False) == {"data": {"ok": True}}
    with pytest.raises(SubgraphFailure) as failure:
        await client.post("g", mutation, {}, idempotent=False)
    assert failure.value.code == "SUBREQUEST_HTTP_ERROR"
    assert crashing.count == 2  # received twice in all: once answered, once carried out unanswered, never resent
    assert await client.post("g", {"query": "{ok}"}, {}) == {"data": {"ok": True}}  # a fresh connection
    await client.post("g", {"query": "{ok}"}, {})  # read, unanswered, then retried on a fresh connection
    assert crashing.count == 5
    await client.close()


async def test_connections_idle_too_long_are_not_reused(serve: Callable[[RawServer], asyncio.Future[str]]) -> None:
    raw = RawServer(lambda n: plain(OK))
    client = SubgraphClient({"g": await serve(raw)})
    await client.post("g", {"query": "{ok}"}, {})
    client._pool("g").max_idle = 0.05
    await asyncio.sleep(0.1)
    await client.post("g", {"query": "{ok}"}, {}, idempotent=False)
    assert raw.connections == 2
    await client.close()
