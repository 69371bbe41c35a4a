"""The verified-token cache: one signature check per token, never past the token's expiry or the cache's TTL."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.keys import ensure_dev_keys, mint_token
from demimas_common.auth.principal import Principal
from demimas_common.errors import Unauthenticated
from demimas_common.settings import CommonSettings
from demimas_gateway.tokens import TokenCache

ISSUER, AUDIENCE = "https://auth.tokens.test", "demimas"


class CountingVerifier(TokenVerifier):
    calls = 0

    async def principal_from_authorization_async(self, header: str | None) -> Principal | None:
        self.calls += 1
        return await super().principal_from_authorization_async(header)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(tmp_path: Path) -> tuple[CountingVerifier, Path]:
    keys = ensure_dev_keys(tmp_path)
    settings = CommonSettings(jwks_path=keys.jwks_path, jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_leeway_seconds=0)
    return CountingVerifier(settings), tmp_path


def bearer(directory: Path, ttl: dt.timedelta) -> str:
    keys = ensure_dev_keys(directory)
    return "Bearer " + mint_token(keys, issuer=ISSUER, audience=AUDIENCE, agency="BNN", ttl=ttl)


async def test_one_verification_per_token(setup: tuple[CountingVerifier, Path]) -> None:
    verifier, directory = setup
    cache = TokenCache(verifier, clock=Clock())
    header = bearer(directory, dt.timedelta(hours=1))
    first = await cache.principal(header)
    assert first is not None
    assert first.agency.value == "BNN"
    assert await cache.principal(header) == first
    assert verifier.calls == 1
    assert await cache.principal(bearer(directory, dt.timedelta(hours=2))) is not None
    assert verifier.calls == 2


async def test_never_past_expiry_nor_ttl(setup: tuple[CountingVerifier, Path]) -> None:
    verifier, directory = setup
    clock = Clock()
    cache = TokenCache(verifier, ttl_seconds=60, clock=clock)
    long_lived = bearer(directory, dt.timedelta(hours=1))
    await cache.principal(long_lived)
    clock.now += 61  # past the TTL: verified again
    await cache.principal(long_lived)
    assert verifier.calls == 2
    short = bearer(directory, dt.timedelta(seconds=30))
    await cache.principal(short)
    clock.now += 31  # the cached entry ends with the token; the verifier (on the real clock) is asked again
    await cache.principal(short)
    assert verifier.calls == 4


async def test_bad_tokens_are_not_cached(setup: tuple[CountingVerifier, Path]) -> None:
    verifier, _ = setup
    cache = TokenCache(verifier, clock=Clock())
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await cache.principal("Bearer not-a-jwt")
    assert verifier.calls == 2
