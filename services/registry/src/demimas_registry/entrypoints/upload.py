"""`POST /imports/workers`: the bulk import over HTTP for ministry systems (multipart file field `file`, CSV or
XLSX), with the caller's token deciding agency and region. Answers the same report as the command.

The order of the checks is the point: the token and its scope, then the declared `Content-Length`, are judged
from the headers alone, before a byte of the body is read, so a large body without a valid token costs nothing.
The body is then read through a counter that stops at the limit whatever the headers said (a chunked body, or a
`Content-Length` that lies). The file is read, validated and prepared in a worker thread and written in one
transaction: the answer is either a report of a stored file or an error after which nothing of it is stored.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.errors import DemimasError
from demimas_registry.importer.jobs import record_job
from demimas_registry.importer.load import ImportInterrupted, import_workers
from demimas_registry.importer.parse import FileRejected, read_rows
from demimas_registry.settings import RegistrySettings

__all__ = ["JOB_HEADER", "upload_router"]

JOB_HEADER = "x-demimas-import-job"
"""The id of the import job a refused file left (its answer's body is the error)."""

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


def upload_router(engine: AsyncEngine, verifier: TokenVerifier, settings: RegistrySettings) -> APIRouter:
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
            return await _import(file, suffix, principal)
        finally:
            await form.close()

    async def _import(file: UploadFile, suffix: str, principal: Any) -> JSONResponse:
        with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
            await asyncio.to_thread(_copy, file.file, tmp)
            try:
                report = await import_workers(
                    engine, read_rows(Path(tmp.name), settings.read_limits), principal=principal
                )
            except FileRejected as exc:
                job = await record_job(engine, principal, None, exc.code)
                answer = _error(400, exc.code, f"{exc.message}; nothing of the file was stored")
                answer.headers[JOB_HEADER] = str(job)
                return answer
            except ImportInterrupted as exc:
                return _error(503, "IMPORT_INTERRUPTED", str(exc))
        job = await record_job(engine, principal, report)
        body = {
            "importJob": {"id": str(job), "status": "SUCCEEDED"},
            "total": report.total,
            "inserted": report.inserted,
            "skippedExisting": report.skipped_existing,
            "events": report.events,
            "rejected": [
                {"line": e.line, "column": e.column, "code": e.code, "message": e.message} for e in report.rejected
            ],
        }
        return JSONResponse(body, status_code=200)

    return router
