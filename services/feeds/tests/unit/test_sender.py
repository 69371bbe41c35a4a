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
    answers = iter([Answer(500, b"boom"), Answer(302, b"elsewhere")])
    receiver = await Receiver(respond=lambda _r: next(answers)).start()
    sender = EndpointSender(receiver.url)
    try:
        failed = await sender.post(HEADERS, b"{}")
        redirected = await sender.post(HEADERS, b"{}")
    finally:
        await sender.close()
        await receiver.stop()
    assert (failed.status_code, failed.delivered, failed.excerpt) == (500, False, "boom")
    assert (redirected.status_code, redirected.delivered) == (302, False)
    assert len(receiver.received) == 2  # the redirect was not followed


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
    sender = EndpointSender(f"http://127.0.0.1:{port}/hook", timeout=2)
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
