"""Registry settings (`DEMIMAS_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from demimas_common.settings import CommonSettings

__all__ = ["RegistrySettings"]


class RegistrySettings(CommonSettings):
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, description="Largest import file the upload accepts.")
    pool_size: int = Field(default=10, ge=1, le=100)
