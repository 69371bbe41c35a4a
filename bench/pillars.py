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
rate limits switched off explicitly (`bench.gateway.NO_RATE_LIMITS`): one agency's back-to-back requests go faster
than the default 50/s, and the figures are about speed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.gateway import NO_RATE_LIMITS
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
from demimas_pillars.adapters.progress import rebuild_rollups
from demimas_pillars.domain.vocabulary import OUTPUTS, ServicePillar
from demimas_registry.adapters.villages import iter_villages, load_villages

RESULTS = Path(__file__).parent / "results" / "pillars.json"
WARMUP, TIMED = 30, 200
VILLAGES, PILOTS = 1000, 1000
PILLARS = list(ServicePillar)
# who records each pillar in the generated data, in ServicePillar's order
AGENCIES = dict(
    zip(PILLARS, ["BP3MI", "KP2MI", "BNN", "KEMENIMIPAS", "KP2MI", "KEMENDES", "KP2MI", "KEMENPPPA", "KP2MI", "BP3MI"],
        strict=True)
)  # fmt: skip
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


def _scale() -> float:
    return float(os.environ.get("BENCH_SCALE", "1"))


def _villages(rng: random.Random) -> list[str]:
    desa = [str(row[0]) for row in iter_villages() if row[0] and row[0][9] == "2"]
    return sorted(rng.sample(desa, VILLAGES))


def _activity_rows(rng: random.Random, villages: list[str], n: int, today: dt.date) -> dict[str, list[tuple[Any, ...]]]:
    """Skewed over villages (a few busy ones), dates over three years."""
    weights = [1 / (i + 1) ** 0.6 for i in range(len(villages))]
    chosen = rng.choices(villages, weights=weights, k=n)
    pool = {v: [uuid.uuid4() for _ in range(200)] for v in villages}
    now = dt.datetime.now(dt.UTC)
    rows: dict[str, list[tuple[Any, ...]]] = {"activities": [], "outputs": [], "participants": [], "anonymous": []}
    for village in chosen:
        aid, pillar = uuid.uuid4(), rng.choice(PILLARS)
        day = today - dt.timedelta(days=rng.randrange(3 * 365))
        people = rng.sample(pool[village], rng.choice((0, 0, 1, 2, 3)))
        anonymous = rng.randrange(5, 60) if rng.random() < 0.6 else 0
        rows["activities"].append((aid, village, pillar.value, "Kegiatan pilar", None, day, AGENCIES[pillar], None,
                                   "bench", now, len(people) + anonymous, anonymous))  # fmt: skip
        for kind in rng.sample(sorted(OUTPUTS[pillar]), rng.choice((1, 2))):
            rows["outputs"].append((aid, kind.value, rng.randrange(1, 40), village, pillar.value, day))
        for person in people:
            rows["participants"].append((aid, person, "WORKER", village, pillar.value, day))
        if anonymous:
            rows["anonymous"].append((aid, "FEMALE", "COMMUNITY", anonymous))
    return rows


def _pilot_rows(rng: random.Random, villages: list[str], activities: list[tuple[Any, ...]],
                today: dt.date) -> dict[str, list[tuple[Any, ...]]]:  # fmt: skip
    by_village: dict[str, list[uuid.UUID]] = {}
    for row in activities:
        by_village.setdefault(row[1], []).append(row[0])
    partners_all = [("KEMENPPPA", "DRPPA"), ("BNN", "DESA_BERSINAR"), ("KEMENDES", "BUMDES"),
                    ("KEMENIMIPAS", "DESA_BINAAN_IMIGRASI")]  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    rows: dict[str, list[tuple[Any, ...]]] = {"pilots": [], "partners": [], "milestones": [], "links": [],
                                              "designations": [], "transitions": [], "portfolios": []}  # fmt: skip
    for village in villages[:PILOTS]:
        pid, start = uuid.uuid4(), today - dt.timedelta(days=rng.randrange(30, 400))
        rows["pilots"].append((pid, village, "Pilot Demimas terpadu", "KEMENKO_POLKAM", "ACTIVE", None, start, now,
                               "bench"))  # fmt: skip
        for agency, programme in rng.sample(partners_all, rng.randrange(2, 5)):
            rows["partners"].append((pid, agency, programme, "Komitmen mitra"))
        for seq, days in enumerate((20, 120, 365), start=1):
            due = start + dt.timedelta(days=days)
            done = due - dt.timedelta(days=3) if due < today and rng.random() < 0.7 else None
            rows["milestones"].append((uuid.uuid4(), pid, seq, f"Tahap {seq}", due, "KEMENKO_POLKAM", done,
                                       "KEMENKO_POLKAM" if done else None))  # fmt: skip
        for aid in by_village.get(village, [])[:2]:
            rows["links"].append((pid, aid))
        did = uuid.uuid4()
        rows["designations"].append((did, village, "SK 12/2026", dt.date(2026, 1, 15), "DEMIMAS", None, "ACTIVE", 1))
        rows["transitions"].append((did, 0, "ACTIVE", now, "KP2MI", "bench", None))
        rows["portfolios"].append((village, did, "OPEN", now, now))
    return rows


async def _load(admin: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    import asyncpg

    targets = {
        "activities": ("pillars", "activities"), "outputs": ("pillars", "activity_outputs"),
        "participants": ("pillars", "activity_participants"), "anonymous": ("pillars", "activity_anonymous"),
        "pilots": ("pillars", "pilots"), "partners": ("pillars", "pilot_partners"),
        "milestones": ("pillars", "milestones"), "links": ("pillars", "pilot_activities"),
        "portfolios": ("pillars", "portfolios"), "designations": ("designation", "designations"),
        "transitions": ("designation", "designation_transitions"),
    }  # fmt: skip
    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        for key, (schema, table) in targets.items():
            await conn.copy_records_to_table(table, schema_name=schema, records=rows[key])
    finally:
        await conn.close()
    engine = create_engine(admin, pool_size=1)  # the COPY bypassed ActivityRepository.add: roll the activities up
    async with engine.begin() as sa_conn:
        await rebuild_rollups(sa_conn)
    await engine.dispose()
    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        rollups = [("pillars", "activity_daily"), ("pillars", "output_daily"), ("pillars", "participant_last")]
        for schema, table in [*{*targets.values()}, *rollups]:
            await conn.execute(f"VACUUM ANALYZE {schema}.{table}")
    finally:
        await conn.close()


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
    rows = _activity_rows(rng, villages, n, today)
    rows |= _pilot_rows(rng, villages, rows["activities"], today)
    print(f"generated {n} activities in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    await _load(stack.database_url, rows)
    print(f"loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    counts: dict[str, int] = {}
    for row in rows["activities"]:
        if row[5] > today - dt.timedelta(days=365):
            counts[row[1]] = counts.get(row[1], 0) + 1
    busiest = max(counts, key=lambda v: counts[v])
    print(f"busiest village {busiest}: {counts[busiest]} activities in the window", file=sys.stderr)
    return busiest, today


def _stats(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return round(statistics.median(samples) * 1000, 2), round(cuts[94] * 1000, 2)


def _timed(call: Callable[[], object]) -> list[float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(TIMED):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _caller(client: httpx.Client, query: str, variables: dict[str, Any]) -> Callable[[], object]:
    def call() -> object:
        response = client.post("/graphql", content=orjson.dumps({"query": query, "variables": variables}),
                               headers={"content-type": "application/json"})  # fmt: skip
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"GraphQL call failed ({response.status_code}): {str(body)[:400]}")
        return body

    return call


async def _sql_floor(admin: str, village: str, today: dt.date) -> list[float]:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        statements = [await conn.prepare(s) for s in SQL]
        window = (village, today - dt.timedelta(days=364), today)
        for _ in range(WARMUP):
            for s in statements:
                await s.fetch(*window)
        samples = []
        for _ in range(TIMED):
            started = time.perf_counter()
            for s in statements:
                await s.fetch(*window)
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        await conn.close()


def main() -> int:
    n = int(1_000_000 * _scale())
    work = Path(tempfile.mkdtemp(prefix="demimas-bench-pillars-"))
    os.environ["DEMIMAS_LOG_LEVEL"] = "WARNING"
    os.environ.update(NO_RATE_LIMITS)  # the gateway Stack starts: see the docstring
    os.environ["DEMIMAS_AUDIT_SIGNING_KEY"] = str(work / "keys" / "audit-signing.pem")
    stack = Stack(root=work)
    figures: dict[str, Any] = {"bench_scale": _scale(), "activities": n, "pilots": PILOTS}
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
            direct = _timed(_caller(pillars, DIRECT, reps))
            pillars.headers["authorization"] = f"Bearer {regional}"
            direct_regional = _timed(_caller(pillars, DIRECT, reps))  # the region rule at work (graphql/access.py)
            pillars.headers["authorization"] = f"Bearer {token}"
            through = _timed(_caller(gateway, THROUGH_GATEWAY, {"v": village}))
            tracker = _timed(_caller(gateway, TRACKER, {}))
        figures["progress_village"] = village
        figures["pillars_progress_p50_ms"], figures["pillars_progress_p95_ms"] = _stats(direct)
        figures["pillars_progress_goal_ms"] = 20
        figures["pillars_progress_regional_p50_ms"], _ = _stats(direct_regional)
        figures["pillars_progress_sql_p50_ms"], _ = _stats(floor)
        figures["pillars_progress_gateway_p50_ms"], figures["pillars_progress_gateway_p95_ms"] = _stats(through)
        figures["pilot_tracker_query_p50_ms"], figures["pilot_tracker_query_p95_ms"] = _stats(tracker)
        figures["pilot_tracker_page"] = 20
        figures["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
