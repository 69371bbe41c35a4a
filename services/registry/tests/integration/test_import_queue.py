"""Hostile review of import jobs (importer/run.py, entrypoints/upload.py): a burst of `Prefer: respond-async` uploads
is bounded, and the spooled file of a job goes with it on every path.

Attack: with `Prefer: respond-async` each upload is answered 202 at once while only `DEMIMAS_IMPORT_CONCURRENCY` files
import; the others waited without bound, each with its file spooled to disk (up to DEMIMAS_MAX_UPLOAD_BYTES, 200 MB)
and a heartbeat writing to the database every 2 s. One token with registry:write could fill the disk and take the
connection pool the API needs, which the concurrency limit was meant to protect. Past `DEMIMAS_IMPORT_QUEUE` files
waiting, an upload is now refused 503 IMPORT_BUSY with Retry-After, before its file is spooled and before a job
exists."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.db.engine import create_engine
from demimas_registry.entrypoints.upload import upload_router
from demimas_registry.importer.jobs import load_job
from demimas_registry.importer.limits import ReadLimits
from demimas_registry.importer.run import ImportRunner
from demimas_registry.importer.template import COLUMNS
from demimas_registry.synthetic import SyntheticWorkers

from .conftest import registry_settings
from .test_import_jobs import BP3MI, GatedReader, write_csv

pytestmark = pytest.mark.integration
CONCURRENCY, QUEUE = 1, 2


def csv_file(seed: int, n: int = 200) -> bytes:
    gen = SyntheticWorkers(seed=seed)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[c.name for c in COLUMNS])
    writer.writeheader()
    writer.writerows(gen.row(village="16.06.13.2001") for _ in range(n))
    return out.getvalue().encode()


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the upload spools its files (the process's temporary directory), watched by the test."""
    directory = tmp_path / "spool"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
async def held(registry_db: Any, keys: Any, spool: Path) -> AsyncIterator[tuple[httpx.AsyncClient, GatedReader, Any]]:
    """The upload route with one import at a time and `QUEUE` waiting, its imports held mid-file."""
    settings = registry_settings(registry_db, keys, import_concurrency=CONCURRENCY, import_queue=QUEUE)
    engine = create_engine(registry_db.runtime_url, pool_size=4)
    reader = GatedReader()
    runner = ImportRunner(engine, ReadLimits(), limit=CONCURRENCY, queue=QUEUE, heartbeat_seconds=0.05, reader=reader)
    app = FastAPI()
    app.include_router(upload_router(TokenVerifier(settings), settings, runner))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry") as http:
            yield http, reader, engine
    finally:
        reader.release.set()
        await runner.close()
        await engine.dispose()


def spooled(directory: Path) -> list[Path]:
    return list(directory.iterdir())


async def running_jobs(engine: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM registry.import_jobs WHERE status = 'RUNNING'")) or 0)


async def test_a_burst_of_async_uploads_is_bounded(
    held: tuple[httpx.AsyncClient, GatedReader, Any], token: Callable[..., str], spool: Path
) -> None:
    client, reader, engine = held
    offices = [
        token("BP3MI", region="16.06"),
        token("DISNAKER", region="16.06"),
        token("KP2MI"),
        token("BP3MI", region="16"),
    ]
    before = await running_jobs(engine)
    answers = []
    for i in range(CONCURRENCY + QUEUE + 4):
        headers = {"Authorization": f"Bearer {offices[i % len(offices)]}", "Prefer": "respond-async"}
        files = {"file": (f"burst-{i}.csv", csv_file(3_100 + i), "text/csv")}
        answers.append(await client.post("/imports/workers", files=files, headers=headers))
    statuses = [a.status_code for a in answers]
    assert statuses.count(202) == CONCURRENCY + QUEUE, statuses
    busy = [a for a in answers if a.status_code != 202]
    assert {a.status_code for a in busy} == {503}
    assert {a.json()["error"]["code"] for a in busy} == {"IMPORT_BUSY"}
    assert all(a.headers.get("retry-after") for a in busy)
    assert all("x-demimas-import-job" not in a.headers for a in busy)  # refused before a job exists
    assert await running_jobs(engine) - before == CONCURRENCY + QUEUE
    assert len(spooled(spool)) <= CONCURRENCY + QUEUE  # the refused files were never spooled

    reader.release.set()
    for _ in range(400):
        if await running_jobs(engine) == before and not spooled(spool):
            break
        await asyncio.sleep(0.05)
    assert await running_jobs(engine) == before
    assert spooled(spool) == []
    # room again once they ended (a run gives its place back just after its file is gone: ask until it has)
    files = {"file": ("after.csv", csv_file(3_200), "text/csv")}
    for _ in range(600):
        after = await client.post("/imports/workers", files=files, headers=headers)
        if after.status_code != 503:
            break
        assert after.json()["error"]["code"] == "IMPORT_BUSY"
        await asyncio.sleep(0.05)
    assert after.status_code == 202


async def test_a_background_run_cancelled_before_it_started_leaves_no_file(registry_db: Any, tmp_path: Path) -> None:
    """Stopping the process right after a 202: the run's task is cancelled before its first step, so its own
    `finally` never ran and the spooled file (names, NIKs) stayed on disk."""
    engine = create_engine(registry_db.runtime_url, pool_size=2)
    try:
        runner = ImportRunner(engine, ReadLimits(), limit=1, queue=1)
        job_id = await runner.start(BP3MI)
        path = write_csv(tmp_path / "spooled.csv", [SyntheticWorkers(seed=3_300).row(village="16.06.13.2001")])
        runner.run_in_background(job_id, path, BP3MI)
        await runner.close()  # before the loop ran the task at all
        assert not path.exists()
        assert runner.admit(BP3MI) is not None  # and its place was given back
    finally:
        await engine.dispose()


async def test_a_job_still_waiting_when_the_process_stops_is_written_interrupted(
    registry_db: Any, tmp_path: Path
) -> None:
    """uploads.md: "a process that stops normally writes its running jobs INTERRUPTED". A job waiting for a slot was
    cancelled before its import began, so nothing wrote it: it read RUNNING for another 60 s after the stop."""
    engine = create_engine(registry_db.runtime_url, pool_size=4)
    reader = GatedReader()
    try:
        runner = ImportRunner(engine, ReadLimits(), limit=1, queue=1, heartbeat_seconds=0.05, reader=reader)
        gen = SyntheticWorkers(seed=3_400)
        rows = [gen.row(village="16.06.13.2001") for _ in range(200)]
        first, waiting = await runner.start(BP3MI), await runner.start(BP3MI)
        runner.run_in_background(first, write_csv(tmp_path / "first.csv", rows), BP3MI)
        await asyncio.to_thread(reader.reached.wait, 30)
        runner.run_in_background(waiting, write_csv(tmp_path / "waiting.csv", rows), BP3MI)
        await asyncio.sleep(0.2)  # it waits for the slot, beating
        asyncio.get_running_loop().call_later(0.2, reader.release.set)
        await runner.close()
        for job_id in (first, waiting):
            job = await load_job(engine, job_id)
            assert job is not None
            assert (job.status, job.error_code) == ("INTERRUPTED", "IMPORT_INTERRUPTED"), job_id == waiting
    finally:
        reader.release.set()
        await engine.dispose()


async def test_a_stored_file_never_reads_as_interrupted(
    registry_db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's SUCCEEDED was written in a transaction of its own after the file's had committed: when that write
    failed (the database went away a moment), the job stayed RUNNING, its heartbeat stopped, and 60 s later it read
    INTERRUPTED, "nothing of its file was stored", while every row was. The result is now written in the file's
    own transaction: both or neither."""
    from demimas_registry.importer import jobs, run

    real = jobs.finish_job

    async def failing_success(engine: Any, job_id: Any, report: Any, *, status: str, **kw: Any) -> None:
        if status == "SUCCEEDED":
            raise ConnectionResetError("the database went away")
        await real(engine, job_id, report, status=status, **kw)

    monkeypatch.setattr(run, "finish_job", failing_success)
    engine = create_engine(registry_db.runtime_url, pool_size=4)
    try:
        runner = ImportRunner(engine, ReadLimits(), limit=1, queue=1)
        gen = SyntheticWorkers(seed=3_500)
        rows = [gen.row(village="16.06.13.2001") for _ in range(20)]
        count = text("SELECT count(*) FROM registry.workers")  # other tests may hold some of these NIKs already
        async with engine.connect() as conn:
            before = int(await conn.scalar(count) or 0)
        job_id = await runner.start(BP3MI)
        with contextlib.suppress(Exception):
            await runner.run(job_id, write_csv(tmp_path / "stored.csv", rows), BP3MI)
        async with engine.begin() as conn:  # as read a minute later
            await conn.execute(
                text("UPDATE registry.import_jobs SET heartbeat_at = now() - interval '61 seconds' WHERE id = :id"),
                {"id": job_id},
            )
            stored = int(await conn.scalar(count) or 0) - before
        job = await load_job(engine, job_id)
        assert job is not None
        if stored:
            assert (job.status, job.inserted) == ("SUCCEEDED", stored)
        else:
            assert job.status == "INTERRUPTED"
    finally:
        await engine.dispose()


async def test_one_office_cannot_take_every_place(
    held: tuple[httpx.AsyncClient, GatedReader, Any], token: Callable[..., str]
) -> None:
    """Attack on the bound itself: DISNAKER 16.06 sends files until the process is full; then KP2MI's upload, and
    every other office's, is refused IMPORT_BUSY for as long as 16.06 keeps sending. An office may hold at most half
    the places (importing or waiting), so others always have room."""
    client, _reader, _ = held
    hostile = {"Authorization": f"Bearer {token('DISNAKER', region='16.06')}", "Prefer": "respond-async"}
    statuses = []
    for i in range(CONCURRENCY + QUEUE + 2):
        files = {"file": (f"hog-{i}.csv", csv_file(3_600 + i), "text/csv")}
        statuses.append((await client.post("/imports/workers", files=files, headers=hostile)).status_code)
    assert statuses.count(202) < CONCURRENCY + QUEUE, statuses
    other = {"Authorization": f"Bearer {token('KP2MI')}", "Prefer": "respond-async"}
    files = {"file": ("kp2mi.csv", csv_file(3_700), "text/csv")}
    assert (await client.post("/imports/workers", files=files, headers=other)).status_code == 202


async def test_no_upload_is_taken_once_the_process_is_stopping(registry_db: Any) -> None:
    """An upload that arrived while the process stopped, after its runs were cancelled, was answered 202 and its run
    started after `close()`: nothing cancelled it, the process exited under it, its spooled file stayed and its job
    read RUNNING for a minute. Once stopping, the runner takes no more files (IMPORT_BUSY: send it again)."""
    engine = create_engine(registry_db.runtime_url, pool_size=1)
    try:
        runner = ImportRunner(engine, ReadLimits(), limit=1, queue=1)
        worker = runner.worker()
        worker.stop()
        await worker.close()
        assert runner.busy(BP3MI)
        assert runner.admit(BP3MI) is None
    finally:
        await engine.dispose()


@pytest.mark.parametrize("stops", ["while the file is spooled", "while its job is written"])
async def test_an_upload_admitted_as_the_process_begins_to_stop_is_not_run(
    registry_db: Any, keys: Any, spool: Path, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch, stops: str
) -> None:
    """known-gaps.md (issue 20): an upload admitted in the instant the process began to stop could start its run
    after the runner closed; nothing cancelled it, and its job read RUNNING until its heartbeat was 60 s old. The
    stop is now looked at once the job is written: the upload is answered 503 IMPORT_INTERRUPTED (send it again),
    its job, if written, reads INTERRUPTED at once, and neither its file nor its place is kept."""
    from demimas_registry.entrypoints import upload
    from demimas_registry.importer import run

    settings = registry_settings(registry_db, keys, import_concurrency=1, import_queue=1)
    engine = create_engine(registry_db.runtime_url, pool_size=2)
    runner = ImportRunner(engine, ReadLimits(), limit=1, queue=1, heartbeat_seconds=0.05)
    real_copy, real_start = upload._copy, run.start_job

    def copy_then_stop(source: Any, target: Any) -> None:
        real_copy(source, target)
        runner.stop()  # the process began to stop while the body was being spooled

    async def start_then_stop(engine: Any, principal: Any) -> Any:
        job_id = await real_start(engine, principal)
        runner.stop()  # ... or while the job was being written
        return job_id

    if stops == "while the file is spooled":
        monkeypatch.setattr(upload, "_copy", copy_then_stop)
    else:
        monkeypatch.setattr(run, "start_job", start_then_stop)
    app = FastAPI()
    app.include_router(upload_router(TokenVerifier(settings), settings, runner))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry") as http:
            headers = {"Authorization": f"Bearer {token('BP3MI', region='16')}", "Prefer": "respond-async"}
            files = {"file": ("late.csv", csv_file(3_800, n=5), "text/csv")}
            answer = await http.post("/imports/workers", files=files, headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "IMPORT_INTERRUPTED"
        assert answer.headers["retry-after"]
        job_header = answer.headers.get("x-demimas-import-job")
        if stops == "while its job is written":
            assert job_header is not None
            job = await load_job(engine, uuid.UUID(job_header))  # read now, not once a heartbeat went stale
            assert job is not None
            assert (job.status, job.error_code) == ("INTERRUPTED", "IMPORT_INTERRUPTED")
        else:
            assert job_header is None  # no job was written
        assert spooled(spool) == []
        assert runner._admitted == 0
        assert not runner._background
    finally:
        await runner.close()
        await engine.dispose()
