"""The key of the signing secrets at rest: production refuses to start without one, with a malformed one, with the
manifests' CHANGE_ME placeholder, or with the public development key (anyone could decrypt the stored secrets)."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from demimas_feeds.settings import DEV_SECRET_KEY, FeedsSettings


@pytest.fixture(autouse=True)
def _no_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMIMAS_FEEDS_SECRET_KEY", raising=False)
    monkeypatch.delenv("DEMIMAS_ENVIRONMENT", raising=False)


def production(**values: Any) -> FeedsSettings:
    """Production settings with everything else it needs (database, NATS, JWKS)."""
    return FeedsSettings(
        environment="production",
        database_url="postgresql://feeds@db.example/demimas",
        nats_url="nats://nats.example:4222",
        jwks_url="https://auth.example/.well-known/jwks.json",
        **values,
    )


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_production_refuses_to_start_without_a_key() -> None:
    with pytest.raises(ValueError, match="production needs DEMIMAS_FEEDS_SECRET_KEY"):
        production()


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("not base64 at all!", "not base64"),
        (b64(os.urandom(16)), "must hold 32 bytes, not 16"),
        (b64(os.urandom(33)), "must hold 32 bytes, not 33"),
        ("", "production needs DEMIMAS_FEEDS_SECRET_KEY"),  # set but empty: never the public key
        ("CHANGE_ME: 32 random bytes, base64 (head -c 32 /dev/urandom | base64)", "CHANGE_ME placeholder"),
    ],
    ids=["not-base64", "16-bytes", "33-bytes", "empty", "manifest-placeholder"],
)
def test_production_refuses_a_malformed_key(key: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        production(feeds_secret_key=key)


def test_production_refuses_the_public_development_key() -> None:
    with pytest.raises(ValueError, match="public development key"):
        production(feeds_secret_key=DEV_SECRET_KEY)


def test_production_starts_with_a_random_key() -> None:
    raw = os.urandom(32)
    assert production(feeds_secret_key=b64(raw)).secret_key_bytes() == raw


def test_development_and_test_fall_back_to_the_development_key_but_refuse_a_malformed_one() -> None:
    dev = base64.b64decode(DEV_SECRET_KEY)
    assert FeedsSettings(environment="development").secret_key_bytes() == dev
    assert FeedsSettings(environment="test", feeds_secret_key=DEV_SECRET_KEY).secret_key_bytes() == dev
    with pytest.raises(ValueError, match="must hold 32 bytes"):
        FeedsSettings(environment="development", feeds_secret_key=b64(b"short"))
