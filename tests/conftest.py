"""End-to-end fixtures: the real registry served over HTTP on the test devstack (PostgreSQL, NATS), and the
gateway in front of it, loading the committed supergraph exactly as `make run` does.

They live here, above tests/e2e and tests/browser, so that both trees share one instance of each session fixture
(one set of services per test session); tests import the helpers with `from tests.conftest import ...`."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.fresh_villages import FreshVillages
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
from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Gateway
from demimas_gateway.http import GatewayApp
from demimas_gateway.supergraph import load_supergraph
from demimas_pillars.app import SERVICE as PILLARS
from demimas_pillars.app import create_app as create_pillars
from demimas_pillars.settings import PillarsSettings
from demimas_portal.settings import PortalSettings
from demimas_registry.adapters.villages import load_villages
from demimas_registry.app import SERVICE as REGISTRY
from demimas_registry.app import create_app as create_registry
from demimas_registry.settings import RegistrySettings
from demimas_registry.synthetic import SyntheticWorkers

ROOT = Path(__file__).resolve().parents[1]
SUPERGRAPH = ROOT / "deploy" / "supergraph.graphql"
_fresh_village = FreshVillages(ROOT)


_synthetic_village = _fresh_village.instead_of(SyntheticWorkers.village)


@pytest.fixture(autouse=True)
def synthetic_rows_in_fresh_villages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows a test leaves SyntheticWorkers to place go to fresh villages, never random real ones (why:
    `FreshVillages.instead_of`)."""
    monkeypatch.setattr(SyntheticWorkers, "village", _synthetic_village)


ISSUER, AUDIENCE = "https://auth.e2e.test", "demimas"


@dataclass(frozen=True)
class Endpoints:
    registry: str
    gateway: httpx.AsyncClient
    direct: httpx.AsyncClient


@pytest.fixture(scope="session")
def e2e_keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return ensure_dev_keys(tmp_path_factory.mktemp("e2e-keys"))


@pytest.fixture(scope="session")
def mint(e2e_keys: DevKeys) -> Callable[..., str]:
    def make(agency: str = "KP2MI", **claims: Any) -> str:
        return mint_token(e2e_keys, issuer=ISSUER, audience=AUDIENCE, agency=Agency(agency), **claims)

    return make


def forged_token(token: str) -> str:
    """The token with one bit of its signature's first byte flipped: a signature that never verifies.

    Writing fixed characters over the signature's end (`token[:-4] + "AAAA"`) could leave it as it was: an Ed25519
    signature ends in the high byte of a scalar below 2**253, so of its last four base64url characters two carry
    six random bits and two only two, and they are "AAAA" once in 65,536 tokens: the "forged" token was the real one."""
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1
    changed = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    return f"{header}.{payload}.{changed}"


def common_settings(stack: TestStack, e2e_keys: DevKeys, service: str) -> dict[str, Any]:
    """What every service of the session shares: the test environment, its runtime role on the session's database,
    NATS, and the session's token keys."""
    return {
        "environment": Environment.TEST,
        "database_url": with_user(stack.database_url, runtime_role(service)),
        "nats_url": stack.nats_url,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwks_path": Path(e2e_keys.jwks_path),
    }


def registry_settings_for(stack: TestStack, e2e_keys: DevKeys) -> RegistrySettings:
    return RegistrySettings(**common_settings(stack, e2e_keys, "registry"))


@pytest.fixture
def registry_settings(stack: TestStack, e2e_keys: DevKeys, registry_url: str) -> RegistrySettings:
    """The settings of the session's registry, for a test that serves a second registry process of its own."""
    return registry_settings_for(stack, e2e_keys)


@pytest.fixture(scope="session")
def subgraph_urls(
    registry_url: str, designation_url: str, pillars_url: str, audit_url: str, cases_url: str, feeds_url: str
) -> dict[str, str]:
    return {"registry": registry_url, "designation": designation_url, "pillars": pillars_url, "audit": audit_url,
            "cases": cases_url, "feeds": feeds_url}  # fmt: skip


@pytest.fixture(scope="session")
async def registry_url(stack: TestStack, e2e_keys: DevKeys) -> AsyncIterator[str]:
    await migrate_service(stack.database_url, REGISTRY)
    runtime = with_user(stack.database_url, runtime_role("registry"))
    engine = create_engine(runtime, pool_size=1)
    try:
        async with engine.begin() as conn:
            await load_villages(conn)
    finally:
        await engine.dispose()
    nc = await connect(stack.nats_url, name="e2e")
    await ensure_stream(nc.jetstream())
    await nc.close()
    url, server, task = await serve(create_registry(registry_settings_for(stack, e2e_keys)))
    yield url
    server.should_exit = True
    await task


def portal_settings(gateway: str, keys: DevKeys, **overrides: Any) -> PortalSettings:
    """The portal's settings over the session's gateway, signing dev tokens with the session's keys."""
    return PortalSettings(
        environment=Environment.TEST,
        portal_gateway_url=gateway,
        dev_keys_dir=Path(keys.private_key_path).parent,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        **overrides,
    )


async def serve(
    app: Any, *, port: int | None = None, lifespan: str = "on"
) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    """`app` under uvicorn on `port` (a free one by default), once it listens: (its /graphql URL, server, task)."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan=lifespan))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return f"http://127.0.0.1:{port}/graphql", server, task


@pytest.fixture(scope="session")
async def designation_url(stack: TestStack, e2e_keys: DevKeys, registry_url: str) -> AsyncIterator[str]:
    await migrate_service(stack.database_url, DESIGNATION)
    settings = DesignationSettings(
        **common_settings(stack, e2e_keys, "designation"),
    )
    url, server, task = await serve(create_designation(settings))
    yield url
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def pillars_url(stack: TestStack, e2e_keys: DevKeys, registry_url: str) -> AsyncIterator[str]:
    await migrate_service(stack.database_url, PILLARS)
    settings = PillarsSettings(
        **common_settings(stack, e2e_keys, "pillars"),
        overdue_check_seconds=1.0,  # milestones made overdue by a test are announced at once
    )
    url, server, task = await serve(create_pillars(settings))
    yield url
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
def gateway_port() -> int:
    """The port of the gateway served over HTTP (for the audit's report, which goes through the gateway)."""
    return free_port()


@pytest.fixture(scope="session")
async def audit_url(
    stack: TestStack,
    e2e_keys: DevKeys,
    registry_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    gateway_port: int,
) -> AsyncIterator[str]:
    await migrate_service(stack.database_url, AUDIT)
    settings = AuditSettings(
        **common_settings(stack, e2e_keys, "audit"),
        audit_signing_key=tmp_path_factory.mktemp("audit-key") / "audit-signing.pem",
        gateway_url=f"http://127.0.0.1:{gateway_port}/graphql",
    )
    url, server, task = await serve(create_audit(settings))
    yield url
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def cases_url(stack: TestStack, e2e_keys: DevKeys, registry_url: str) -> AsyncIterator[str]:
    await migrate_service(stack.database_url, CASES)
    settings = CasesSettings(
        **common_settings(stack, e2e_keys, "cases"),
        case_sweep_seconds=0.5,
    )
    url, server, task = await serve(create_cases(settings))
    yield url
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def feeds_url(stack: TestStack, e2e_keys: DevKeys, registry_url: str) -> AsyncIterator[str]:
    await migrate_service(stack.database_url, FEEDS)
    settings = FeedsSettings(
        **common_settings(stack, e2e_keys, "feeds"),
    )
    url, server, task = await serve(create_feeds(settings))
    yield url
    server.should_exit = True
    await task


def gateway_app(urls: dict[str, str], keys: DevKeys) -> tuple[GatewayApp, SubgraphClient]:
    """The gateway over the subgraphs at `urls`, loading the committed supergraph as `make run` does (close the
    client when done)."""
    supergraph = load_supergraph(SUPERGRAPH.read_text(), graph_urls=urls)
    client = SubgraphClient(urls, timeout_seconds=10)
    settings = RegistrySettings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwks_path=Path(keys.jwks_path))
    return GatewayApp(Gateway(supergraph, client), verifier=TokenVerifier(settings)), client


@pytest.fixture(scope="session")
async def gateway_over_http(subgraph_urls: dict[str, str], e2e_keys: DevKeys, gateway_port: int) -> AsyncIterator[str]:
    """The gateway on a real port, as the audit service reaches it."""
    app, client = gateway_app(subgraph_urls, e2e_keys)
    url, server, task = await serve(app, port=gateway_port, lifespan="off")
    yield url
    server.should_exit = True
    await task
    await client.close()


@pytest.fixture
async def endpoints(registry_url: str, subgraph_urls: dict[str, str], e2e_keys: DevKeys) -> AsyncIterator[Endpoints]:
    app, client = gateway_app(subgraph_urls, e2e_keys)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as gateway,
        httpx.AsyncClient(base_url=registry_url.removesuffix("/graphql")) as direct,
    ):
        yield Endpoints(registry_url, gateway, direct)
    await client.close()


async def ask(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    purpose: str | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = {"accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if purpose:
        headers["x-demimas-purpose"] = purpose
    response = await http.post("/graphql", content=json.dumps({"query": query, "variables": variables or {}}),
                               headers={**headers, "content-type": "application/json"})  # fmt: skip
    return response.status_code, response.json()
