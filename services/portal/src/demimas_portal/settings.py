"""Portal settings (`DEMIMAS_*` and `DEMIMAS_PORTAL_*` environment variables).

The portal has no database of its own (`uses_database = False`): it reads and writes only through the gateway with
the signed-in person's token. It uses NATS for one thing, the revoked sessions (`DEMIMAS_NATS_URL`, required in
production; in development and test without it revocation is off, and the portal says so at start-up).

In development and test it signs people in with dev tokens minted from
the devstack's keys (`DEMIMAS_DEV_KEYS_DIR`, written by `make run` into `.devstack/stack.env`); in production it
signs them in with OpenID Connect against `DEMIMAS_PORTAL_OIDC_ISSUER`.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from demimas_common.settings import CommonSettings, Environment

__all__ = ["DEFAULT_GATEWAY_URL", "PortalSettings"]

DEFAULT_GATEWAY_URL = "http://127.0.0.1:4000/graphql"


class PortalSettings(CommonSettings):
    uses_database: ClassVar[bool] = False

    portal_gateway_url: str | None = Field(
        default=None,
        description=f"The gateway's GraphQL endpoint; unset: DEMIMAS_GATEWAY_URL (make run sets it), else "
        f"{DEFAULT_GATEWAY_URL}.",
    )
    gateway_url: str | None = Field(default=None, description="Set by `make run` for every service.")
    portal_gateway_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    portal_gateway_connections: int = Field(default=50, ge=1, le=1000)

    portal_session_key: SecretStr | None = Field(
        default=None,
        description="Secret of the session cookie's encryption (32+ characters). Required in production; in "
        "development and test derived from the devstack's dev key (or random per process without one).",
    )
    portal_session_hours: float = Field(default=8.0, gt=0, le=24, description="A session's longest life.")
    portal_label_ttl_seconds: float = Field(default=300.0, ge=0, description="How long enum labels are cached.")
    portal_public_url: str | None = Field(default=None, description="Where people reach the portal (for links).")

    portal_oidc_issuer: str | None = None
    portal_oidc_client_id: str | None = None
    portal_oidc_client_secret: SecretStr | None = None
    portal_oidc_redirect_url: str | None = Field(
        default=None, description="This portal's /auth/callback as the issuer knows it."
    )
    portal_oidc_scopes: str = "openid profile"
    portal_oidc_audience: str | None = Field(
        default=None, description="The access token's audience; unset: DEMIMAS_JWT_AUDIENCE (the gateway's)."
    )

    dev_keys_dir: Path | None = Field(
        default=None, description="The devstack's key folder (DEMIMAS_DEV_KEYS_DIR): dev sign-in mints tokens with it."
    )

    @property
    def development(self) -> bool:
        """Development or test: the dev sign-in page, cookies without `Secure`."""
        return self.environment is not Environment.PRODUCTION

    @property
    def gateway_endpoint(self) -> str:
        return self.portal_gateway_url or self.gateway_url or DEFAULT_GATEWAY_URL

    @property
    def session_seconds(self) -> float:
        """A session's longest life: how long a revocation must be kept."""
        return self.portal_session_hours * 3600

    @cached_property
    def session_key(self) -> bytes:
        """The 32-byte AES-GCM key of the session cookie."""
        if self.portal_session_key is not None:
            return hashlib.sha256(
                b"demimas-portal-session\0" + self.portal_session_key.get_secret_value().encode()
            ).digest()
        if self.dev_keys_dir is not None and (self.dev_keys_dir / "signing.pem").is_file():
            # per .devstack: sessions survive a restart of `make run`, and differ between two checkouts
            seed = (self.dev_keys_dir / "signing.pem").read_bytes()
            return hashlib.sha256(b"demimas-portal-dev-session\0" + seed).digest()
        return secrets.token_bytes(32)

    @model_validator(mode="after")
    def _production_needs_oidc_and_a_key(self) -> PortalSettings:
        if self.environment is Environment.PRODUCTION:
            missing = [
                name
                for name, value in (
                    ("DEMIMAS_PORTAL_SESSION_KEY", self.portal_session_key),
                    ("DEMIMAS_NATS_URL (the revoked sessions)", self.nats_url),
                    ("DEMIMAS_PORTAL_OIDC_ISSUER", self.portal_oidc_issuer),
                    ("DEMIMAS_PORTAL_OIDC_CLIENT_ID", self.portal_oidc_client_id),
                    ("DEMIMAS_PORTAL_OIDC_REDIRECT_URL", self.portal_oidc_redirect_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"the portal in production needs {', '.join(missing)}")
            assert self.portal_session_key is not None
            key = self.portal_session_key.get_secret_value()
            if len(key) < 32:
                raise ValueError("DEMIMAS_PORTAL_SESSION_KEY must be at least 32 characters")
            if "CHANGE_ME" in key:  # the manifests' placeholder is public: a cookie sealed with it is anyone's to read
                raise ValueError(
                    "DEMIMAS_PORTAL_SESSION_KEY is still the manifests' CHANGE_ME placeholder: set a random key"
                )
        return self
