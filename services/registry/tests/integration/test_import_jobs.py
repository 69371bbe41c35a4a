"""Import jobs on real PostgreSQL (importer/run.py): a job is RUNNING from the start with its rows read so far
written while the file imports, then SUCCEEDED with its report; a run cancelled as its process stops is written
INTERRUPTED and stores nothing; a RUNNING job whose heartbeat stopped (its process died) reads as INTERRUPTED."""

from __future__ import annotations

import asyncio
import csv
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_registry.importer.jobs import ImportJobRecord, load_job
from demimas_registry.importer.limits import ReadLimits
from demimas_registry.importer.parse import read_rows
from demimas_registry.importer.run import ImportRunner
from demimas_registry.importer.template import COLUMNS
from demimas_registry.synthetic import SyntheticWorkers

pytestmark = pytest.mark.integration
BP3MI = Principal("test", Agency.BP3MI, DEFAULT_GRANTS[Agency.BP3MI], region="16.06")
HELD_AFTER = 150
"""Rows the gated reader hands over before it waits to be released."""


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c.name for c in COLUMNS])
        writer.writeheader()
        writer.writerows(rows)
    return path


class GatedReader:
    """`read_rows` that stops after `HELD_AFTER` rows until `release` is set: a file caught mid-import."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.reached = threading.Event()

    def __call__(self, path: Path, limits: ReadLimits) -> Iterator[tuple[int, dict[str, str]]]:
        for count, row in enumerate(read_rows(path, limits), start=1):
            if count == HELD_AFTER + 1:
                self.reached.set()
                assert self.release.wait(30), "the test never released the reader"
            yield row


async def job_until(engine: Any, job_id: uuid.UUID, done: Any, seconds: float = 30) -> ImportJobRecord:
    """Poll the job as `importJob` reads it until `done(job)` holds."""
    for _ in range(int(seconds * 20)):
        job = await load_job(engine, job_id)
        assert job is not None
        if done(job):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"the job never got there: {job}")


@pytest.fixture
async def engine(registry_db: Any) -> Any:
    engine = create_engine(registry_db.runtime_url, pool_size=4)
    yield engine
    await engine.dispose()


async def workers_count(engine: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM registry.workers")))


def rows_of(seed: int, n: int) -> list[dict[str, str]]:
    gen = SyntheticWorkers(seed=seed)
    return [gen.row(village="16.06.13.2001") for _ in range(n)]


async def test_a_running_job_shows_its_rows_read_then_its_report(engine: Any, tmp_path: Path) -> None:
    rows = rows_of(2_007, 400)
    rows[300]["sex"] = "?"
    reader = GatedReader()
    runner = ImportRunner(engine, ReadLimits(), heartbeat_seconds=0.05, reader=reader)
    job_id = await runner.start(BP3MI)
    assert (await load_job(engine, job_id)) is not None
    runner.run_in_background(job_id, write_csv(tmp_path / "workers.csv", rows), BP3MI)

    running = await job_until(engine, job_id, lambda job: job.total >= HELD_AFTER)
    assert (running.status, running.finished_at, running.inserted) == ("RUNNING", None, 0)
    assert running.total == HELD_AFTER  # progress: exactly the rows read so far

    reader.release.set()
    done = await job_until(engine, job_id, lambda job: job.status != "RUNNING")
    assert (done.status, done.total, done.inserted + done.skipped_existing) == ("SUCCEEDED", 400, 399)
    assert done.rejected_count == 1
    assert [(r.line, r.column, r.code) for r in done.rows] == [(302, "sex", "INVALID_VALUE")]
    assert done.finished_at is not None
    assert done.heartbeat_at >= running.heartbeat_at
    # The spooled file goes with the run, in its `finally`, just after the commit that made the job SUCCEEDED: wait
    # for it (CI once read the job between the two).
    for _ in range(600):
        if not (tmp_path / "workers.csv").exists():
            break
        await asyncio.sleep(0.05)
    assert not (tmp_path / "workers.csv").exists()


async def test_a_run_cancelled_as_the_process_stops_is_interrupted_and_stores_nothing(
    engine: Any, tmp_path: Path
) -> None:
    rows = rows_of(2_008, 300)
    before = await workers_count(engine)
    reader = GatedReader()
    runner = ImportRunner(engine, ReadLimits(), heartbeat_seconds=0.05, reader=reader)
    job_id = await runner.start(BP3MI)
    runner.run_in_background(job_id, write_csv(tmp_path / "workers.csv", rows), BP3MI)
    await asyncio.to_thread(reader.reached.wait, 30)

    asyncio.get_running_loop().call_later(0.2, reader.release.set)  # the preparing thread must get out
    worker = runner.worker()
    worker.stop()
    await worker.close()

    job = await load_job(engine, job_id)
    assert job is not None
    assert (job.status, job.error_code, job.inserted, job.rows) == ("INTERRUPTED", "IMPORT_INTERRUPTED", 0, [])
    assert await workers_count(engine) == before


async def test_a_running_job_whose_heartbeat_stopped_reads_as_interrupted(engine: Any) -> None:
    runner = ImportRunner(engine, ReadLimits())
    job_id = await runner.start(BP3MI)
    fresh = await load_job(engine, job_id)
    assert fresh is not None
    assert fresh.status == "RUNNING"
    async with engine.begin() as conn:  # its process died 61 s ago, after its last beat
        await conn.execute(
            text("UPDATE registry.import_jobs SET heartbeat_at = now() - interval '61 seconds' WHERE id = :id"),
            {"id": job_id},
        )
    stale = await load_job(engine, job_id)
    assert stale is not None
    assert (stale.status, stale.error_code, stale.finished_at) == ("INTERRUPTED", "IMPORT_INTERRUPTED", None)
