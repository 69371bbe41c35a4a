"""The app factory through HTTP: probes, metrics, GraphiQL, lifespan hooks, and a tiny federation subgraph that
is asked with a valid token, without one, with a bad one, and with a purpose header."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from fastapi import FastAPI

from demimas_common.app import create_app
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.graphql.context import RequestContext, context_getter_factory
from demimas_common.graphql.schema import build_schema
from demimas_common.logs import _DemimasHandler
from demimas_common.service import ServiceSpec
from demimas_common.settings import CommonSettings, Environment

SPEC = ServiceSpec(name="tiny", port=0, app_factory="tests:app", migrations=Path("."))
ISS = "https://auth.test"


@strawberry.federation.type(keys=["code"])
class Village:
    code: strawberry.ID
    loads: int = 0


@strawberry.type
class Query:
    @strawberry.field
    def whoami(self, info: strawberry.Info[RequestContext, None]) -> str | None:
        principal = info.context.require_principal()
        return f"{principal.agency.value} {principal.purpose or '-'} {info.context.traceparent is not None}"

    @strawberry.field
    def village(self, info: strawberry.Info[RequestContext, None]) -> Village:
        info.context.require_principal()
        first = info.context.loader("villages", lambda: Village(code=strawberry.ID("16.06.13.2001")))
        first.loads += 1
        return info.context.loader("villages", lambda: Village(code=strawberry.ID("never made")))


schema = build_schema(query=Query, types=[Village])


@pytest.fixture(autouse=True)
def no_leftover_log_handler() -> Iterator[None]:
    """`create_app` installs a stderr handler on the root logger; take it away with the test's stderr."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _DemimasHandler)]:
        root.removeHandler(handler)


@pytest.fixture
def keys(tmp_path: Path) -> DevKeys:
    return ensure_dev_keys(tmp_path / "keys")


def build(keys: DevKeys, environment: Environment = Environment.DEVELOPMENT, **kwargs: Any) -> FastAPI:
    settings = CommonSettings(
        environment=environment,
        jwt_issuer=ISS,
        jwks_path=keys.jwks_path,
        database_url="postgresql://unused@/x",
        nats_url="nats://unused:4222",
    )
    context_getter = context_getter_factory(TokenVerifier(settings))
    return create_app(spec=SPEC, settings=settings, schema=schema, context_getter=context_getter, **kwargs)


@asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tiny") as http:
        yield http


def token(keys: DevKeys, **kwargs: Any) -> str:
    return mint_token(keys, issuer=ISS, audience="demimas", **{"agency": Agency.KP2MI} | kwargs)


async def ask(app: FastAPI, query: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    async with client(app) as http:
        response = await http.post("/graphql", json={"query": query}, headers=headers or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestProbes:
    async def test_healthz(self, keys: DevKeys) -> None:
        async with client(build(keys)) as http:
            response = await http.get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "ok"})

    async def test_readyz_passes_when_every_check_does(self, keys: DevKeys) -> None:
        async def database() -> None:
            return None

        async with client(build(keys, readiness=[database])) as http:
            response = await http.get("/readyz")
        assert (response.status_code, response.json()) == (200, {"status": "ready"})

    async def test_readyz_names_the_failing_and_the_slow(self, keys: DevKeys) -> None:
        async def database() -> None:
            return None

        async def nats() -> None:
            raise ConnectionRefusedError("nats://10.0.0.5:4222")

        async def audit() -> None:
            await asyncio.sleep(5)

        app = build(keys, readiness=[database, nats, audit], readiness_timeout=0.05)
        async with client(app) as http:
            response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "failing": ["nats", "audit"]}

    async def test_metrics_count_by_route_template(self, keys: DevKeys) -> None:
        async with client(build(keys)) as http:
            await http.get("/healthz")
            await http.get("/no/such/path/3201014508950001")
            await http.post("/graphql", json={"query": "{ __typename }"})
            text = (await http.get("/metrics")).text
        assert 'demimas_http_requests_total{method="GET",route="/healthz",service="tiny",status="200"}' in text
        assert 'route="/graphql",service="tiny",status="200"' in text
        assert 'route="unmatched",service="tiny",status="404"' in text
        assert "3201014508950001" not in text


class TestGraphQL:
    async def test_with_a_valid_token(self, keys: DevKeys) -> None:
        body = await ask(build(keys), "{ whoami }", {"Authorization": f"Bearer {token(keys)}"})
        assert body == {"data": {"whoami": "KP2MI - True"}}

    async def test_purpose_header(self, keys: DevKeys) -> None:
        headers = {"Authorization": f"Bearer {token(keys)}", "X-Demimas-Purpose": "protection_case"}
        body = await ask(build(keys), "{ whoami }", headers)
        assert body["data"] == {"whoami": "KP2MI PROTECTION_CASE True"}

    @pytest.mark.parametrize(
        ("headers", "code", "detail"),
        [
            ({}, "UNAUTHENTICATED", {"reason": "missing"}),
            ({"Authorization": "Basic a2V5"}, "UNAUTHENTICATED", {"reason": "scheme"}),
            ({"Authorization": "Bearer garbage"}, "UNAUTHENTICATED", {"reason": "malformed"}),
            ({"X-Demimas-Purpose": "CURIOSITY", "ok": ""}, "BAD_USER_INPUT", {"field": "X-Demimas-Purpose"}),
            ({"X-Demimas-Purpose": "AUDIT", "purpose": "STATISTICS"}, "FORBIDDEN", {}),
        ],
    )
    async def test_refused_callers_get_a_graphql_error_not_a_500(
        self, keys: DevKeys, headers: dict[str, str], code: str, detail: dict[str, str]
    ) -> None:
        if "ok" in headers or "purpose" in headers:
            purpose = headers.pop("purpose", None)
            headers.pop("ok", None)
            headers["Authorization"] = f"Bearer {token(keys, purpose=purpose)}"
        body = await ask(build(keys), "{ whoami }", headers)
        assert body["data"] == {"whoami": None}
        (error,) = body["errors"]
        assert error["extensions"] == {"code": code, **detail}
        assert error["path"] == ["whoami"]

    async def test_an_expired_token_says_so(self, keys: DevKeys) -> None:
        expired = token(keys, ttl=dt.timedelta(hours=-1))
        body = await ask(build(keys), "{ whoami }", {"Authorization": f"Bearer {expired}"})
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "expired"}
        assert error["message"].startswith("token expired at ")

    async def test_composition_queries_need_no_token(self, keys: DevKeys) -> None:
        body = await ask(build(keys), "{ __typename _service { sdl } }", {"Authorization": "Bearer garbage"})
        assert body["data"]["__typename"] == "Query"
        assert 'type Village @key(fields: "code")' in body["data"]["_service"]["sdl"]

    async def test_loaders_live_for_one_request(self, keys: DevKeys) -> None:
        app = build(keys)
        headers = {"Authorization": f"Bearer {token(keys)}"}
        query = "{ a: village { code loads } b: village { loads } }"
        # Both fields got the one object the first `loader` call made (the second factory never ran).
        assert (await ask(app, query, headers))["data"] == {
            "a": {"code": "16.06.13.2001", "loads": 1},
            "b": {"loads": 2},
        }
        assert (await ask(app, "{ village { loads } }", headers))["data"] == {"village": {"loads": 1}}


class TestServing:
    async def test_graphiql_in_development_only(self, keys: DevKeys) -> None:
        html = {"Accept": "text/html"}
        async with client(build(keys)) as http:
            assert "graphiql" in (await http.get("/graphql", headers=html)).text.lower()
        async with client(build(keys, Environment.PRODUCTION)) as http:
            response = await http.get("/graphql", headers=html)
            assert response.status_code == 404
            assert (await http.get("/docs")).status_code == 404

    async def test_lifespan_hooks_start_in_order_and_stop_in_reverse(self, keys: DevKeys) -> None:
        events: list[str] = []

        def hook(name: str) -> Any:
            @asynccontextmanager
            async def run() -> AsyncIterator[None]:
                events.append(f"start {name}")
                try:
                    yield
                finally:
                    events.append(f"stop {name}")

            return run

        app = build(keys, lifespan_hooks=[hook("relay"), hook("consumer")])
        async with app.router.lifespan_context(app):
            events.append("serving")
        assert events == ["start relay", "start consumer", "serving", "stop consumer", "stop relay"]
