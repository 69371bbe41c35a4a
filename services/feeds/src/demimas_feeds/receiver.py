"""A webhook receiver on loopback for tests, demos and the benchmark: a small HTTP/1.1 server (h11, keep-alive) that
records every request and answers what its `respond` function says (status, body, a delay), so a test can make it
fail N times, answer slowly or with a huge body, or stop it to make the endpoint disappear."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h11

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
        self._writers.add(writer)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request: h11.Request | None = None
                body = bytearray()
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await reader.read(65536))
                        continue
                    if isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                assert request is not None
                received = Received(
                    headers={k.decode().lower(): v.decode() for k, v in request.headers},
                    body=bytes(body),
                    path=request.target.decode(),
                    at=time.time(),
                )
                self.received.append(received)
                self._arrived.set()
                answer = self.respond(received)
                if not isinstance(answer, Answer):
                    answer = await answer
                if answer.delay:
                    await asyncio.sleep(answer.delay)
                headers = [(b"content-length", str(len(answer.body)).encode())]
                out = conn.send(h11.Response(status_code=answer.status, headers=headers)) or b""
                if answer.body:
                    out += conn.send(h11.Data(data=answer.body)) or b""
                out += conn.send(h11.EndOfMessage()) or b""
                writer.write(out)
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (h11.ProtocolError, ConnectionError, OSError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
