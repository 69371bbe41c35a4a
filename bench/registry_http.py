"""Registry benchmarks over HTTP: a real registry service (uvicorn subprocess) on the benchmark's database, queried
with a keep-alive client, against an in-process asyncpg + orjson floor for the same rows."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.harness import Processes, graphql, p50_p95_ms, timed, timed_async
from demimas_common.db.urls import asyncpg_dsn
from demimas_common.devstack.nats import EmbeddedNats
from demimas_common.devstack.ports import free_port

__all__ = ["http_figures"]

WARMUP, TIMED = 50, 300
ISSUER, AUDIENCE = "https://auth.bench.demimas", "demimas"
STATS_QUERY = """query($v: String!) { village(code: $v) { name migrantStats {
  total abroad byDestination { country count } proceduralShare } } }"""
PAGE_QUERY = """query($v: String!) { workers(filter: {villageCode: $v}, first: 100) {
  edges { node { id fullName sex status village { code } } } } }"""
FLOOR_SQL = """SELECT id, full_name, sex, status, village_code FROM registry.workers
  WHERE village_code = $1 ORDER BY id LIMIT 100"""


@contextmanager
def _registry_service(runtime_url: str, nats_url: str, work: Path) -> Iterator[tuple[str, str]]:
    """Start `demimas_registry.app` under uvicorn; yields (base URL, a KP2MI token)."""
    from demimas_common.auth.keys import ensure_dev_keys, mint_token
    from demimas_common.auth.principal import Agency

    keys = ensure_dev_keys(work / "keys")
    token = mint_token(keys, issuer=ISSUER, audience=AUDIENCE, agency=Agency.KP2MI)
    port = free_port()
    env = os.environ | {
        "DEMIMAS_DATABASE_URL": runtime_url,
        "DEMIMAS_NATS_URL": nats_url,
        "DEMIMAS_JWKS_PATH": str(keys.jwks_path),
        "DEMIMAS_JWT_ISSUER": ISSUER,
        "DEMIMAS_JWT_AUDIENCE": AUDIENCE,
        "DEMIMAS_LOG_LEVEL": "WARNING",
    }
    base = f"http://127.0.0.1:{port}"
    with Processes(work) as procs:
        process = procs.start(
            "registry",
            [sys.executable, "-m", "uvicorn", "--factory", "demimas_registry.app:create_app", "--port", str(port),
             "--log-level", "warning", "--no-access-log"],
            env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the registry service exited at start; see {work / 'registry.log'}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the registry service was not ready after 60 s")
            time.sleep(0.2)
        yield base, token


def _graphql(client: httpx.Client, query: str, village: str) -> Callable[[], dict[str, Any]]:
    return lambda: graphql(client, query, {"v": village})


async def _floor(runtime_url: str, village: str) -> list[float]:
    """The same 100 rows with asyncpg, shaped like the GraphQL response and serialised with orjson."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(runtime_url))
    try:
        statement = await conn.prepare(FLOOR_SQL)

        async def once() -> bytes:
            rows = await statement.fetch(village)
            edges = [
                {"node": {"id": str(r[0]), "fullName": r[1], "sex": r[2], "status": r[3], "village": {"code": r[4]}}}
                for r in rows
            ]
            return orjson.dumps({"data": {"workers": {"edges": edges}}})

        return await timed_async(once, warmup=WARMUP, times=TIMED)
    finally:
        await conn.close()


async def _busiest_village(runtime_url: str) -> tuple[str, int]:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(runtime_url))
    try:
        row = await conn.fetchrow(
            "SELECT village_code, count(*) FROM registry.workers GROUP BY village_code ORDER BY 2 DESC LIMIT 1"
        )
        assert row is not None, "no workers loaded"
        return str(row[0]), int(row[1])
    finally:
        await conn.close()


async def _clear_outbox(admin_url: str) -> None:
    """The import's events are counted already; left unpublished, the service's relay would spend the measured
    minutes pushing millions of them to NATS, which is load no production query would see at once."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await conn.execute("TRUNCATE registry.outbox")
    finally:
        await conn.close()


def http_figures(admin_url: str, runtime_url: str, work: Path) -> dict[str, float | int]:
    asyncio.run(_clear_outbox(admin_url))
    village, workers_in_village = asyncio.run(_busiest_village(runtime_url))
    nats = EmbeddedNats(work / "nats")
    nats.start()
    try:
        with (
            _registry_service(runtime_url, nats.url, work) as (base, token),
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client,
        ):
            stats = timed(_graphql(client, STATS_QUERY, village), warmup=WARMUP, times=TIMED)
            page_call = _graphql(client, PAGE_QUERY, village)
            edges = len(page_call()["data"]["workers"]["edges"])
            page = timed(page_call, warmup=WARMUP, times=TIMED)
    finally:
        nats.stop()
    floor = asyncio.run(_floor(runtime_url, village))
    stats_p50, stats_p95 = p50_p95_ms(stats, digits=3)
    page_p50, page_p95 = p50_p95_ms(page, digits=3)
    floor_p50, floor_p95 = p50_p95_ms(floor, digits=3)
    return {
        "registry_migrant_stats_p50_ms": stats_p50,
        "registry_migrant_stats_p95_ms": stats_p95,
        "registry_workers_page_vs_floor_ratio": round(page_p50 / floor_p50, 3),
        "registry_workers_page_p50_ms": page_p50,
        "registry_workers_page_p95_ms": page_p95,
        "registry_workers_page_floor_p50_ms": floor_p50,
        "registry_workers_page_floor_p95_ms": floor_p95,
        "registry_workers_page_edges": edges,
        "registry_bench_village_workers": workers_in_village,
    }
