"""Health, readiness and metrics endpoints of the registry service."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nats.errors import NoServersError

from demimas_common.app import database_ready, nats_ready
from demimas_common.db.engine import create_engine

pytestmark = pytest.mark.integration


async def test_healthz_readyz_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    await client.post("/graphql", json={"query": "{ __typename }"})
    metrics = await client.get("/metrics")
    assert "demimas_http_requests_total" in metrics.text
    assert "demimas_outbox_published_total" in metrics.text


async def test_readiness_checks_fail_when_their_server_is_gone(registry_db: Any) -> None:
    with pytest.raises(NoServersError):
        await nats_ready("nats://127.0.0.1:9")()
    engine = create_engine(registry_db.runtime_url.replace("/demimas?", "/no_such_db?"), pool_size=1)
    try:
        with pytest.raises(Exception, match="no_such_db"):
            await database_ready(engine)()
    finally:
        await engine.dispose()


async def test_schema_without_a_token_shows_nothing_but_typename(client: httpx.AsyncClient) -> None:
    body = (await client.post("/graphql", json={"query": "{ workers { totalCount } }"})).json()
    assert body["data"] == {"workers": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
