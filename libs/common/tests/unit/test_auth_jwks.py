"""The issuer's keys: a URL is cached, refetched early for a new kid but never more than once per interval, and
a failing issuer does not log everybody out."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from demimas_common.auth.jwks import JwksSource, parse_jwks
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.errors import Unauthenticated
from demimas_common.settings import CommonSettings

URL = "https://auth.test/.well-known/jwks.json"


class Issuer:
    """A fake identity provider: serves whichever JWKS it is given, counts requests, can be made to fail."""

    def __init__(self, jwks: bytes) -> None:
        self.jwks, self.requests, self.down = jwks, 0, False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(503) if self.down else httpx.Response(200, content=self.jwks)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys(tmp_path: Path) -> DevKeys:
    return ensure_dev_keys(tmp_path / "keys")


@pytest.fixture
def rotated(tmp_path: Path) -> DevKeys:
    return ensure_dev_keys(tmp_path / "rotated")


def source(issuer: Issuer, clock: Clock) -> JwksSource:
    return JwksSource(
        url=URL, transport=httpx.MockTransport(issuer), clock=clock, ttl_seconds=300, min_refetch_seconds=30
    )


def test_url_keys_are_cached_for_the_ttl(keys: DevKeys) -> None:
    issuer, clock = Issuer(keys.jwks_path.read_bytes()), Clock()
    jwks = source(issuer, clock)
    jwks.key(keys.kid)
    clock.now += 299
    jwks.key(keys.kid)
    assert issuer.requests == 1
    clock.now += 2
    jwks.key(keys.kid)
    assert issuer.requests == 2


def test_unknown_kid_refetches_at_most_once_per_interval(keys: DevKeys, rotated: DevKeys) -> None:
    issuer, clock = Issuer(keys.jwks_path.read_bytes()), Clock()
    jwks = source(issuer, clock)
    jwks.key(keys.kid)
    for _ in range(5):  # a flood of made-up key ids right after a fetch costs nothing
        with pytest.raises(Unauthenticated, match="unknown key id"):
            jwks.key("made-up")
    assert issuer.requests == 1
    issuer.jwks = rotated.jwks_path.read_bytes()  # the issuer rotates
    clock.now += 31
    assert jwks.key(rotated.kid)
    assert issuer.requests == 2


def test_a_failing_issuer_keeps_the_last_good_keys(keys: DevKeys) -> None:
    issuer, clock = Issuer(keys.jwks_path.read_bytes()), Clock()
    jwks = source(issuer, clock)
    jwks.key(keys.kid)
    issuer.down = True
    clock.now += 301
    assert jwks.key(keys.kid)
    assert jwks.key(keys.kid)
    assert issuer.requests == 2  # the failed attempt is not repeated on every request


def test_an_issuer_never_reached_is_unavailable(keys: DevKeys) -> None:
    issuer = Issuer(b"")
    issuer.down = True
    with pytest.raises(Unauthenticated) as caught:
        source(issuer, Clock()).key(keys.kid)
    assert caught.value.details["reason"] == "jwks_unavailable"


async def test_async_prepare_fetches_once_for_concurrent_requests(keys: DevKeys) -> None:
    import asyncio

    issuer, clock = Issuer(keys.jwks_path.read_bytes()), Clock()
    jwks = source(issuer, clock)
    await asyncio.gather(*(jwks.prepare(keys.kid) for _ in range(10)))
    assert issuer.requests == 1
    jwks.key(keys.kid)  # found without a synchronous fetch
    assert issuer.requests == 1


async def test_verifier_over_a_url(keys: DevKeys) -> None:
    issuer = Issuer(keys.jwks_path.read_bytes())
    settings = CommonSettings(jwt_issuer="https://auth.test", jwks_url=URL)
    verifier = TokenVerifier(settings, jwks=source(issuer, Clock()))
    token = mint_token(keys, issuer="https://auth.test", audience="demimas", agency=Agency.KP2MI)
    assert (await verifier.verify_async(token)).agency is Agency.KP2MI


def test_unusable_keys_are_skipped(keys: DevKeys) -> None:
    (good,) = json.loads(keys.jwks_path.read_text())["keys"]
    document = {
        "keys": [
            good,
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},  # a shared secret: never
            good | {"kid": "enc", "use": "enc"},
            good | {"kid": "mislabelled", "alg": "RS256"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"no": "kid"},
        ]
    }
    assert set(parse_jwks(json.dumps(document).encode())) == {keys.kid}


def test_a_jwks_file_that_vanishes_keeps_the_last_good_keys(keys: DevKeys) -> None:
    jwks = JwksSource(path=keys.jwks_path)
    assert jwks.key(keys.kid)
    keys.jwks_path.unlink()
    assert jwks.key(keys.kid)


def test_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        JwksSource()
    with pytest.raises(ValueError, match="DEMIMAS_JWKS_PATH or DEMIMAS_JWKS_URL"):
        TokenVerifier(CommonSettings())
