"""An uploaded file imported as a job (importer/jobs.py): the job is `RUNNING` from the start, its rows read and
heartbeat are written every `HEARTBEAT_SECONDS` while the import runs, and its result is written at the end. The
same run serves an upload that waits for its report and one answered at once (`Prefer: respond-async`), whose
caller follows the job with `importJob(id)`.

At most `limit` files import at once in a process (the others wait, `RUNNING` with no rows read): each holds a
database connection and a preparing thread, and a burst of uploads must not take the pool the API needs. At most
`queue` more may wait, each with its file spooled to disk and a heartbeat: an upload takes a place (`admit()`)
before its file is spooled, and is refused when there is none (`Prefer: respond-async` answers at once, so without
this bound one token could queue files until the disk was full). One office (agency and region) holds at most half
the places, so that one sending without end does not refuse every other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_registry.importer.jobs import (
    HEARTBEAT_SECONDS,
    beat,
    finish_in,
    finish_job,
    interrupt_running,
    start_job,
)
from demimas_registry.importer.limits import ReadLimits
from demimas_registry.importer.load import ImportInterrupted, import_workers
from demimas_registry.importer.parse import FileRejected, read_rows
from demimas_registry.importer.report import ImportReport

__all__ = ["ImportRunner", "Outcome", "Place", "Stopping"]

log = logging.getLogger("demimas.registry.import")

Reader = Callable[[Path, ReadLimits], Iterable[tuple[int, dict[str, str]]]]
Office = tuple[str, str | None]
"""An uploader: its agency and its token's region."""


@dataclass(frozen=True)
class Outcome:
    """What the run of a job ended with: the report of a stored file, or the reason nothing was stored."""

    job_id: uuid.UUID
    report: ImportReport | None = None
    refused: FileRejected | None = None
    interrupted: ImportInterrupted | None = None


class Stopping(Exception):
    """The process began to stop while an admitted upload was being received: its file is not run (nothing would
    cancel a run started after `close()`). `job_id`: the job written just before the stop was seen, now
    `INTERRUPTED`; None when none was written."""

    def __init__(self, job_id: uuid.UUID | None) -> None:
        super().__init__("the registry process is stopping; nothing of the file was stored, send it again")
        self.job_id = job_id


class Place:
    """A file's place among those importing or waiting in the process (`ImportRunner.admit`); given back once."""

    def __init__(self, runner: ImportRunner, office: Office) -> None:
        self._runner: ImportRunner | None = runner
        self._office = office

    def release(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner._admitted -= 1
            runner._by_office[self._office] -= 1
            if not runner._by_office[self._office]:
                del runner._by_office[self._office]


class ImportRunner:
    """Runs import jobs of one process: at most `limit` at once; background runs are kept until they end. It is a
    background worker of the service (`worker()`), so that stopping the process cancels the runs still going and
    writes their jobs `INTERRUPTED` before the database engine closes."""

    def __init__(
        self,
        engine: AsyncEngine,
        limits: ReadLimits,
        *,
        limit: int = 2,
        queue: int = 8,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        reader: Reader = read_rows,
    ) -> None:
        self.engine = engine
        self.limits = limits
        self.heartbeat_seconds = heartbeat_seconds
        self.reader = reader
        self._slots = asyncio.Semaphore(limit)
        self._capacity = limit + queue
        self._admitted = 0
        self._by_office: Counter[Office] = Counter()
        self._per_office = max(1, self._capacity // 2)
        self._background: dict[asyncio.Task[Outcome], uuid.UUID] = {}
        self._stopped = asyncio.Event()

    async def run_until_stopped(self) -> None:
        await self._stopped.wait()

    def busy(self, principal: Principal) -> bool:
        """No place for this uploader: every place is taken, or its office (agency and region) holds half of them,
        so that one office sending files without end leaves the others room, or the process is stopping (asked
        before the body is read)."""
        if self._stopped.is_set():
            return True  # the process stops: a run started now would outlive `close()` and leave its file
        office = (principal.agency.value, principal.region)
        return self._admitted >= self._capacity or self._by_office[office] >= self._per_office

    def admit(self, principal: Principal) -> Place | None:
        """A place for one more file (importing or waiting) of this uploader, or None (`busy`)."""
        if self.busy(principal):
            return None
        office = (principal.agency.value, principal.region)
        self._admitted += 1
        self._by_office[office] += 1
        return Place(self, office)

    async def start(self, principal: Principal) -> uuid.UUID:
        """Write the job (`RUNNING`) of a file about to be run, or raise `Stopping` once the process stops.

        An upload is admitted before its body is read, and the process may begin to stop (and `close()` may end)
        while it is spooled or while its job is written. A run started after that would never be cancelled: the
        process would exit under it, its job reading `RUNNING` until its heartbeat went stale. So the stop is looked
        at again after the write, with no await between this check and the caller registering the run
        (`run_in_background`) or beginning it (`run`)."""
        if self._stopped.is_set():
            raise Stopping(None)
        job_id = await start_job(self.engine, principal)
        if self._stopped.is_set():
            with contextlib.suppress(Exception):  # else the stopped heartbeat tells it, 60 s later
                await asyncio.shield(interrupt_running(self.engine, [job_id]))
            raise Stopping(job_id)
        return job_id

    async def run(self, job_id: uuid.UUID, path: Path, principal: Principal, place: Place | None = None) -> Outcome:
        """Import the file at `path` as job `job_id`, delete the file, give `place` back, and return the outcome."""
        report = ImportReport()
        ticker = asyncio.create_task(self._heartbeat(job_id, report), name=f"import-heartbeat-{job_id}")
        try:
            try:
                await self._slots.acquire()
            except BaseException:  # cancelled while waiting (the process stops): nothing was read, say so now
                with contextlib.suppress(Exception):
                    await asyncio.shield(interrupt_running(self.engine, [job_id]))
                raise
            try:
                return await self._import(job_id, path, principal, report)
            finally:
                self._slots.release()
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            if place is not None:
                place.release()

    def worker(self) -> _Worker:
        return _Worker(self)

    def run_in_background(
        self, job_id: uuid.UUID, path: Path, principal: Principal, place: Place | None = None
    ) -> None:
        """Run the job after the answer is sent; its result is read with `importJob(id)`."""
        task = asyncio.create_task(self.run(job_id, path, principal, place), name=f"import-{job_id}")
        self._background[task] = job_id
        task.add_done_callback(lambda done: self._ended(done, path, place))

    def _ended(self, task: asyncio.Task[Outcome], path: Path, place: Place | None) -> None:
        """Also when the task was cancelled before its first step (the process stopped right after the 202): its
        `run` never began, so its `finally` never deleted the file (names, NIKs) nor gave the place back."""
        self._background.pop(task, None)
        path.unlink(missing_ok=True)
        if place is not None:
            place.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("import job failed", exc_info=task.exception())

    async def _import(self, job_id: uuid.UUID, path: Path, principal: Principal, report: ImportReport) -> Outcome:
        try:
            stored = await import_workers(
                self.engine,
                self.reader(path, self.limits),
                principal=principal,
                report=report,
                before_commit=lambda conn, final: finish_in(conn, job_id, final, status="SUCCEEDED"),
            )
        except FileRejected as exc:
            await finish_job(self.engine, job_id, report, status="REJECTED", error_code=exc.code)
            return Outcome(job_id, refused=exc)
        except ImportInterrupted as exc:
            await finish_job(self.engine, job_id, report, status="INTERRUPTED", error_code="IMPORT_INTERRUPTED")
            return Outcome(job_id, interrupted=exc)
        except BaseException:
            # Cancelled (the process stops) or an error of ours: nothing of the file was stored; say so if the
            # database can still be told, else the stopped heartbeat will.
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    finish_job(self.engine, job_id, report, status="INTERRUPTED", error_code="IMPORT_INTERRUPTED")
                )
            raise
        return Outcome(job_id, report=stored)  # its SUCCEEDED was written in the file's own transaction

    async def _heartbeat(self, job_id: uuid.UUID, report: ImportReport) -> None:
        """Rows read so far, and that the process is alive, every `heartbeat_seconds` until the run ends."""
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await beat(self.engine, job_id, report.total)
            except Exception:  # a missed beat is not the import's failure; the next one may pass
                log.warning("import job heartbeat failed", exc_info=True)

    def stop(self) -> None:
        self._stopped.set()

    async def close(self) -> None:
        """Cancel background runs (the process stops): their jobs are written `INTERRUPTED`."""
        cancelled = dict(self._background)
        for task in cancelled:
            task.cancel()
        await asyncio.gather(*cancelled, return_exceptions=True)
        # a run cancelled before its first step wrote nothing: its job would read RUNNING until it went stale
        with contextlib.suppress(Exception):
            await interrupt_running(self.engine, list(cancelled.values()))


class _Worker:
    """The runner as the skeleton's `BackgroundWorker` (`run`, `stop`, `close`)."""

    def __init__(self, runner: ImportRunner) -> None:
        self.runner = runner

    async def run(self) -> None:
        await self.runner.run_until_stopped()

    def stop(self) -> None:
        self.runner.stop()

    async def close(self) -> None:
        await self.runner.close()
