"""Feeds settings (`DEMIMAS_FEEDS_*` and `DEMIMAS_WEBHOOK_WORKERS` environment variables).

`DEMIMAS_FEEDS_SECRET_KEY` (32 bytes, base64) encrypts the endpoints' signing secrets at rest (AES-GCM). Development
and test fall back to a fixed, public key (`DEV_SECRET_KEY`); production refuses to start without a key, with a
malformed one, with the manifests' CHANGE_ME placeholder, or with the public development key."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, model_validator

from demimas_common.settings import CommonSettings, Environment

__all__ = ["DEV_SECRET_KEY", "FeedsSettings"]

DEV_SECRET_KEY = base64.b64encode(b"demimas-feeds-development-key!!!").decode()
"""The key of development and test stacks only: public, so never good for production."""


class FeedsSettings(CommonSettings):
    feeds_secret_key: str | None = Field(
        default=None, description="32 bytes, base64: the AES-GCM key of the signing secrets (required in production)."
    )
    feeds_rotation_grace_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, description="After a rotation the old secret still signs this long."
    )
    feeds_disable_after_hours: float = Field(
        default=120.0, gt=0, le=24 * 60, description="An endpoint failing continuously this long is disabled."
    )
    feeds_timeout_seconds: float = Field(default=10.0, gt=0, le=60, description="Total time of one delivery attempt.")
    feeds_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Time to connect (and TLS).")
    feeds_concurrency: int = Field(default=64, ge=1, le=4096, description="Deliveries in flight per process.")
    feeds_response_cap_bytes: int = Field(
        default=64 * 1024, ge=1024, le=1024 * 1024, description="A receiver's answer is read up to this, then closed."
    )
    feeds_max_endpoints_per_agency: int = Field(default=50, ge=1, le=10_000, description="Endpoints per agency.")
    feeds_max_endpoints_per_office: int = Field(
        default=5, ge=1, le=10_000, description="Endpoints per office of an agency (the tokens of one region)."
    )
    feeds_changes_scan_limit: int = Field(
        default=10_000, ge=100, le=1_000_000, description="Stream messages one `changes` call reads at most."
    )
    feeds_backoff_scale: float = Field(
        default=1.0, gt=0, le=1, description="Multiplies every retry delay (1 in production; tests and demos shorten)."
    )
    feeds_retention_days: int = Field(
        default=30, ge=1, le=3650, description="Done deliveries and attempts are kept this long (the delivery log)."
    )
    feeds_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="The dispatcher looks for due deliveries at least this often."
    )
    webhook_workers: bool = Field(
        default=True,
        description="False: this process serves the API only (no fan-out, no dispatch), e.g. a second test app "
        "on the same database.",
    )

    @model_validator(mode="after")
    def _key(self) -> FeedsSettings:
        production = self.environment is Environment.PRODUCTION
        if not self.feeds_secret_key:  # unset, or set empty (which would fall back to the public key)
            if production:
                raise ValueError("production needs DEMIMAS_FEEDS_SECRET_KEY (32 bytes, base64)")
            return self
        if production and "CHANGE_ME" in self.feeds_secret_key:
            raise ValueError(
                "DEMIMAS_FEEDS_SECRET_KEY is still the manifests' CHANGE_ME placeholder: set 32 random bytes, base64 "
                "(head -c 32 /dev/urandom | base64)"
            )
        key = self.secret_key_bytes()  # refuses a malformed key at start-up
        if production and key == base64.b64decode(DEV_SECRET_KEY):
            raise ValueError(
                "DEMIMAS_FEEDS_SECRET_KEY is the public development key: anyone could decrypt the signing secrets; "
                "set 32 random bytes, base64 (head -c 32 /dev/urandom | base64)"
            )
        return self

    def secret_key_bytes(self) -> bytes:
        raw = self.feeds_secret_key or DEV_SECRET_KEY
        try:
            key = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("DEMIMAS_FEEDS_SECRET_KEY is not base64") from None
        if len(key) != 32:
            raise ValueError(f"DEMIMAS_FEEDS_SECRET_KEY must hold 32 bytes, not {len(key)}")
        return key
