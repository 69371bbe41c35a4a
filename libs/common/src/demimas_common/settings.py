"""Settings shared by every service, read from `DEMIMAS_*` environment variables (pydantic-settings).

A service subclasses `CommonSettings` for its own knobs. When `database_url` / `nats_url` are unset, the devstack
(`demimas stack run`) fills them in from the embedded servers it starts.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CommonSettings", "Environment", "TraceExporter"]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class TraceExporter(StrEnum):
    NONE = "none"
    CONSOLE = "console"
    OTLP = "otlp"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMIMAS_", extra="ignore")

    uses_database: ClassVar[bool] = True
    """False in the settings of a page-only service (the portal): production then needs no database, NATS or JWKS
    of the gateway's kind, only what that service itself checks."""

    environment: Environment = Environment.DEVELOPMENT
    database_url: str | None = Field(
        default=None, description="postgresql://user@host/db (a Unix socket as ?host=/dir)."
    )
    nats_url: str | None = None
    pool_size: int = Field(default=5, ge=1, le=100, description="Database connections per process.")
    stream_replicas: int = Field(default=1, ge=1, le=5)

    jwt_issuer: str = "https://auth.demimas.dev"
    jwt_audience: str = "demimas"
    jwks_path: Path | None = None
    jwks_url: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)

    trace_exporter: TraceExporter = TraceExporter.NONE
    otlp_endpoint: str | None = None
    log_level: str = "INFO"

    outbox_retention_days: int = Field(default=30, ge=1)
    consumer_max_attempts: int = Field(default=5, ge=1)
    subscription_queue_size: int = Field(default=1000, ge=10)
    """Events a subscriber may have waiting before its subscription ends with SLOW_CONSUMER (per subscription)."""

    @model_validator(mode="after")
    def _production_needs_real_servers(self) -> CommonSettings:
        if self.environment is Environment.PRODUCTION and self.uses_database:
            missing = [
                name
                for name, value in (
                    ("DEMIMAS_DATABASE_URL", self.database_url),
                    ("DEMIMAS_NATS_URL", self.nats_url),
                    ("DEMIMAS_JWKS_PATH or DEMIMAS_JWKS_URL", self.jwks_path or self.jwks_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"production needs {', '.join(missing)}; the devstack is for development only")
        return self
