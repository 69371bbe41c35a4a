"""A webhook receiver on loopback for tests, demos and the benchmark: a small HTTP/1.1 server (keep-alive) that
records every request and answers what its `respond` function says (status, body, a delay), so a test can make it
fail N times, answer slowly or with a huge body, or stop it to make the endpoint disappear."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["Answer", "Received", "Receiver"]


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    path: str
    at: float
    """`time.time()` when the whole request had arrived."""


@dataclass(frozen=True)
class Answer:
    status: int = 204
    body: bytes = b""
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    """Extra response headers, e.g. `(("location", url),)` for a redirect."""


Respond = Callable[[Received], Answer | Awaitable[Answer]]


@dataclass
class Receiver:
    respond: Respond = field(default=lambda _r: Answer())
    received: list[Received] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    _server: asyncio.Server | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop open connections: the endpoint is gone (connections are refused)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def wait_for(self, count: int, within: float = 60.0) -> list[Received]:
        """Until `count` requests have arrived (raises TimeoutError after `within` seconds)."""
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.received

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """HTTP/1.1 requests with a content-length (what the sender sends), answered in order, kept alive."""
        self._writers.add(writer)
        try:
            first = await reader.read(1)
            if not first or not first.isalpha():  # not HTTP (a TLS handshake, say): close, as a server would
                return
            while True:
                try:
                    head = first + await reader.readuntil(b"\r\n\r\n")
                    first = b""
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head[:-4].decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                received = Received(headers=headers, body=body, path=target, at=time.time())
                self.received.append(received)
                self._arrived.set()
                answer = self.respond(received)
                if not isinstance(answer, Answer):
                    answer = await answer
                if answer.delay:
                    await asyncio.sleep(answer.delay)
                reason = _REASONS.get(answer.status, "Status")
                extra = "".join(f"{name}: {value}\r\n" for name, value in answer.headers)
                writer.write(
                    f"HTTP/1.1 {answer.status} {reason}\r\n{extra}content-length: {len(answer.body)}\r\n\r\n".encode()
                    + answer.body
                )
                await writer.drain()
                if method != "POST" and method != "GET":
                    return
        except (ConnectionError, OSError, ValueError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()


_REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 302: "Found", 500: "Internal Server Error",
            503: "Service Unavailable"}  # fmt: skip
