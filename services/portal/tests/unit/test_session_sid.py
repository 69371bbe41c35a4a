"""The session id (sid) of a signed-in session: minted at sign-in, sealed in the cookie, required of every signed-in
cookie (one sealed before sids existed is signed out), dropped at sign-out. No NATS here: revocation is off."""

from __future__ import annotations

import base64
import logging
import os
import re
import time
from dataclasses import asdict
from pathlib import Path

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from demimas_common.auth.keys import ensure_dev_keys
from demimas_portal.app import create_app
from demimas_portal.session import COOKIE_NAME, Session, SessionCodec, new_sid
from demimas_portal.settings import PortalSettings

KEY = bytes(range(32))


def test_a_sid_is_random_and_a_valid_key_value_key() -> None:
    sids = {new_sid() for _ in range(1000)}
    assert len(sids) == 1000
    assert all(re.fullmatch(r"[-_A-Za-z0-9]{22}", s) for s in sids)  # 128 bits; NATS keys allow - and _


def test_the_cookie_keeps_the_sid_and_reads_an_older_cookie_without_one() -> None:
    codec = SessionCodec(KEY)
    session = Session(csrf_secret="c", token="t", expires_at=time.time() + 60, sid="abc")
    decoded = codec.decode(codec.encode(session))
    assert decoded is not None
    assert decoded.sid == "abc"
    older = {k: v for k, v in asdict(session).items() if k != "sid"}  # sealed by the portal before this change
    nonce = os.urandom(12)
    body = AESGCM(KEY).encrypt(nonce, orjson.dumps(older), COOKIE_NAME.encode())
    value = base64.urlsafe_b64encode(b"\x01" + nonce + body).rstrip(b"=").decode()
    read = codec.decode(value)
    assert read is not None
    assert (read.token, read.sid) == ("t", None)


def test_ended_keeps_the_browser_and_drops_the_person() -> None:
    session = Session(csrf_secret="c", lang="en", token="t", agency="BNN", expires_at=9e12, sid="s", flash="hi")
    ended = session.ended()
    assert (ended.csrf_secret, ended.lang, ended.flash) == ("c", "en", "hi")
    assert (ended.token, ended.agency, ended.sid, ended.expires_at) == (None, None, None, None)
    assert session.signed_out().sid is None
    assert session.signed_out().csrf_secret != "c"


def portal(tmp_path: Path) -> httpx.AsyncClient:
    keys = ensure_dev_keys(tmp_path / "keys")
    settings = PortalSettings(
        environment="test", dev_keys_dir=keys.private_key_path.parent, portal_gateway_url="http://127.0.0.1:9/graphql"
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://portal")


def put(browser: httpx.AsyncClient, cookie: str) -> None:
    """The browser's session cookie replaced by `cookie` (a copy, or an older one)."""
    [old] = [c for c in browser.cookies.jar if c.name == COOKIE_NAME]
    browser.cookies.clear()
    browser.cookies.set(COOKIE_NAME, cookie, domain=old.domain, path="/")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_sign_in_mints_a_sid_and_a_cookie_without_one_is_signed_out(tmp_path: Path) -> None:
    async with portal(tmp_path) as browser:
        codec = browser._transport.app.state.portal.codec  # type: ignore[attr-defined]
        form = await browser.get("/signin")
        await browser.post("/signin", data={"agency": "BNN", "csrf_token": csrf_of(form.text)})
        signed = codec.decode(browser.cookies[COOKIE_NAME])
        assert signed.token
        assert signed.sid
        assert (await browser.get("/")).headers["location"] == "/pilots"  # signed in

        # the same person's cookie as the portal sealed it before sessions had ids
        older = Session(csrf_secret=signed.csrf_secret, token=signed.token, agency="BNN", expires_at=signed.expires_at)
        put(browser, codec.encode(older))
        home = await browser.get("/")
        assert home.headers["location"] == "/signin"
        assert codec.decode(browser.cookies[COOKIE_NAME]).token is None  # the cookie is cleared
        put(browser, codec.encode(older))
        page = await browser.get("/pilots")
        assert page.status_code == 303
        assert page.headers["location"] == "/signin"
        assert "Sesi Anda berakhir" in (await browser.get("/signin")).text


async def test_without_nats_sign_out_says_it_could_not_revoke_everywhere_but_this_process_refuses_the_copy(
    tmp_path: Path,
) -> None:
    async with portal(tmp_path) as browser:
        form = await browser.get("/signin")
        await browser.post("/signin", data={"agency": "BNN", "csrf_token": csrf_of(form.text)})
        copy = browser.cookies[COOKIE_NAME]
        page = await browser.get("/signin")
        await browser.post("/signout", data={"csrf_token": csrf_of(page.text)})
        assert "tidak dapat dicabut di semua server portal" in (await browser.get("/signin")).text
        put(browser, copy)
        assert (await browser.get("/")).headers["location"] == "/signin"


async def test_without_nats_the_portal_says_at_start_up_that_revocation_is_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = PortalSettings(environment="development", dev_keys_dir=None, portal_gateway_url="http://127.0.0.1:9/x")
    app = create_app(settings)
    with caplog.at_level(logging.WARNING, logger="demimas.portal"):
        async with app.router.lifespan_context(app):
            pass
    assert "session revocation is off: DEMIMAS_NATS_URL is not set" in caplog.text
