"""Registry benchmarks (`make bench-registry`, or `python -m bench.registry` from the repository root).

On a throw-away, durable embedded PostgreSQL (production-like: fsync on):
1. bulk import of N generated rows (N = 1,000,000 x BENCH_SCALE) through the code of `demimas registry import`,
   against a bare binary COPY of the same rows, already parsed, into the same indexed tables (goal: ratio >= 0.5);
2. `Village.migrantStats` over HTTP with those workers loaded (goal: p50 < 20 ms);
3. one page of 100 workers of a village over HTTP, against the floor of fetching the same rows with asyncpg and
   serialising them with orjson in-process (goal: ratio <= 3).
Figures are printed as `name: value` lines and written to bench/results/registry.json (one flat object).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import RESULTS, ROOT, print_summary, scale, write_results
from bench.registry_http import http_figures
from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.migrate import upgrade
from demimas_common.db.provision import owner_role, provision_service, runtime_role
from demimas_common.db.urls import asyncpg_dsn, with_user
from demimas_common.devstack.postgres import EmbeddedPostgres
from demimas_registry.adapters.villages import load_villages
from demimas_registry.domain.factories import uuid7
from demimas_registry.importer.load import import_workers
from demimas_registry.importer.parse import ReadLimits, read_rows
from demimas_registry.synthetic import SyntheticWorkers, write_csv

MIGRATIONS = ROOT / "services/registry/src/demimas_registry/migrations"
BATCH_SIZE = 10_000
Figures = dict[str, float | int]


async def _prepare(admin_url: str) -> tuple[str, str]:
    """Provision and migrate the registry schema and load the village reference; returns (owner, runtime) URLs."""
    engine = create_engine(admin_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await provision_service(conn, "registry")
    finally:
        await engine.dispose()
    owner, runtime = with_user(admin_url, owner_role("registry")), with_user(admin_url, runtime_role("registry"))
    await upgrade(owner, schema="registry", script_location=MIGRATIONS)
    engine = create_engine(runtime, pool_size=1)
    try:
        async with engine.begin() as conn:
            await load_villages(conn)
    finally:
        await engine.dispose()
    return owner, runtime


def _parsed_tuples(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The file's rows as ready-to-COPY tuples (types converted, no validation, no events): the floor's input."""
    workers: list[tuple[Any, ...]] = []
    departures: list[tuple[Any, ...]] = []
    returns: list[tuple[Any, ...]] = []
    date = dt.date.fromisoformat
    with path.open(encoding="utf-8", newline="") as handle:
        for r in csv.DictReader(handle):
            wid, did = uuid7(), None
            status = r["status"]
            if status != "CANDIDATE":
                did = uuid7()
                departures.append((
                    did, wid, r["destination_country"], r["sector"], r["occupation"], r["scheme"],
                    r["procedural"] == "true", r["employer"] or None, date(r["departure_date"]),
                    date(r["contract_end"]) if r["contract_end"] else None, r.get("occupation_code") or None,
                ))  # fmt: skip
            if status == "RETURNED":
                returns.append((uuid7(), wid, did, date(r["return_date"]), r["return_reason"], None))
            version = {"CANDIDATE": 1, "ABROAD": 2, "RETURNED": 3}[status]
            workers.append((
                wid, r["nik"], r["full_name"], r["sex"], date(r["birth_date"]), r["education_level"],
                r["phone"] or None, r["address"] or None, r["passport_number"] or None, r["village_code"], status,
                version, [], did, "KP2MI",
            ))  # fmt: skip
    return workers, departures, returns


async def _bare_copy(runtime_url: str, path: Path) -> tuple[float, int]:
    """Seconds to COPY the parsed rows into workers, departures and returns in one transaction."""
    import asyncpg

    from demimas_registry.importer.prepare import DEPARTURE_COLUMNS, RETURN_COLUMNS, WORKER_COLUMNS

    workers, departures, returns = _parsed_tuples(path)
    conn = await asyncpg.connect(asyncpg_dsn(runtime_url))
    try:
        started = time.perf_counter()
        async with conn.transaction():
            for table, columns, records in (
                ("workers", WORKER_COLUMNS, workers),
                ("departures", DEPARTURE_COLUMNS, departures),
                ("returns", RETURN_COLUMNS, returns),
            ):
                await conn.copy_records_to_table(table, schema_name="registry", columns=columns, records=records)
        return time.perf_counter() - started, len(workers)
    finally:
        await conn.close()


async def _admin(admin_url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _import(runtime_url: str, path: Path) -> tuple[float, Any]:
    """The code path of `demimas registry import` (same reader, same import function, same batch size)."""
    principal = Principal(sub="cli:bench", agency=Agency.KP2MI, scopes=DEFAULT_GRANTS[Agency.KP2MI])
    engine = create_engine(runtime_url, pool_size=2)
    try:
        started = time.perf_counter()
        limits = ReadLimits(max_rows=max(ReadLimits().max_rows, int(1_000_000 * scale())))  # BENCH_SCALE > 1
        report = await import_workers(engine, read_rows(path, limits), principal=principal, batch_size=BATCH_SIZE)
        return time.perf_counter() - started, report
    finally:
        await engine.dispose()


async def _import_figures(pg: EmbeddedPostgres, work: Path, rows: int) -> tuple[Figures, str]:
    admin = pg.url()
    _, runtime = await _prepare(admin)
    path = work / "workers.csv"
    started = time.perf_counter()
    gen = SyntheticWorkers(seed=2026)
    write_csv(path, gen.rows(rows))
    print(f"generated {rows} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    await _admin(admin, "CHECKPOINT")
    copy_seconds, copied = await _bare_copy(runtime, path)
    await _admin(
        admin,
        "TRUNCATE registry.returns, registry.departures, registry.workers, registry.village_stats, "
        "registry.outbox, registry.family_members",
        "VACUUM ANALYZE registry.workers",
        "CHECKPOINT",
    )
    import_seconds, report = await _import(runtime, path)
    print(report.to_text().splitlines()[0], file=sys.stderr)
    if report.rejected or report.inserted != copied:
        raise SystemExit(f"import inserted {report.inserted} of {copied} rows; first errors: {report.rejected[:3]}")
    await _admin(admin, "ANALYZE registry.workers", "ANALYZE registry.village_stats")
    import_rate, copy_rate = rows / import_seconds, rows / copy_seconds
    figures: Figures = {
        "registry_import_rows_per_s": round(import_rate),
        "registry_copy_rows_per_s": round(copy_rate),
        "registry_import_vs_copy_ratio": round(import_rate / copy_rate, 3),
        "registry_import_rows": rows,
        "registry_import_seconds": round(import_seconds, 2),
        "registry_copy_seconds": round(copy_seconds, 2),
        "registry_import_events": report.events,
        "registry_import_batch_size": BATCH_SIZE,
    }
    return figures, runtime


def main() -> int:
    rows = int(1_000_000 * scale())
    work = Path(tempfile.mkdtemp(prefix="demimas-bench-registry-"))
    pg = EmbeddedPostgres(work / "pg", durable=True)
    figures: Figures = {"bench_scale": scale()}
    pg.start()
    try:
        imported, runtime = asyncio.run(_import_figures(pg, work, rows))
        figures |= imported
        write_results(RESULTS / "registry.json", figures)  # part 1 stands even if the HTTP parts cannot run
        try:
            figures |= http_figures(pg.url(), runtime, work)
        except Exception as exc:  # the registry app is optional here: report and keep part 1
            print(f"HTTP figures skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        write_results(RESULTS / "registry.json", figures)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    print_summary(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
