"""The HTTP client of the webhook worker: one keep-alive HTTP/1.1 connection per endpoint over asyncio streams.

The request is one write of pre-built bytes and the answer is parsed here (status line, headers, a body by length,
chunked or until close): a general client (h11, httpx) costs several times more per request, and this client only
ever sends one kind of request.

- The host is resolved by `resolve(host, port)`, which returns the one address the connection is pinned to or raises
  `AddressRefused` (the URL policy's check: private, loopback, metadata... addresses in production). The address is
  checked again at every new connection, so a DNS answer that changes to a private address is refused then too.
- https: TLS with SNI and hostname verification against the URL's host, though the socket goes to the pinned address.
- No redirects: a 3xx is a failed attempt like any non-2xx.
- Timeouts: `connect_timeout` for TCP (and TLS), `timeout` for the whole attempt.
- The answer is read up to `max_response` bytes (64 KiB); a longer one is cut, the connection closed (not reused)
  and the attempt's error says `too_large` (a 2xx still counts as delivered: the receiver took the event).
- A kept-alive connection the server closed meanwhile is detected when the request gets no answer at all; the
  request is then sent once more on a fresh connection.

Failures carry stable words (attempt log): timeout, connect, refused_address, too_large, tls, protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["AddressRefused", "EndpointSender", "Resolver", "SendResult", "Target", "policy_resolver", "system_resolver"]

EXCERPT_BYTES = 1024
MAX_RESPONSE_BYTES = 64 * 1024
HEAD_LIMIT = 16 * 1024
"""An answer's status line and headers may not be longer (then: too_large)."""
USER_AGENT = b"Demimas-Webhooks/1"


class AddressRefused(Exception):
    """The endpoint's host resolves to an address deliveries must not go to."""


Resolver = Callable[[str, int], Awaitable[str]]
"""`(host, port) -> address` to connect to, or raises `AddressRefused`."""


def policy_resolver(
    problem: Callable[[str], str | None], lookup: Callable[[str, int], Awaitable[Sequence[str]]]
) -> Resolver:
    """A resolver that refuses a host when any of its addresses has a `problem` (the URL policy's check)."""

    async def resolve(host: str, port: int) -> str:
        try:
            addresses: Sequence[str] = [str(ipaddress.ip_address(host))]
        except ValueError:
            addresses = (
                ["127.0.0.1"] if host == "localhost" or host.endswith(".localhost") else await lookup(host, port)
            )
        if not addresses:
            raise OSError(f"{host} does not resolve")
        for address in addresses:
            why = problem(address)
            if why is not None:
                raise AddressRefused(why)
        return addresses[0]

    return resolve


async def system_resolver(host: str, port: int) -> str:
    """The first address the system resolver gives (no policy: for development and tests)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=0, proto=6)
    if not infos:
        raise OSError(f"{host} does not resolve")
    return str(infos[0][4][0])


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.scheme, parts.hostname, port, path)

    @property
    def host_header(self) -> bytes:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (host if self.port == default else f"{host}:{self.port}").encode("idna")


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _Failure(Exception):
    def __init__(self, word: str, *, sent: bool = True) -> None:
        super().__init__(word)
        self.word = word
        self.sent = sent
        """False when nothing came back on a reused connection (it may have been closed by the server)."""


class EndpointSender:
    """Sends one endpoint's deliveries, one at a time, over a connection kept alive between them."""

    def __init__(
        self,
        url: str,
        *,
        resolve: Resolver = system_resolver,
        connect_timeout: float = 5.0,
        timeout: float = 10.0,
        max_response: int = MAX_RESPONSE_BYTES,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url
        self.target = Target.parse(url)
        self.resolve = resolve
        self.connect_timeout = min(connect_timeout, timeout)
        self.timeout = timeout
        self.max_response = max_response
        self.ssl_context = ssl_context
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        path = self.target.path.encode()
        self._head = (
            b"POST " + path + b" HTTP/1.1\r\nhost: " + self.target.host_header + b"\r\nuser-agent: " + USER_AGENT
            + b"\r\ncontent-type: application/json\r\ncontent-length: "
        )  # fmt: skip

    async def post(self, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> SendResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                reused = self._writer is not None
                try:
                    status, excerpt, error = await self._exchange(headers, body)
                except _Failure as failure:
                    if not (reused and not failure.sent):
                        raise
                    await self.close()
                    status, excerpt, error = await self._exchange(headers, body)
        except TimeoutError:
            await self.close()
            return SendResult(None, "timeout", _ms(started), "")
        except _Failure as failure:
            await self.close()
            return SendResult(None, failure.word, _ms(started), "")
        return SendResult(status, error, _ms(started), excerpt)

    async def _connect(self) -> None:
        target = self.target
        try:
            address = await self.resolve(target.host, target.port)
        except AddressRefused as exc:
            raise _Failure("refused_address") from exc
        except OSError as exc:
            raise _Failure("connect") from exc
        tls: ssl.SSLContext | None = None
        if target.scheme == "https":
            tls = self.ssl_context or ssl.create_default_context()
        try:
            async with asyncio.timeout(self.connect_timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    address, target.port, ssl=tls, server_hostname=target.host if tls else None,
                    limit=HEAD_LIMIT,
                )  # fmt: skip
        except ssl.SSLError as exc:
            raise _Failure("tls") from exc
        except TimeoutError as exc:
            raise _Failure("timeout") from exc
        except OSError as exc:
            raise _Failure("connect") from exc

    async def _exchange(self, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> tuple[int, str, str | None]:
        if self._writer is None:
            await self._connect()
        reader, writer = self._reader, self._writer
        assert reader is not None
        assert writer is not None
        parts = [self._head, str(len(body)).encode(), b"\r\n"]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (b"\r\n", body)
        got_any = False
        try:
            writer.write(b"".join(parts))
            await writer.drain()
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                got_any = True
                status, fields, keep = _parse_head(raw)
                if not 100 <= status < 200:  # an informational answer comes before the real one
                    break
            chunks, too_large = await self._read_body(reader, status, fields)
            if not keep or too_large:
                keep = False
        except asyncio.IncompleteReadError as exc:
            raise _Failure(
                "protocol" if got_any or exc.partial else "connect", sent=got_any or bool(exc.partial)
            ) from exc
        except asyncio.LimitOverrunError as exc:
            raise _Failure("too_large") from exc
        except ssl.SSLError as exc:
            raise _Failure("tls", sent=got_any) from exc
        except (ConnectionError, OSError) as exc:
            raise _Failure("connect", sent=got_any) from exc
        except ValueError as exc:
            raise _Failure("protocol") from exc
        if not keep:
            await self.close()
        return status, _excerpt(chunks), "too_large" if too_large else None

    async def _read_body(
        self, reader: asyncio.StreamReader, status: int, fields: dict[bytes, bytes]
    ) -> tuple[list[bytes], bool]:
        """The answer's body up to the cap: (chunks read, whether it was longer, so cut)."""
        cap = self.max_response
        if status in (204, 304):
            return [], False
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                n = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
                if n == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                        pass
                    return chunks, False
                if size + n > cap:
                    chunks.append(await reader.readexactly(cap - size))
                    return chunks, True
                chunks.append(await reader.readexactly(n))
                await reader.readexactly(2)
                size += n
        length = fields.get(b"content-length")
        if length is not None:
            n = int(length)
            if n > cap:
                return [await reader.readexactly(cap)], True
            return [await reader.readexactly(n)] if n else [], False
        data = await reader.read(cap + 1)  # no length: the body ends with the connection
        chunks = []
        size = 0
        while data:
            chunks.append(data)
            size += len(data)
            if size > cap:
                return chunks, True
            data = await reader.read(cap + 1 - size)
        return chunks, False

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)


def _parse_head(raw: bytes) -> tuple[int, dict[bytes, bytes], bool]:
    """Status, header fields (lower-case names) and whether the connection may be kept, of an answer's head."""
    lines = raw[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ValueError("not an HTTP/1.x status line")
    fields: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise ValueError("malformed header line")
        fields[name.lower()] = value.strip()
    connection = fields.get(b"connection", b"").lower()
    keep = b"close" not in connection and (version == b"HTTP/1.1" or b"keep-alive" in connection)
    return int(code), fields, keep


def _excerpt(chunks: list[bytes]) -> str:
    return b"".join(chunks)[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
