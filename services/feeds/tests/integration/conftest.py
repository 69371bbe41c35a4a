"""The feeds schema migrated on the session's devstack, an engine with the service's runtime role, and the service
served over ASGI with real tokens (`Api`): one app in development mode (loopback receivers allowed) and, for the
server-side request forgery tests, one in production mode."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.settings import Environment
from demimas_feeds.app import SERVICE, create_app
from demimas_feeds.service_layer.endpoints import EndpointRules
from demimas_feeds.settings import FeedsSettings

ISSUER, AUDIENCE = "https://auth.feeds.test", "demimas"
SECRET_KEY = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="session")
async def feeds_engine(stack: TestStack) -> AsyncIterator[AsyncEngine]:
    await migrate_service(stack.database_url, SERVICE)
    nc = await connect(stack.nats_url, name="feeds-tests")
    await ensure_stream(nc.jetstream())
    await nc.close()
    engine = create_engine(with_user(stack.database_url, runtime_role("feeds")), pool_size=3)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def feeds_keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("feeds-keys"))


def feeds_settings(stack: TestStack, keys: DevKeys, environment: Environment = Environment.TEST) -> FeedsSettings:
    return FeedsSettings(
        environment=environment,
        database_url=with_user(stack.database_url, runtime_role("feeds")),
        nats_url=stack.nats_url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_path=Path(keys.jwks_path),
        feeds_secret_key=SECRET_KEY,
        webhook_workers=False,  # the API only: these tests are about endpoints and the change feed
    )


@dataclass(frozen=True)
class Caller:
    name: str
    token: str


class Api:
    """GraphQL over ASGI with tokens minted for any agency."""

    def __init__(self, http: httpx.AsyncClient, keys: DevKeys) -> None:
        self.http = http
        self.keys = keys

    def caller(self, agency: str, region: str | None = None, scopes: Sequence[str] | None = None) -> Caller:
        token = mint_token(
            self.keys, issuer=ISSUER, audience=AUDIENCE, agency=Agency(agency), region=region, scopes=scopes
        )
        return Caller(f"{agency}@{region}" if region else agency, token)

    async def __call__(self, who: Caller, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"authorization": f"Bearer {who.token}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(self, who: Caller, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self(who, query, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def error(self, who: Caller, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The one error's extensions (code, field, reason)."""
        body = await self(who, query, variables)
        assert body.get("errors"), body
        assert len(body["errors"]) == 1, body
        extensions: dict[str, Any] = body["errors"][0]["extensions"]
        return extensions


async def serve(app: FastAPI, keys: DevKeys) -> AsyncIterator[Api]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feeds") as client,
    ):
        yield Api(client, keys)


@pytest.fixture(scope="module")
async def api(stack: TestStack, feeds_engine: AsyncEngine, feeds_keys: DevKeys) -> AsyncIterator[Api]:
    async for served in serve(create_app(feeds_settings(stack, feeds_keys)), feeds_keys):
        yield served


@pytest.fixture(scope="module")
def rules(stack: TestStack, feeds_keys: DevKeys) -> EndpointRules:
    return EndpointRules.from_settings(feeds_settings(stack, feeds_keys))
