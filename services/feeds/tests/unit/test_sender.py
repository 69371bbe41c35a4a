"""The sender against real HTTP receivers on loopback (no mocks): keep-alive, statuses, timeouts, caps, refusals."""

from __future__ import annotations

import asyncio
import socket

import pytest

from demimas_feeds.adapters.sender import AddressRefused, EndpointSender, Target
from demimas_feeds.receiver import Answer, Received, Receiver

HEADERS = [(b"webhook-id", b"msg-1"), (b"webhook-timestamp", b"1"), (b"webhook-signature", b"v1,x")]


async def test_posts_the_body_and_headers_and_keeps_the_connection() -> None:
    receiver = await Receiver().start()
    sender = EndpointSender(receiver.url + "?k=1", timeout=5)
    try:
        first = await sender.post(HEADERS, b'{"n":1}')
        second = await sender.post(HEADERS, b'{"n":2}')
    finally:
        await sender.close()
        await receiver.stop()
    assert first.delivered
    assert second.delivered
    assert (first.status_code, first.error) == (204, None)
    assert [r.body for r in receiver.received] == [b'{"n":1}', b'{"n":2}']
    got = receiver.received[0]
    assert got.path == "/hook?k=1"
    assert got.headers["webhook-id"] == "msg-1"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert len(receiver._writers) <= 1  # one connection served both


async def test_a_non_2xx_and_a_redirect_are_failures_with_the_excerpt() -> None:
    elsewhere = await Receiver(respond=lambda _r: Answer(200)).start()  # would take the delivery if it were followed
    answers = iter([Answer(500, b"boom"), Answer(302, b"elsewhere", headers=(("location", elsewhere.url),))])
    receiver = await Receiver(respond=lambda _r: next(answers)).start()
    sender = EndpointSender(receiver.url)
    try:
        failed = await sender.post(HEADERS, b"{}")
        redirected = await sender.post(HEADERS, b"{}")
        await asyncio.sleep(0.2)  # a follow-up request would have arrived by now
    finally:
        await sender.close()
        await receiver.stop()
        await elsewhere.stop()
    assert (failed.status_code, failed.delivered, failed.excerpt) == (500, False, "boom")
    assert (redirected.status_code, redirected.delivered, redirected.excerpt) == (302, False, "elsewhere")
    assert len(receiver.received) == 2
    assert elsewhere.received == []  # the redirect, with its Location, was not followed


async def test_a_slow_receiver_times_out() -> None:
    receiver = await Receiver(respond=lambda _r: Answer(delay=2.0)).start()
    sender = EndpointSender(receiver.url, timeout=0.3)
    try:
        result = await sender.post(HEADERS, b"{}")
        receiver.respond = lambda _r: Answer(200)
        after = await sender.post(HEADERS, b"{}")
    finally:
        await sender.close()
        await receiver.stop()
    assert (result.status_code, result.error, result.delivered) == (None, "timeout", False)
    assert after.delivered  # a fresh connection after the timeout


async def test_a_huge_answer_is_capped_and_the_excerpt_is_one_kilobyte() -> None:
    huge = b"x" * (1024 * 1024)
    receiver = await Receiver(respond=lambda _r: Answer(200, huge)).start()
    sender = EndpointSender(receiver.url)
    try:
        result = await sender.post(HEADERS, b"{}")
        again = await sender.post(HEADERS, b"{}")
    finally:
        await sender.close()
        await receiver.stop()
    assert (result.status_code, result.error) == (200, "too_large")
    assert result.delivered
    assert result.excerpt == "x" * 1024
    assert again.status_code == 200  # the cut connection was closed, a new one serves the next


async def test_a_receiver_that_is_gone_is_a_connect_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sender = EndpointSender(f"http://127.0.0.1:{port}/hook", timeout=10)  # a refusal is at once; no timeout tested
    result = await sender.post(HEADERS, b"{}")
    assert (result.status_code, result.error) == (None, "connect")


async def test_a_server_that_closed_the_kept_alive_connection_gets_the_request_again() -> None:
    receiver = await Receiver().start()
    sender = EndpointSender(receiver.url)
    try:
        assert (await sender.post(HEADERS, b"1")).delivered
        for writer in list(receiver._writers):  # the server drops the idle connection
            writer.close()
        await asyncio.sleep(0.05)
        result = await sender.post(HEADERS, b"2")
    finally:
        await sender.close()
        await receiver.stop()
    assert result.delivered
    assert [r.body for r in receiver.received] == [b"1", b"2"]


async def test_a_refused_address_is_not_connected_to() -> None:
    receiver = await Receiver().start()

    async def refuse(host: str, port: int) -> str:
        raise AddressRefused(host)

    sender = EndpointSender(receiver.url, resolve=refuse)
    try:
        result = await sender.post(HEADERS, b"{}")
    finally:
        await receiver.stop()
    assert (result.status_code, result.error) == (None, "refused_address")
    assert receiver.received == []


async def test_the_connection_goes_to_the_pinned_address_with_the_url_host() -> None:
    seen: list[Received] = []
    receiver = await Receiver(respond=lambda r: (seen.append(r), Answer(200))[1]).start()

    async def pin(host: str, port: int) -> str:
        return "127.0.0.1"

    sender = EndpointSender(f"http://hooks.example.invalid:{receiver.port}/x", resolve=pin)
    try:
        result = await sender.post(HEADERS, b"{}")
    finally:
        await sender.close()
        await receiver.stop()
    assert result.delivered
    assert seen[0].headers["host"] == f"hooks.example.invalid:{receiver.port}"


async def test_tls_fails_with_the_tls_word_against_a_plain_server() -> None:
    receiver = await Receiver().start()
    sender = EndpointSender(f"https://localhost:{receiver.port}/hook", timeout=3)
    try:
        result = await sender.post(HEADERS, b"{}")
    finally:
        await sender.close()
        await receiver.stop()
    assert result.error in ("tls", "connect")
    assert not result.delivered


def test_target_parsing() -> None:
    assert Target.parse("https://a.example/h?x=1") == Target("https", "a.example", 443, "/h?x=1")
    assert Target.parse("http://[::1]:8080").host_header == b"[::1]:8080"
    with pytest.raises(ValueError, match="not an http"):
        Target.parse("ftp://a.example/")


async def _raw_server(answer: bytes) -> tuple[asyncio.Server, str]:
    """A server that answers every request with these bytes as they are (then keeps the connection open)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(v for k, v in (line.split(b": ", 1) for line in head.split(b"\r\n")[1:-2])
                                  if k == b"content-length"))  # fmt: skip
                await reader.readexactly(length)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


async def test_a_chunked_answer_is_read_and_the_connection_kept() -> None:
    server, url = await _raw_server(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    )
    sender = EndpointSender(url)
    try:
        first = await sender.post(HEADERS, b"{}")
        second = await sender.post(HEADERS, b"{}")
    finally:
        await sender.close()
        server.close()
    assert (first.status_code, first.excerpt, first.error) == (200, "abcde", None)
    assert second.excerpt == "abcde"


async def test_an_answer_without_length_ends_with_the_connection_and_a_bad_head_is_a_protocol_error() -> None:
    server, url = await _raw_server(b"HTTP/1.0 202 Accepted\r\n\r\nfine")
    sender = EndpointSender(url, timeout=2)
    bad_server, bad_url = await _raw_server(b"SMTP ready\r\n\r\n")
    bad = EndpointSender(bad_url, timeout=10)  # a bad head at once: generous, as a loaded machine may pause seconds
    try:
        # the server keeps its side open: the body ends only at the timeout, which is the answer's fault
        result = await sender.post(HEADERS, b"{}")
        garbled = await bad.post(HEADERS, b"{}")
    finally:
        await sender.close()
        await bad.close()
        server.close()
        bad_server.close()
    assert result.error == "timeout"
    assert garbled.error == "protocol"


async def test_a_head_longer_than_the_limit_is_too_large() -> None:
    server, url = await _raw_server(b"HTTP/1.1 200 OK\r\nx-pad: " + b"a" * 20_000 + b"\r\ncontent-length: 0\r\n\r\n")
    sender = EndpointSender(url, timeout=10)  # generous: a loaded machine's pause must not make it a timeout
    try:
        result = await sender.post(HEADERS, b"{}")
    finally:
        await sender.close()
        server.close()
    assert (result.status_code, result.error) == (None, "too_large")


async def test_the_policy_resolver_refuses_what_the_url_policy_refuses() -> None:
    from functools import partial

    from demimas_common.settings import Environment
    from demimas_feeds.adapters.sender import policy_resolver
    from demimas_feeds.domain.url_policy import UrlPolicy, address_problem

    async def lookup(host: str, port: int) -> list[str]:
        return {"public.example": ["93.184.216.34"], "sneaky.example": ["93.184.216.34", "10.0.0.7"]}[host]

    production = policy_resolver(partial(address_problem, policy=UrlPolicy.for_environment(Environment.PRODUCTION)),
                                 lookup)  # fmt: skip
    development = policy_resolver(partial(address_problem, policy=UrlPolicy.for_environment(Environment.DEVELOPMENT)),
                                  lookup)  # fmt: skip
    assert await production("public.example", 443) == "93.184.216.34"
    for host in ("sneaky.example", "127.0.0.1", "169.254.169.254", "localhost", "::1"):
        with pytest.raises(AddressRefused):
            await production(host, 443)
    assert await development("localhost", 80) == "127.0.0.1"
    assert await development("127.0.0.1", 80) == "127.0.0.1"
