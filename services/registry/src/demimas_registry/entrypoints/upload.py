"""`POST /imports/workers`: the bulk import over HTTP for ministry systems (multipart file field `file`, CSV or
XLSX), with the caller's token deciding agency and region. Answers the same report as the command."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Header, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.errors import DemimasError
from demimas_registry.importer.load import import_workers
from demimas_registry.importer.parse import FileRejected, read_rows
from demimas_registry.settings import RegistrySettings

__all__ = ["upload_router"]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def upload_router(engine: AsyncEngine, verifier: TokenVerifier, settings: RegistrySettings) -> APIRouter:
    router = APIRouter()

    @router.post("/imports/workers")
    async def upload(
        file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX in the import template's columns")],
        authorization: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        try:
            principal = verifier.from_authorization(authorization)
            if principal is None:
                return _error(401, "UNAUTHENTICATED", "send `Authorization: Bearer <token>`")
            principal.require_scope("registry:write")
        except DemimasError as exc:
            return _error(401 if exc.code == "UNAUTHENTICATED" else 403, exc.code, exc.message)
        suffix = Path(file.filename or "upload.csv").suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            return _error(400, "UNSUPPORTED_FILE", "upload a .csv or .xlsx file")
        with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
            size = 0
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    return _error(413, "FILE_TOO_LARGE", f"files up to {settings.max_upload_bytes} bytes")
                tmp.write(chunk)
            tmp.flush()
            try:
                report = await import_workers(engine, read_rows(Path(tmp.name)), principal=principal)
            except FileRejected as exc:
                return _error(400, exc.code, exc.message)
        body = {
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
