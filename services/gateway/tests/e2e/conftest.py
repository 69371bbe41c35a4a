"""The real registry, designation, pillars, cases, feeds and audit services on the test devstack (PostgreSQL, NATS),
and the gateway in front of them built exactly as `make run` builds it (`build_app` from settings, so every security
default is on)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from demimas_audit.app import SERVICE as AUDIT
from demimas_audit.app import create_app as create_audit
from demimas_audit.settings import AuditSettings
from demimas_cases.app import SERVICE as CASES
from demimas_cases.app import create_app as create_cases
from demimas_cases.settings import CasesSettings
from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.ports import free_port
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.settings import Environment
from demimas_designation.app import SERVICE as DESIGNATION
from demimas_designation.app import create_app as create_designation
from demimas_designation.settings import DesignationSettings
from demimas_feeds.app import SERVICE as FEEDS
from demimas_feeds.app import create_app as create_feeds
from demimas_feeds.settings import FeedsSettings
from demimas_gateway.app import build_app
from demimas_gateway.settings import GatewaySettings
from demimas_gateway.supergraph import load_supergraph
from demimas_pillars.app import SERVICE as PILLARS
from demimas_pillars.app import create_app as create_pillars
from demimas_pillars.settings import PillarsSettings
from demimas_registry.adapters.villages import load_villages
from demimas_registry.app import SERVICE as REGISTRY
from demimas_registry.app import create_app as create_registry
from demimas_registry.settings import RegistrySettings

ROOT = Path(__file__).resolve().parents[4]
SUPERGRAPH = ROOT / "deploy" / "supergraph.graphql"
ISSUER, AUDIENCE = "https://auth.gateway-e2e.test", "demimas"


@pytest.fixture(scope="session")
def matrix_keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("matrix-keys"))


@pytest.fixture(scope="session")
def matrix_mint(matrix_keys: DevKeys) -> Callable[..., str]:
    def make(agency: str, **claims: Any) -> str:
        return mint_token(matrix_keys, issuer=ISSUER, audience=AUDIENCE, agency=Agency(agency), **claims)

    return make


async def _serve(app: Any) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return f"http://127.0.0.1:{port}/graphql", server, task


@pytest.fixture(scope="session")
async def matrix_services(
    stack: TestStack, matrix_keys: DevKeys, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, str]]:
    """registry, designation, pillars, cases, feeds and audit."""
    common: dict[str, Any] = {
        "environment": Environment.TEST,
        "nats_url": stack.nats_url,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwks_path": Path(matrix_keys.jwks_path),
    }
    for service in (REGISTRY, DESIGNATION, PILLARS, CASES, FEEDS, AUDIT):
        await migrate_service(stack.database_url, service)
    engine = create_engine(with_user(stack.database_url, runtime_role("registry")), pool_size=1)
    try:
        async with engine.begin() as conn:
            await load_villages(conn)
    finally:
        await engine.dispose()
    nc = await connect(stack.nats_url, name="gateway-e2e")
    await ensure_stream(nc.jetstream())
    await nc.close()
    apps = {
        "registry": create_registry(
            RegistrySettings(database_url=with_user(stack.database_url, runtime_role("registry")), **common)
        ),
        "designation": create_designation(
            DesignationSettings(database_url=with_user(stack.database_url, runtime_role("designation")), **common)
        ),
        "pillars": create_pillars(
            PillarsSettings(database_url=with_user(stack.database_url, runtime_role("pillars")), **common)
        ),
        "cases": create_cases(
            CasesSettings(database_url=with_user(stack.database_url, runtime_role("cases")), **common)
        ),
        "feeds": create_feeds(  # the API only: the session's delivery engine runs in tests/e2e
            FeedsSettings(
                database_url=with_user(stack.database_url, runtime_role("feeds")), webhook_workers=False, **common
            )
        ),
        "audit": create_audit(  # the personal data report goes through a gateway the matrix does not ask for
            AuditSettings(
                database_url=with_user(stack.database_url, runtime_role("audit")),
                audit_signing_key=tmp_path_factory.mktemp("matrix-audit-key") / "audit-signing.pem",
                gateway_url="http://gateway.invalid/graphql",
                **common,
            )
        ),
    }
    served = {name: await _serve(app) for name, app in apps.items()}
    yield {name: url for name, (url, _, _) in served.items()}
    for _, server, task in served.values():
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def secured_gateway(matrix_services: dict[str, str], matrix_keys: DevKeys) -> AsyncIterator[httpx.AsyncClient]:
    """Every security default on except the rate limits, switched off explicitly: the matrix sends hundreds of
    requests per agency (and as one anonymous address) back to back, far over the default 50/s (5/s anonymous), and
    tests authorization, not rate limits (those: test_abuse_and_transport.py, test_cost_and_rate_limits.py)."""
    settings = GatewaySettings(
        gateway_default_rate_limit=None,
        gateway_anonymous_rate_limit=None,
        environment=Environment.TEST,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_path=Path(matrix_keys.jwks_path),
        gateway_subgraph_urls=matrix_services,
    )
    app = build_app(settings, load_supergraph(SUPERGRAPH.read_text(), graph_urls=matrix_services))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield http
    await app.gateway.client.close()
