"""Pillars benchmark (`make bench-pillars`, or `python -m bench.pillars` from the repository root).

On a throw-away durable embedded PostgreSQL (fsync on) and NATS, with every service and the gateway running as in
`make run` (their own processes, real HTTP; the gateway is ready only when every subgraph answers):
- N = 1,000,000 x BENCH_SCALE activities over 1,000 real villages (three years of dates, 1-2 outputs each, registered
  participants drawn from a pool of people per village, anonymous counts), copied into the pillars tables;
  1,000 joint pilots (one per village, 2-4 partners, 3 milestones, 2 linked activities), each village designated;
  the progress rollups are then rebuilt from the activities (`rebuild_rollups`), as the migration backfills them;
- `pillars_progress_p50_ms`: `pillarProgress` of the busiest village straight from the pillars subgraph over HTTP
  (goal < 20 ms) with a national token and, as `pillars_progress_regional_p50_ms`, with a BP3MI token of the
  village's province (the subgraph's region rule checks the village), beside `pillars_progress_sql_p50_ms`, the
  same three aggregates over the rollups run in-process with asyncpg (the floor), and
  `pillars_progress_gateway_p50_ms`, `village(code) { name pillarProgress }` through the gateway;
- `pilot_tracker_query_p50_ms`: the tracker's joined query through the gateway, a page of 20 pilots, each with its
  village's name and migrant numbers (registry), designation (designation), pillar progress and milestones.
Sequential requests, 30 warm-up then 200 timed; figures to bench/results/pillars.json. The gateway runs with its
rate limits switched off explicitly (`bench.gateway_servers.NO_RATE_LIMITS`): one agency's back-to-back requests go
faster than the default 50/s, and the figures are about speed. The data: bench/pillars_data.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.gateway_servers import NO_RATE_LIMITS
from bench.harness import RESULTS, graphql, now, p50_p95_ms, print_summary, scale, timed, timed_async, write_results
from bench.pillars_data import PILOTS, activity_rows, load_rows, pilot_rows
from demimas_common.auth.keys import ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import asyncpg_dsn, with_user
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.supervisor import Stack
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.service import discover_services
from demimas_registry.adapters.villages import iter_villages, load_villages

WARMUP, TIMED = 30, 200
VILLAGES = 1000
PROGRESS = """pillarProgress { coverage pillarsServed windowFrom portfolio { status }
  pillars { pillar emasPillar activities peopleReached lastActivityOn outputs { kind value } } }"""
DIRECT = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Village { " + PROGRESS + " } } }"
THROUGH_GATEWAY = "query($v: String!) { village(code: $v) { name " + PROGRESS + " } }"
TRACKER = """query { pilotProjects(first: 20) { edges { node {
  title status coordinator partners { agency programme } milestones { title dueDate completedOn overdue }
  village { code name migrantStats { total abroad } designation { status decreeNumber }
            pillarProgress { coverage pillars { pillar activities peopleReached } } } } } } }"""
SQL = [  # what adapters/progress.py runs, for one village
    """SELECT pillar, sum(activities), sum(anonymous_reached), max(day) FROM pillars.activity_daily
       WHERE village_code = $1 AND day BETWEEN $2 AND $3 GROUP BY pillar""",
    """SELECT pillar, count(*) FROM pillars.participant_last
       WHERE village_code = $1 AND last_on BETWEEN $2 AND $3 GROUP BY pillar""",
    """SELECT pillar, kind, sum(value) FROM pillars.output_daily
       WHERE village_code = $1 AND day BETWEEN $2 AND $3 GROUP BY pillar, kind""",
]


def _villages(rng: random.Random) -> list[str]:
    desa = [str(row[0]) for row in iter_villages() if row[0] and row[0][9] == "2"]
    return sorted(rng.sample(desa, VILLAGES))


async def _prepare(stack: Stack, n: int) -> tuple[str, dt.date]:
    specs = [s for s in discover_services() if s.name in ("registry", "designation", "pillars", "audit")]
    nc = await connect(stack.nats_url, name="bench-pillars", reconnect=False)
    await ensure_stream(nc.jetstream())
    await nc.close()
    for spec in specs:
        await migrate_service(stack.database_url, spec)
    engine = create_engine(with_user(stack.database_url, runtime_role("registry")), pool_size=1)
    async with engine.begin() as conn:
        await load_villages(conn)
    await engine.dispose()
    rng, today = random.Random(2026), dt.date.today()
    started = time.perf_counter()
    villages = _villages(rng)
    rows = activity_rows(rng, villages, n, today)
    rows |= pilot_rows(rng, villages, rows["activities"], today)
    print(f"generated {n} activities in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    await load_rows(stack.database_url, rows)
    print(f"loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    counts: dict[str, int] = {}
    for row in rows["activities"]:
        if row[5] > today - dt.timedelta(days=365):
            counts[row[1]] = counts.get(row[1], 0) + 1
    busiest = max(counts, key=lambda v: counts[v])
    print(f"busiest village {busiest}: {counts[busiest]} activities in the window", file=sys.stderr)
    return busiest, today


def _caller(client: httpx.Client, query: str, variables: dict[str, Any]) -> Callable[[], object]:
    return lambda: graphql(client, query, variables)


async def _sql_floor(admin: str, village: str, today: dt.date) -> list[float]:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        statements = [await conn.prepare(s) for s in SQL]
        window = (village, today - dt.timedelta(days=364), today)

        async def once() -> None:
            for s in statements:
                await s.fetch(*window)

        return await timed_async(once, warmup=WARMUP, times=TIMED)
    finally:
        await conn.close()


def main() -> int:
    n = int(1_000_000 * scale())
    work = Path(tempfile.mkdtemp(prefix="demimas-bench-pillars-"))
    os.environ["DEMIMAS_LOG_LEVEL"] = "WARNING"
    os.environ.update(NO_RATE_LIMITS)  # the gateway Stack starts: see the docstring
    os.environ["DEMIMAS_AUDIT_SIGNING_KEY"] = str(work / "keys" / "audit-signing.pem")
    stack = Stack(root=work)
    figures: dict[str, Any] = {"bench_scale": scale(), "activities": n, "pilots": PILOTS}
    try:
        stack.start_servers()
        stack.write_env()
        village, today = asyncio.run(_prepare(stack, n))
        specs = [s for s in discover_services() if s.name in ("registry", "designation", "pillars", "audit")]
        stack.start_services(specs)
        stack.wait_ready()
        stack.start_gateway()
        stack.wait_ready()
        keys = ensure_dev_keys(work / "keys")
        token = mint_token(keys, issuer=stack.settings.jwt_issuer, audience=stack.settings.jwt_audience,
                           agency=Agency.KP2MI)  # fmt: skip
        headers = {"authorization": f"Bearer {token}"}
        regional = mint_token(keys, issuer=stack.settings.jwt_issuer, audience=stack.settings.jwt_audience,
                              agency=Agency.BP3MI, region=village[:2])  # fmt: skip
        floor = asyncio.run(_sql_floor(stack.database_url, village, today))
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{stack.ports['pillars']}", headers=headers) as pillars,
            httpx.Client(base_url=f"http://127.0.0.1:{stack.ports['gateway']}", headers=headers) as gateway,
        ):
            reps = {"r": [{"__typename": "Village", "code": village}]}
            direct = timed(_caller(pillars, DIRECT, reps), warmup=WARMUP, times=TIMED)
            pillars.headers["authorization"] = f"Bearer {regional}"
            direct_regional = timed(
                _caller(pillars, DIRECT, reps), warmup=WARMUP, times=TIMED
            )  # the region rule at work (graphql/access.py)
            pillars.headers["authorization"] = f"Bearer {token}"
            through = timed(_caller(gateway, THROUGH_GATEWAY, {"v": village}), warmup=WARMUP, times=TIMED)
            tracker = timed(_caller(gateway, TRACKER, {}), warmup=WARMUP, times=TIMED)
        figures["progress_village"] = village
        figures["pillars_progress_p50_ms"], figures["pillars_progress_p95_ms"] = p50_p95_ms(direct)
        figures["pillars_progress_goal_ms"] = 20
        figures["pillars_progress_regional_p50_ms"], _ = p50_p95_ms(direct_regional)
        figures["pillars_progress_sql_p50_ms"], _ = p50_p95_ms(floor)
        figures["pillars_progress_gateway_p50_ms"], figures["pillars_progress_gateway_p95_ms"] = p50_p95_ms(through)
        figures["pilot_tracker_query_p50_ms"], figures["pilot_tracker_query_p95_ms"] = p50_p95_ms(tracker)
        figures["pilot_tracker_page"] = 20
        figures["date"] = now()
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    write_results(RESULTS / "pillars.json", figures)
    print_summary(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
