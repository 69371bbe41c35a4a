"""The session cookie is unreadable and unforgeable by the browser; CSRF tokens bind a form to its session."""

from __future__ import annotations

import base64
import os
import time

import pytest

from demimas_portal.csrf import csrf_token, csrf_valid
from demimas_portal.session import Session, SessionCodec, new_session

KEY = os.urandom(32)


def test_a_session_round_trips_and_hides_the_token() -> None:
    codec = SessionCodec(KEY)
    session = Session(csrf_secret="s", token="eyJ.secret.token", agency="KEMENDES", expires_at=time.time() + 60)
    cookie = codec.encode(session)
    assert "eyJ" not in cookie
    assert "KEMENDES" not in cookie
    assert b"KEMENDES" not in base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
    assert codec.decode(cookie) == session


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_changed_byte_or_another_key_gives_no_session(position: int) -> None:
    codec = SessionCodec(KEY)
    raw = bytearray(base64.urlsafe_b64decode((cookie := codec.encode(new_session())) + "=" * (-len(cookie) % 4)))
    raw[position] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert codec.decode(tampered) is None
    assert SessionCodec(os.urandom(32)).decode(cookie) is None


@pytest.mark.parametrize("value", [None, "", "not base64 !", "AAAA", "x" * 9000])
def test_garbage_gives_no_session(value: str | None) -> None:
    assert SessionCodec(KEY).decode(value) is None


def test_expiry() -> None:
    now = time.time()
    live = Session(csrf_secret="s", token="t", expires_at=now + 10)
    assert live.signed_in(now)
    assert not live.expired(now)
    assert not live.signed_in(now + 11)
    assert live.expired(now + 11)
    assert not new_session().signed_in()
    assert not new_session().expired()


def test_signing_out_keeps_the_language_and_changes_the_csrf_secret() -> None:
    session = Session(csrf_secret="old", lang="en", token="t", agency="BNN", expires_at=time.time() + 10)
    out = session.signed_out()
    assert (out.token, out.agency, out.lang) == (None, None, "en")
    assert out.csrf_secret != "old"


def test_csrf_tokens_belong_to_their_session() -> None:
    a, b = new_session(), new_session()
    assert csrf_valid(a.csrf_secret, csrf_token(a.csrf_secret))
    assert not csrf_valid(a.csrf_secret, csrf_token(b.csrf_secret))
    assert not csrf_valid(a.csrf_secret, None)
    assert not csrf_valid(a.csrf_secret, "")
    # attack: a non-ASCII form token made hmac.compare_digest raise TypeError, a 500 page instead of CSRF_FAILED
    assert not csrf_valid(a.csrf_secret, "\u00e9" * 64)
    assert a.csrf_secret not in csrf_token(a.csrf_secret)  # the page shows a derived token, never the secret
