"""Audit settings (`DEMIMAS_*` environment variables).

`DEMIMAS_AUDIT_SIGNING_KEY` is the PEM file of the service's Ed25519 key that signs checkpoints; in development a
key is created next to it (default `.devstack/keys/audit-signing.pem`) when missing, in production it must exist."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from demimas_common.settings import CommonSettings, Environment

__all__ = ["AuditSettings"]


class AuditSettings(CommonSettings):
    audit_signing_key: Path = Field(default=Path(".devstack/keys/audit-signing.pem"))
    audit_checkpoint_seconds: float = Field(
        default=60.0, gt=0, le=86_400, description="How often the head is signed (when it moved)."
    )
    gateway_url: str = Field(
        default="http://127.0.0.1:4000/graphql",
        description="Where the data-subject report's registered operation is sent.",
    )

    def creates_signing_key(self) -> bool:
        return self.environment is not Environment.PRODUCTION
