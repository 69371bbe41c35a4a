"""`POST /imports/workers`: the bulk import over HTTP for ministry systems (multipart file field `file`, CSV or
XLSX), with the caller's token deciding agency and region. Answers the same report as the command.

The order of the checks is the point: the token and its scope, then the declared `Content-Length`, are judged
from the headers alone, before a byte of the body is read, so a large body without a valid token costs nothing.
The body is then read through a counter that stops at the limit whatever the headers said (a chunked body, or a
`Content-Length` that lies). The file is read, validated and prepared in a worker thread and written in one
transaction: the answer is either a report of a stored file or an error after which nothing of it is stored.

Every file received becomes an import job (importer/run.py), `RUNNING` until its result is written. By default the
answer waits for the import (the command's way). With `Prefer: respond-async` it comes as soon as the file is
received: 202 with the job's id, which `importJob(id)` follows (rows read so far, then the report). Large files
should be sent that way: an answer that waits may outlast a proxy's timeout, and then the caller has no job id.
When `DEMIMAS_IMPORT_CONCURRENCY` files are importing and `DEMIMAS_IMPORT_QUEUE` more are waiting, an upload is
refused 503 `IMPORT_BUSY` with `Retry-After` (and so is an upload of an office, agency and region, that holds half of
those places): before its body is read when the process is already full, else before its file is spooled; no job
is written for it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.errors import DemimasError
from demimas_registry.importer.run import ImportRunner, Outcome, Place, Stopping
from demimas_registry.settings import RegistrySettings

__all__ = ["JOB_HEADER", "upload_router"]

JOB_HEADER = "x-demimas-import-job"
"""The id of the upload's import job, on every answer that has one (a refused file's body is the error)."""

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV (UTF-8) or XLSX in the import template's columns",
                        }
                    },
                }
            }
        },
    }
}


class BodyTooLarge(Exception):
    """The body went past the upload limit while it was being read."""


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _limited(receive: Receive, limit: int) -> Receive:
    """`receive` that raises `BodyTooLarge` as soon as more than `limit` body bytes have come in."""
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BodyTooLarge
        return message

    return counting


def _copy(source: IO[bytes], target: IO[bytes]) -> None:
    source.seek(0)
    shutil.copyfileobj(source, target, 1 << 20)
    target.flush()


RETRY_AFTER_SECONDS = 30


def _busy() -> JSONResponse:
    answer = _error(
        503,
        "IMPORT_BUSY",
        "this process is importing and holding as many files as it may (DEMIMAS_IMPORT_CONCURRENCY and"
        " DEMIMAS_IMPORT_QUEUE); nothing of the file was stored, send it again later",
    )
    answer.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    return answer


def _stopping(stopping: Stopping) -> JSONResponse:
    """The process began to stop while the file came in: nothing stored, send it again (to another replica)."""
    answer = _error(503, "IMPORT_INTERRUPTED", str(stopping))
    answer.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    if stopping.job_id is not None:
        answer.headers[JOB_HEADER] = str(stopping.job_id)
    return answer


def _prefers_async(prefer: str) -> bool:
    """`Prefer: respond-async` (RFC 7240): answer 202 with the job as soon as the file is received."""
    return any(part.split(";", 1)[0].strip().lower() == "respond-async" for part in prefer.split(","))


def _answer(outcome: Outcome) -> JSONResponse:
    """The answer of an upload that waited for its import: the report, or why nothing was stored."""
    job = str(outcome.job_id)
    if outcome.refused is not None:
        answer = _error(400, outcome.refused.code, f"{outcome.refused.message}; nothing of the file was stored")
    elif outcome.interrupted is not None or outcome.report is None:
        answer = _error(503, "IMPORT_INTERRUPTED", str(outcome.interrupted))
    else:
        report = outcome.report
        body = {
            "importJob": {"id": job, "status": "SUCCEEDED"},
            "total": report.total,
            "inserted": report.inserted,
            "skippedExisting": report.skipped_existing,
            "events": report.events,
            "rejectedCount": report.rejected_rows,
            "rejectedTruncated": report.truncated,
            "rejected": [
                {"line": e.line, "column": e.column, "code": e.code, "message": e.message} for e in report.rejected
            ],
        }
        answer = JSONResponse(body, status_code=200)
    answer.headers[JOB_HEADER] = job
    return answer


def upload_router(verifier: TokenVerifier, settings: RegistrySettings, runner: ImportRunner) -> APIRouter:
    router = APIRouter()
    limit = settings.max_upload_bytes
    too_large = f"the body is larger than {limit} bytes, the upload limit (setting DEMIMAS_MAX_UPLOAD_BYTES)"

    @router.post("/imports/workers", openapi_extra=_FORM)
    async def upload(request: Request) -> JSONResponse:
        try:
            principal = verifier.from_authorization(request.headers.get("authorization"))
            if principal is None:
                return _error(401, "UNAUTHENTICATED", "send `Authorization: Bearer <token>`")
            principal.require_scope("registry:write")
        except DemimasError as exc:
            return _error(401 if exc.code == "UNAUTHENTICATED" else 403, exc.code, exc.message)
        declared = request.headers.get("content-length")
        if declared is not None and not declared.isdigit():
            return _error(400, "BAD_CONTENT_LENGTH", "Content-Length is not a number of bytes")
        if declared is not None and int(declared) > limit:
            return _error(413, "FILE_TOO_LARGE", too_large)
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            return _error(415, "UNSUPPORTED_MEDIA_TYPE", "send the file as multipart/form-data, in the field `file`")
        if runner.busy(principal):
            return _busy()  # before a byte of the body is read
        body = Request(request.scope, _limited(request.receive, limit))
        try:
            form = await body.form(max_files=1, max_fields=8)
        except BodyTooLarge:
            return _error(413, "FILE_TOO_LARGE", too_large)
        except HTTPException as exc:
            return _error(400, "MALFORMED_MULTIPART", str(exc.detail))
        try:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                return _error(400, "MISSING_FILE", "send the file in the multipart field `file`")
            suffix = Path(file.filename or "upload.csv").suffix.lower()
            if suffix not in (".csv", ".xlsx"):
                return _error(400, "UNSUPPORTED_FILE", "upload a .csv or .xlsx file")
            place = runner.admit(principal)  # others may have taken the last places while this body was read
            if place is None:
                return _busy()
            return await _import(file, suffix, principal, _prefers_async(request.headers.get("prefer", "")), place)
        finally:
            await form.close()

    async def _import(
        file: UploadFile, suffix: str, principal: Any, answer_at_once: bool, place: Place
    ) -> JSONResponse:
        try:
            spooled = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)  # noqa: SIM115 (the run deletes it)
        except BaseException:
            place.release()
            raise
        path = Path(spooled.name)
        try:
            with spooled:
                await asyncio.to_thread(_copy, file.file, spooled)
            job = await runner.start(principal)
        except Stopping as stopping:
            place.release()
            await asyncio.to_thread(path.unlink, missing_ok=True)
            return _stopping(stopping)
        except BaseException:
            place.release()
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        if answer_at_once:
            runner.run_in_background(job, path, principal, place)
            body = {"importJob": {"id": str(job), "status": "RUNNING"}}
            return JSONResponse(
                body, status_code=202, headers={JOB_HEADER: str(job), "preference-applied": "respond-async"}
            )
        return _answer(await runner.run(job, path, principal, place))

    return router
