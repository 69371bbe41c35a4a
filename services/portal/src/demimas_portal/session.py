"""The session cookie `demimas_portal_session`: what the portal remembers of a person between requests, encrypted
and authenticated with AES-GCM (the cookie name is the associated data), so the browser can neither read the token
in it nor change a byte of it.

A session exists before sign-in too (language, CSRF secret, the OIDC sign-in's state); `signed_in` says whether it
holds a token that has not expired. Expiry is the token's own `exp`, capped at `portal_session_hours`.

Each sign-in gets a random session id (`sid`, `new_sid`), sealed in the cookie like the rest; sign-out revokes it on
every replica (`revocation.py`). A signed-in session without a sid (a cookie sealed before revocation existed) is
not honoured: `Portal.page` treats it as signed out, so a copy of it cannot outlive a sign-out.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["COOKIE_NAME", "Session", "SessionCodec", "new_session", "new_sid"]

COOKIE_NAME = "demimas_portal_session"
_NONCE_BYTES = 12
_VERSION = b"\x01"


@dataclass(frozen=True)
class Session:
    csrf_secret: str
    lang: str = "id"
    token: str | None = None
    agency: str | None = None
    region: str | None = None
    subject: str | None = None
    expires_at: float | None = None
    """Unix time after which the token is no longer sent (the person signs in again)."""
    flash: str | None = None
    """A message shown once on the next page (POST/redirect/GET), already in the session's language."""
    flash_kind: str = "info"
    oidc: dict[str, str] = field(default_factory=dict)
    """State, nonce and PKCE verifier of a sign-in under way (production)."""
    sid: str | None = None
    """The signed-in session's random id (`new_sid`): what sign-out revokes on every replica."""

    def signed_in(self, now: float | None = None) -> bool:
        return self.token is not None and self.expires_at is not None and (now or time.time()) < self.expires_at

    def expired(self, now: float | None = None) -> bool:
        """It held a token, and the token's time is up."""
        return self.token is not None and not self.signed_in(now)

    def signed_out(self) -> Session:
        """The same browser's session without the person: a fresh CSRF secret, the language kept."""
        return Session(csrf_secret=new_csrf_secret(), lang=self.lang, flash=self.flash, flash_kind=self.flash_kind)

    def has_person(self) -> bool:
        """It holds a token, live or expired (something a revocation or a missing sid must end)."""
        return self.token is not None

    def ended(self) -> Session:
        """Signed out by the portal rather than by the person (its sid revoked on another request, or no sid): the
        person gone, the language, flash and CSRF secret kept (the cookie was the person's own, or its copy, in
        either case no one else's, so a form still open in another tab, sign-out included, still posts)."""
        return Session(csrf_secret=self.csrf_secret, lang=self.lang, flash=self.flash, flash_kind=self.flash_kind)

    def with_flash(self, message: str, kind: str = "info") -> Session:
        return replace(self, flash=message, flash_kind=kind)


def new_csrf_secret() -> str:
    return secrets.token_urlsafe(32)


def new_sid() -> str:
    """128 random bits, URL-safe base64 (also a valid NATS key-value key)."""
    return secrets.token_urlsafe(16)


def new_session(lang: str = "id") -> Session:
    return Session(csrf_secret=new_csrf_secret(), lang=lang)


class SessionCodec:
    """Session <-> cookie value: version byte, 12-byte nonce, AES-GCM ciphertext, base64url without padding."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the session key must be 32 bytes")
        self._aead = AESGCM(key)

    def encode(self, session: Session) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        body = self._aead.encrypt(nonce, orjson.dumps(asdict(session)), COOKIE_NAME.encode())
        return base64.urlsafe_b64encode(_VERSION + nonce + body).rstrip(b"=").decode()

    def decode(self, value: str | None) -> Session | None:
        """The session, or None for a missing, tampered, foreign or unreadable cookie (a new session starts)."""
        if not value or len(value) > 8192:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) < 1 + _NONCE_BYTES + 16 or raw[:1] != _VERSION:
            return None
        try:
            plain = self._aead.decrypt(raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :], COOKIE_NAME.encode())
            data: Any = orjson.loads(plain)
            return Session(**data)
        except (InvalidTag, orjson.JSONDecodeError, TypeError):
            return None
