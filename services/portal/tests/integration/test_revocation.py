"""Sign-out revokes the session on every portal replica, through the NATS key-value bucket of revoked sessions (real
NATS from the test devstack). The pages asked for are `/` (signed in: to the start page; signed out: to /signin)
and `/signin`, which need no gateway; the pages over the real gateway are in tests/e2e/test_portal.py."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from demimas_common.auth.keys import ensure_dev_keys
from demimas_common.devstack.ports import free_port
from demimas_common.devstack.testing import TestStack
from demimas_portal.app import create_app
from demimas_portal.session import COOKIE_NAME, Session
from demimas_portal.settings import PortalSettings

pytestmark = pytest.mark.integration

Replica = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def replica(tmp_path: Path, stack: TestStack) -> AsyncIterator[Replica]:
    """`replica(nats_url=...)`: a new portal app (its own process state) and a browser on it; every replica of a
    test shares the dev keys, hence the cookie key, as replicas share DEMIMAS_PORTAL_SESSION_KEY."""
    keys = ensure_dev_keys(tmp_path / "keys")
    opened: list[tuple[httpx.AsyncClient, Any]] = []

    def make(**overrides: Any) -> httpx.AsyncClient:
        settings = PortalSettings(
            environment="test",
            dev_keys_dir=keys.private_key_path.parent,
            portal_gateway_url="http://127.0.0.1:9/graphql",  # nothing here asks the gateway
            **({"nats_url": stack.nats_url} | overrides),
        )
        app = create_app(settings)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")
        opened.append((client, app))
        return client

    yield make
    for client, app in opened:
        await client.aclose()
        await app.state.portal.close()


def app_of(browser: httpx.AsyncClient) -> Any:
    return browser._transport.app  # type: ignore[attr-defined]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def sign_in(browser: httpx.AsyncClient) -> str:
    """Sign in as KEMENKO_POLKAM; the session cookie's value (what a thief would copy)."""
    form = await browser.get("/signin")
    done = await browser.post("/signin", data={"agency": "KEMENKO_POLKAM", "csrf_token": csrf_of(form.text)})
    assert done.status_code == 303, done.text
    return str(browser.cookies[COOKIE_NAME])


async def sign_out(browser: httpx.AsyncClient) -> str:
    """Press "sign out"; the flash message /signin shows then."""
    page = await browser.get("/signin")
    done = await browser.post("/signout", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    assert done.headers["location"] == "/signin"
    assert decode(browser, str(browser.cookies[COOKIE_NAME])).token is None  # this browser is signed out
    [flash] = re.findall(r'data-testid="flash">([^<]+)<', (await browser.get("/signin")).text)
    return flash


def decode(browser: httpx.AsyncClient, value: str) -> Session:
    session = app_of(browser).state.portal.codec.decode(value)
    assert session is not None
    return session


async def with_copy(replica_browser: httpx.AsyncClient, cookie: str) -> httpx.Response:
    """`/` sent with a copy of `cookie` from another browser (the thief's, on the given replica)."""
    app = app_of(replica_browser)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as thief:
        thief.cookies.set(COOKIE_NAME, cookie)
        return await thief.get("/")


def signed_in(response: httpx.Response) -> bool:
    assert response.status_code == 303
    return bool(response.headers["location"] != "/signin")


def refused(browser: httpx.AsyncClient, response: httpx.Response) -> bool:
    """Sent to /signin, and the cookie it sets holds no token any more (the copy is cleared too)."""
    if signed_in(response):
        return False
    cookie = re.search(rf"{COOKIE_NAME}=([^;]+)", response.headers["set-cookie"])
    assert cookie
    assert decode(browser, cookie.group(1)).token is None
    return True


async def eventually_refused(browser: httpx.AsyncClient, cookie: str, within: float = 20.0) -> None:
    """The watch is asynchronous: another replica learns of a revocation a moment later."""
    deadline = asyncio.get_running_loop().time() + within
    while not refused(browser, await with_copy(browser, cookie)):
        assert asyncio.get_running_loop().time() < deadline, "the copied cookie still works on the other replica"
        await asyncio.sleep(0.1)


async def test_sign_in_gives_the_session_a_sid_and_sign_out_ends_every_copy_on_every_replica(
    replica: Replica,
) -> None:
    first, second = replica(), replica()
    cookie = await sign_in(first)
    sid = decode(first, cookie).sid
    assert sid
    assert sid != decode(first, await sign_in(replica())).sid  # another sign-in, another sid
    assert signed_in(await with_copy(first, cookie))  # the copy works on either replica before sign-out
    assert signed_in(await with_copy(second, cookie))

    assert await sign_out(first) == "Anda telah keluar."
    assert refused(first, await with_copy(first, cookie))  # at once on the replica that signed out
    await eventually_refused(second, cookie)  # through NATS on the other
    third = replica()  # a replica started after the sign-out reads it from the bucket's values
    assert refused(third, await with_copy(third, cookie))
    # the thief is sent to sign in, with the reason
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_of(second)), base_url="http://portal") as x:
        x.cookies.set(COOKIE_NAME, cookie)
        gone = await x.get("/pilots")
        assert gone.status_code == 303
        assert gone.headers["location"] == "/signin"
        assert "Sesi ini sudah diakhiri" in (await x.get("/signin")).text


async def test_the_watch_survives_a_nats_restart(replica: Replica, stack: TestStack) -> None:
    """NATS goes away and comes back (same store): the replicas watch again, and a sign-out after that reaches the
    other replica. The old watch's consumer died with the server: without watching again it would never hear."""
    nats = stack.fresh_nats("portal-revocations")
    nats.start()
    try:
        first, second = replica(nats_url=nats.url), replica(nats_url=nats.url)
        cookie = await sign_in(first)
        assert signed_in(await with_copy(second, cookie))  # both replicas watch
        assert signed_in(await with_copy(first, cookie))
        watching = [app_of(b).state.portal.revocations for b in (first, second)]
        assert [w.watches for w in watching] == [1, 1]
        nats.stop()
        await asyncio.sleep(1.0)
        nats.start()
        deadline = asyncio.get_running_loop().time() + 30  # reconnects are tried every half second
        while not all(w.watches >= 2 for w in watching):
            assert asyncio.get_running_loop().time() < deadline, [w.watches for w in watching]
            await asyncio.sleep(0.1)
        assert await sign_out(first) == "Anda telah keluar."  # written to the bucket
        await eventually_refused(second, cookie)
    finally:
        nats.stop()


async def test_a_sign_out_nats_does_not_take_still_signs_out_here_and_says_so(
    replica: Replica, caplog: pytest.LogCaptureFixture
) -> None:
    """NATS unreachable at sign-out: the browser is signed out (its cookie replaced), this replica refuses copies of
    the cookie, and the person is told the session could not be revoked everywhere; the log names no session."""
    browser = replica(nats_url=f"nats://127.0.0.1:{free_port()}")  # nothing listens there
    app_of(browser).state.portal.revocations.ready_within = 1.0
    cookie = await sign_in(browser)
    sid = decode(browser, cookie).sid
    assert sid
    with caplog.at_level(logging.WARNING, logger="demimas.portal.revocation"):
        flash = await sign_out(browser)
    assert flash.startswith("Anda telah keluar di peramban ini, tetapi sesi tidak dapat dicabut")
    assert refused(browser, await with_copy(browser, cookie))
    assert "could not be written" in caplog.text
    assert sid not in caplog.text
    assert cookie not in caplog.text


async def test_readyz_waits_for_the_revoked_sessions(replica: Replica) -> None:
    """Ready once the bucket was read (the gateway is absent here, so it is the only other check failing); never
    ready while NATS cannot be reached."""
    browser = replica()
    deadline = asyncio.get_running_loop().time() + 20
    while (failing := (await browser.get("/readyz")).json()["failing"]) != ["gateway"]:
        assert "revoked_sessions" in failing
        assert asyncio.get_running_loop().time() < deadline, failing
        await asyncio.sleep(0.1)
    unreachable = replica(nats_url=f"nats://127.0.0.1:{free_port()}")
    assert "revoked_sessions" in (await unreachable.get("/readyz")).json()["failing"]
    await asyncio.sleep(1.0)
    assert "revoked_sessions" in (await unreachable.get("/readyz")).json()["failing"]


async def test_the_bucket_keeps_revocations_as_long_as_the_longest_session(replica: Replica, stack: TestStack) -> None:
    """Created by a replica with one-hour sessions, the bucket keeps entries an hour; a replica whose sessions last
    eight hours extends it, so its revocations are not forgotten before its sessions end."""
    from demimas_common.events.nats import connect
    from demimas_portal.revocation import BUCKET

    nats = stack.fresh_nats("portal-bucket")
    nats.start()
    try:
        for hours in (1.0, 8.0, 1.0):
            browser = replica(nats_url=nats.url, portal_session_hours=hours)
            revocations = app_of(browser).state.portal.revocations
            revocations.start()  # what the app's start-up does
            deadline = asyncio.get_running_loop().time() + 20
            while not revocations.loaded:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
        nc = await connect(nats.url, name="test", reconnect=False)
        try:
            info = await nc.jetstream().stream_info(f"KV_{BUCKET}")
        finally:
            await nc.close()
        assert info.config.max_age == 8 * 3600
        assert info.config.max_msgs_per_subject == 1
        assert info.config.storage == "file"
    finally:
        nats.stop()


async def test_an_error_page_shows_a_revoked_session_signed_out(replica: Replica) -> None:
    """A 404 (no route, so no page made by one) with the copy: not shown as signed in, and its cookie cleared."""
    browser = replica()
    cookie = await sign_in(browser)
    await sign_out(browser)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_of(browser)), base_url="http://portal") as x:
        x.cookies.set(COOKIE_NAME, cookie)
        missing = await x.get("/no-such-page")
    assert missing.status_code == 404
    assert 'data-testid="signed-in-agency"' not in missing.text
    sealed = re.search(rf"{COOKIE_NAME}=([^;]+)", missing.headers["set-cookie"])
    assert sealed
    assert decode(browser, sealed.group(1)).token is None
