"""A registry app on the test devstack, driven in-process over ASGI (real PostgreSQL, real NATS)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.settings import Environment
from demimas_registry.app import create_app
from demimas_registry.settings import RegistrySettings
from demimas_registry.synthetic import SyntheticWorkers

ISSUER, AUDIENCE = "https://auth.test", "demimas"
fresh_village = FreshVillages(Path(__file__).resolve().parents[4])


_synthetic_village = fresh_village.instead_of(SyntheticWorkers.village)


@pytest.fixture(autouse=True)
def synthetic_rows_in_fresh_villages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows a test leaves SyntheticWorkers to place go to fresh villages, never random real ones (why:
    `FreshVillages.instead_of`)."""
    monkeypatch.setattr(SyntheticWorkers, "village", _synthetic_village)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def token(keys: DevKeys) -> Callable[..., str]:
    def make(agency: str = "KP2MI", **claims: Any) -> str:
        return mint_token(keys, issuer=ISSUER, audience=AUDIENCE, agency=Agency(agency), **claims)

    return make


def registry_settings(registry_db: Any, keys: DevKeys, **overrides: Any) -> RegistrySettings:
    """The registry's settings on the session's database and keys, in the test environment, with `overrides`."""
    return RegistrySettings(
        environment=Environment.TEST,
        database_url=registry_db.runtime_url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_path=Path(keys.jwks_path),
        **overrides,
    )


@pytest.fixture(scope="session")
async def registry_app(stack: TestStack, registry_db: Any, keys: DevKeys) -> AsyncIterator[Any]:
    nc = await connect(stack.nats_url, name="registry-tests")
    await ensure_stream(nc.jetstream())
    await nc.close()
    app = create_app(registry_settings(registry_db, keys, nats_url=stack.nats_url))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(registry_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=registry_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as http:
        yield http


class GraphQL:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
        purpose: str | None = None, headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if purpose is not None:
            sent["X-Demimas-Purpose"] = purpose
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=sent)
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    return GraphQL(client)


_serial = iter(range(1, 10_000))


def fresh_nik(born: dt.date = dt.date(1994, 3, 7), female: bool = True, district: str = "160613") -> str:
    """A valid NIK, unique within the test session."""
    day = born.day + (40 if female else 0)
    return f"{district}{day:02d}{born.month:02d}{born.year % 100:02d}{next(_serial):04d}"


def worker_input(village: str = "16.06.13.2001", **overrides: Any) -> dict[str, Any]:
    born = dt.date(1994, 3, 7)
    values = {
        "nik": fresh_nik(born, female=True, district=village.replace(".", "")[:6]),
        "fullName": "Siti Aminah",
        "sex": "FEMALE",
        "birthDate": born.isoformat(),
        "educationLevel": "SMK",
        "villageCode": village,
        "phone": "0812-3456-7890",
    }
    values.update(overrides)
    return values
