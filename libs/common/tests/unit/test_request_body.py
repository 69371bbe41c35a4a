"""The strict front door of every subgraph (`request_body`, `router`): bodies strawberry used to answer with a 500
are refused with HTTP 400 and a GraphQL-shaped JSON error with a code, through the app factory's real router."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import strawberry
from fastapi import FastAPI

from demimas_common.app import create_app
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.keys import ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.graphql.context import context_getter_factory
from demimas_common.graphql.request_body import MAX_JSON_DEPTH, RequestRefused, decode_json, decode_request
from demimas_common.graphql.schema import build_schema
from demimas_common.logs import _DemimasHandler
from demimas_common.service import ServiceSpec
from demimas_common.settings import CommonSettings, Environment


@strawberry.type
class Query:
    @strawberry.field
    def echo(self, text: str | None = None) -> str | None:
        return text


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


JSON = {"content-type": "application/json"}


@pytest.fixture(autouse=True)
def no_leftover_log_handler() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _DemimasHandler)]:
        root.removeHandler(handler)


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    keys = ensure_dev_keys(tmp_path / "keys")
    settings = CommonSettings(
        environment=Environment.TEST,
        jwks_path=keys.jwks_path,
        database_url="postgresql://unused@/x",
        nats_url="nats://unused:4222",
    )
    app: FastAPI = create_app(
        spec=ServiceSpec(name="tiny", port=0, app_factory="tests:app", migrations=Path(".")),
        settings=settings,
        schema=build_schema(query=Query),
        context_getter=context_getter_factory(TokenVerifier(settings)),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tiny") as client:
        yield client


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b"null", "BAD_REQUEST", "not null"),
        (b'"{ echo }"', "BAD_REQUEST", "not a string"),
        (b"42", "BAD_REQUEST", "not a number"),
        (b"true", "BAD_REQUEST", "not a boolean"),
        (b'[{"query": "{ echo }"}]', "BATCHING_NOT_SUPPORTED", "one operation per request"),
        (b'{"query": "{ echo(text: \\"\xff\\") }"}', "BAD_REQUEST", "not valid JSON in UTF-8"),
        (b"\xfe\xff", "BAD_REQUEST", "not valid JSON in UTF-8"),
        (b'{"query": "{ echo }", "variables": {"t": "\\ud800"}}', "BAD_REQUEST", "surrogate"),
        (nested(10_000), "BAD_REQUEST", "not valid JSON"),
        (b'{"query": "{ echo }", "variables": {"t": ' + nested(MAX_JSON_DEPTH) + b"}}", "BAD_REQUEST", "deeper"),
        (b"{", "BAD_REQUEST", "not valid JSON"),
        (b'{"query": 5}', "BAD_REQUEST", "`query` must be a string"),
        (b'{"query": "{ echo }", "variables": "x"}', "BAD_REQUEST", "`variables` must be an object"),
        (b"{}", "BAD_REQUEST", "No GraphQL query"),
    ],
)
async def test_bodies_refused_with_a_code(http: httpx.AsyncClient, body: bytes, code: str, says: str) -> None:
    response = await http.post("/graphql", content=body, headers=JSON)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": code}
    assert says in error["message"]


async def test_a_body_just_within_the_depth_bound_is_served(http: httpx.AsyncClient) -> None:
    variables = b'{"t": ' + nested(MAX_JSON_DEPTH - 3) + b"}"  # the body object, variables, t: three levels
    body = b'{"query": "query($t: String) { echo(text: $t) }", "variables": ' + variables + b"}"
    response = await http.post("/graphql", content=body, headers=JSON)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # a list is no String


async def test_a_plain_request_still_works(http: httpx.AsyncClient, tmp_path: Path) -> None:
    query = {"query": "query($t: String) { echo(text: $t) }", "variables": {"t": "Desa Migran EMAS ü"}}
    keys = ensure_dev_keys(tmp_path / "keys")  # the fixture's keys: the same folder
    defaults = CommonSettings(database_url="postgresql://unused@/x", nats_url="nats://unused:4222")
    token = mint_token(keys, issuer=defaults.jwt_issuer, audience=defaults.jwt_audience, agency=Agency.KP2MI)
    response = await http.post("/graphql", json=query, headers={"authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()) == (200, {"data": {"echo": "Desa Migran EMAS ü"}})


async def test_strawberrys_own_refusals_are_json_with_a_code(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", content=b"{ echo }", headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_get_parameters_are_read_strictly(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": "{ echo }", "variables": '{"t": "\\ud800"}'})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert "query parameter" in error["message"]


def test_decode_json_bounds_depth_without_recursing() -> None:
    assert decode_json(nested(MAX_JSON_DEPTH)) == decode_json(nested(MAX_JSON_DEPTH))
    with pytest.raises(RequestRefused, match="deeper than 64"):
        decode_json(nested(MAX_JSON_DEPTH + 1))
    wide = b"[" + b",".join([b'{"a": [1]}'] * 10_000) + b"]"
    assert len(decode_json(wide)) == 10_000


def test_decode_request_wants_one_object() -> None:
    assert decode_request(b'{"query": "{ a }"}') == {"query": "{ a }"}
    with pytest.raises(RequestRefused) as caught:
        decode_request(b"[]")
    assert (caught.value.status, caught.value.code) == (400, "BATCHING_NOT_SUPPORTED")
