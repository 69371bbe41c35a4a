"""Registry settings (`DEMIMAS_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from demimas_common.settings import CommonSettings
from demimas_registry.importer.limits import ReadLimits

__all__ = ["RegistrySettings"]

_READ = ReadLimits()


class RegistrySettings(CommonSettings):
    max_upload_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1, description="Largest request body the upload reads (the file in it)."
    )
    pool_size: int = Field(default=10, ge=1, le=100)
    import_concurrency: int = Field(
        default=2, ge=1, le=16, description="Uploaded files imported at once per process; the others wait, RUNNING."
    )
    import_queue: int = Field(
        default=8,
        ge=0,
        le=1000,
        description="Uploaded files that may wait, each spooled to disk, beyond those importing; past it an upload is"
        " refused 503 IMPORT_BUSY with Retry-After before its file is spooled.",
    )
    import_max_rows: int = Field(default=_READ.max_rows, ge=1, description="Data rows one import file may hold.")
    import_max_columns: int = Field(default=_READ.max_columns, ge=1, description="Cells a row of an import may hold.")
    import_max_cell_chars: int = Field(default=_READ.max_cell_chars, ge=1, description="Characters in one cell.")
    import_max_inflated_bytes: int = Field(
        default=_READ.max_inflated_bytes, ge=1, description="Sum of an XLSX's uncompressed part sizes."
    )
    import_max_compression_ratio: int = Field(
        default=_READ.max_compression_ratio, ge=1, description="Largest compression ratio of a large XLSX part."
    )

    @property
    def read_limits(self) -> ReadLimits:
        return ReadLimits(
            max_rows=self.import_max_rows,
            max_columns=self.import_max_columns,
            max_cell_chars=self.import_max_cell_chars,
            max_inflated_bytes=self.import_max_inflated_bytes,
            max_compression_ratio=self.import_max_compression_ratio,
        )
