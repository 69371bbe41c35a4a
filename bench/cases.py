"""Cases benchmark (`make bench-cases`, or `python -m bench.cases` from the repository root).

On a throw-away durable embedded PostgreSQL (fsync on) and NATS, with the cases service running as in `make run`
(its own process, real HTTP, its periodic jobs and outbox relay on):
- N = 1,000,000 cases (`BENCH_CASES`, e.g. 100000 for a quick run) over every village, weighted as the scale
  simulation weighs workers, copied into the cases tables (bench/cases_data.py: statuses, clocks, referrals);
- `cases_list_p50_ms`: `cases(filter: {regionPrefix, status}, first: 50)` straight from the cases subgraph over HTTP
  (goal < 20 ms), for several series: KP2MI (national) on the busiest province and on a busy regency, BP3MI
  (regional, the province's office) on the regency, KemenPPPA (the cases referred to it) on the province; each
  without and with `totalCount`. `cases_list_repository_p50_ms` is the floor: the repository's calls alone
  (`CaseRepository.page_rows`, the page's one statement, and `count` for the totalCount series) in-process on
  the same database (the selection, the columns a list shows, needs no content, people or referrals);
  `cases_list_ratio` the HTTP p50 over the floor's, for the headline series.
- `cases_overdue_sweep_s`: ~1% of the cases get an overdue item not yet escalated (`reset_overdue`: triage,
  resolution and referral answers, a third each), then one run of the service's sweep (`escalation.sweep`: find
  the items with the columns their events name, write `demimas.cases.case.overdue` to the outbox, mark them
  escalated, in batches) is timed in-process against the same database with the service's runtime role
  (goal < 5 s), with items per second.
Sequential requests: 30 untimed of every series first (the service has just started), then per series 30
warm-up and 200 timed; figures to bench/results/cases.json
(`BENCH_CASES_OUT` names another file, e.g. cases-before-fix.json).
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

from bench.cases_data import case_rows, load_rows, reset_overdue
from bench.harness import RESULTS, env_int, graphql, now, p50_p95_ms, print_summary, timed, timed_async, write_results
from demimas_cases.adapters.cases import CaseFilter, CaseRepository
from demimas_cases.domain.vocabulary import CaseStatus
from demimas_cases.service_layer.escalation import sweep
from demimas_cases.service_layer.rules import CaseRules
from demimas_common.auth.keys import ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.supervisor import Stack
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.service import discover_services

WARMUP, TIMED = 30, 200
PAGE = 50
OVERDUE_SHARE = 0.01
SWEEP_GOAL_S, LIST_GOAL_MS = 5, 20
FIELDS = (
    "edges { cursor node { id kind phase status villageCode ownerAgency openedAt overdue } }"
    " pageInfo { hasNextPage endCursor }"
)
LIST = "query($f: CaseFilterInput) { cases(filter: $f, first: " + str(PAGE) + ") { " + FIELDS + " } }"
LIST_COUNT = "query($f: CaseFilterInput) { cases(filter: $f, first: " + str(PAGE) + ") { totalCount " + FIELDS + " } }"


def _busiest(rows: list[tuple[Any, ...]], width: int, inside: str = "") -> str:
    counts: dict[str, int] = {}
    for row in rows:
        code: str = row[1]
        if code.startswith(inside):
            counts[code[:width]] = counts.get(code[:width], 0) + 1
    return max(counts, key=lambda c: counts[c])


async def _prepare(stack: Stack, n: int) -> tuple[str, str]:
    spec = next(s for s in discover_services() if s.name == "cases")
    nc = await connect(stack.nats_url, name="bench-cases", reconnect=False)
    await ensure_stream(nc.jetstream())
    await nc.close()
    await migrate_service(stack.database_url, spec)
    started = time.perf_counter()
    rows = case_rows(random.Random(2026), n, dt.datetime.now(dt.UTC))
    print(f"generated {n} cases in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    await load_rows(stack.database_url, rows)
    print(f"loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    province = _busiest(rows["cases"], 2)
    regency = _busiest(rows["cases"], 5, province + ".")
    return province, regency


def _token(stack: Stack, keys: Any, agency: Agency, region: str | None = None) -> str:
    s = stack.settings
    return mint_token(keys, issuer=s.jwt_issuer, audience=s.jwt_audience, agency=agency, region=region)


def _principal(agency: Agency, region: str | None = None) -> Principal:
    return Principal(sub="bench", agency=agency, scopes=frozenset({"case:read"}), region=region)


def _caller(client: httpx.Client, query: str, variables: dict[str, Any]) -> Callable[[], object]:
    return lambda: graphql(client, query, variables)


async def _floor(url: str, principal: Principal, f: CaseFilter, count: bool) -> list[float]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            repository = CaseRepository(conn)

            async def once() -> None:
                at = dt.datetime.now(dt.UTC)
                await repository.page_rows(principal, f, now=at, first=PAGE, after=None)
                if count:
                    await repository.count(principal, f, now=at)

            return await timed_async(once, warmup=WARMUP, times=TIMED)
    finally:
        await engine.dispose()


async def _sweep(url: str) -> int:
    engine = create_engine(url, pool_size=2)
    try:
        return await sweep(engine, CaseRules())
    finally:
        await engine.dispose()


def main() -> int:
    n = env_int("BENCH_CASES", 1_000_000)
    out = os.environ.get("BENCH_CASES_OUT", "cases.json")
    work = Path(tempfile.mkdtemp(prefix="demimas-bench-cases-"))
    os.environ["DEMIMAS_LOG_LEVEL"] = "WARNING"
    os.environ["DEMIMAS_CASE_SWEEP_SECONDS"] = (
        "3600"  # the service's own sweep runs at start, then not before we time one
    )
    stack = Stack(root=work)
    figures: dict[str, Any] = {"cases": n, "page": PAGE}
    try:
        stack.start_servers()
        stack.write_env()
        province, regency = asyncio.run(_prepare(stack, n))
        spec = next(s for s in discover_services() if s.name == "cases")
        stack.start_services([spec])
        stack.wait_ready()
        keys = ensure_dev_keys(work / "keys")
        national = (Agency.KP2MI, None, _principal(Agency.KP2MI))
        regional = (Agency.BP3MI, province, _principal(Agency.BP3MI, province))
        receiver = (Agency.KEMENPPPA, None, _principal(Agency.KEMENPPPA))
        series = [  # name, who, filter
            ("kp2mi_province_in_progress", national, (province, CaseStatus.IN_PROGRESS)),
            ("kp2mi_regency_open", national, (regency, CaseStatus.OPEN)),
            ("bp3mi_regency_referred", regional, (regency, CaseStatus.REFERRED)),
            ("bp3mi_province_closed", regional, (province, CaseStatus.CLOSED)),
            ("kemenpppa_province_in_progress", receiver, (province, CaseStatus.IN_PROGRESS)),
        ]
        runtime = with_user(stack.database_url, runtime_role("cases"))
        results: dict[str, Any] = {}
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.ports['cases']}", timeout=60) as client:
            for _, (agency, region, _), (prefix, status) in series:  # a service just started: warm every series
                client.headers["authorization"] = f"Bearer {_token(stack, keys, agency, region)}"
                for query in (LIST, LIST_COUNT):
                    variables = {"f": {"regionPrefix": prefix, "status": status.value}}
                    timed(_caller(client, query, variables), warmup=WARMUP, times=0)
            for name, (agency, region, principal), (prefix, status) in series:
                client.headers["authorization"] = f"Bearer {_token(stack, keys, agency, region)}"
                variables = {"f": {"regionPrefix": prefix, "status": status.value}}
                f = CaseFilter(status=status, region_prefix=prefix)
                entry: dict[str, Any] = {"agency": agency.value, "token_region": region, "regionPrefix": prefix,
                                         "status": status.value}  # fmt: skip
                for label, query, count in (("", LIST, False), ("_total_count", LIST_COUNT, True)):
                    answer = graphql(client, query, variables)
                    if count:
                        entry["total_count"] = answer["data"]["cases"]["totalCount"]
                    samples = timed(_caller(client, query, variables), warmup=WARMUP, times=TIMED)
                    entry[f"p50_ms{label}"], entry[f"p95_ms{label}"] = p50_p95_ms(samples)
                    floor = asyncio.run(_floor(runtime, principal, f, count))
                    entry[f"repository_p50_ms{label}"], entry[f"repository_p95_ms{label}"] = p50_p95_ms(floor)
                print(f"{name}: {entry}", file=sys.stderr)
                results[name] = entry
        head = results["kp2mi_province_in_progress"]
        figures["province"], figures["regency"] = province, regency
        figures["cases_list_p50_ms"], figures["cases_list_p95_ms"] = head["p50_ms"], head["p95_ms"]
        figures["cases_list_total_count_p50_ms"] = head["p50_ms_total_count"]
        figures["cases_list_total_count_p95_ms"] = head["p95_ms_total_count"]
        figures["cases_list_repository_p50_ms"] = head["repository_p50_ms"]
        figures["cases_list_ratio"] = round(head["p50_ms"] / head["repository_p50_ms"], 2)
        figures["cases_list_worst_p50_ms"] = max(max(e["p50_ms"], e["p50_ms_total_count"]) for e in results.values())
        figures["cases_list_worst_p95_ms"] = max(max(e["p95_ms"], e["p95_ms_total_count"]) for e in results.values())
        figures["cases_list_goal_ms"] = LIST_GOAL_MS
        items = asyncio.run(reset_overdue(stack.database_url, OVERDUE_SHARE, 2026))
        started = time.perf_counter()
        escalated = asyncio.run(_sweep(runtime))
        elapsed = time.perf_counter() - started
        figures["overdue_items"] = items
        figures["overdue_escalated"] = escalated
        figures["cases_overdue_sweep_s"] = round(elapsed, 2)
        figures["cases_overdue_sweep_items_per_s"] = round(escalated / elapsed) if elapsed else None
        figures["cases_overdue_sweep_goal_s"] = SWEEP_GOAL_S
        figures["series"] = results
        figures["date"] = now()
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    write_results(RESULTS / out, figures)
    print_summary(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
