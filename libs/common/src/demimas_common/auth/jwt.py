"""JWT verification (ARCHITECTURE.md contract): EdDSA or RS256 with `kid`, issuer, audience, expiry with leeway,
keys from a JWKS file (re-read when it changes: key rotation) or URL (cached, refetched on an unknown `kid`).

Every failure is `Unauthenticated` with a specific message and a stable `reason`. Scopes in a token are cut down
to the agency's default grants, so even a validly signed over-broad token gets nothing more.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal, Purpose
from demimas_common.errors import BadUserInput, Unauthenticated
from demimas_common.settings import CommonSettings

__all__ = ["ALGORITHMS", "JwksSource", "TokenVerifier"]

ALGORITHMS = ("EdDSA", "RS256")
_REQUIRED = ["iss", "aud", "exp", "iat", "sub", "agency"]


def _fail(reason: str, message: str) -> Unauthenticated:
    return Unauthenticated(message, reason=reason)


@dataclass
class JwksSource:
    """Keys by `kid`, from a file (reloaded on change) or a URL (TTL cache, refetch on unknown kid)."""

    path: Path | None = None
    url: str | None = None
    ttl_seconds: float = 300.0
    min_refetch_seconds: float = 30.0

    def __post_init__(self) -> None:
        self._keys: dict[str, PyJWK] = {}
        self._stamp: float | None = None
        self._fetched_at = 0.0

    def _parse(self, raw: str | bytes) -> dict[str, PyJWK]:
        keys: dict[str, PyJWK] = {}
        for item in json.loads(raw).get("keys", []):
            kid = item.get("kid")
            if kid and item.get("alg", "EdDSA") in ALGORITHMS:
                keys[str(kid)] = PyJWK(
                    item, algorithm=item.get("alg") or ("EdDSA" if item.get("kty") == "OKP" else "RS256")
                )
        return keys

    def _refresh(self, *, force: bool) -> None:
        if self.path is not None:
            stamp = self.path.stat().st_mtime_ns
            if force or stamp != self._stamp:
                self._keys, self._stamp = self._parse(self.path.read_bytes()), stamp
            return
        if self.url is not None:
            now = time.monotonic()
            stale = now - self._fetched_at > self.ttl_seconds
            may_refetch = now - self._fetched_at > self.min_refetch_seconds
            if stale or (force and may_refetch):
                response = httpx.get(self.url, timeout=5.0)
                response.raise_for_status()
                self._keys, self._fetched_at = self._parse(response.content), now

    def key(self, kid: str) -> PyJWK:
        try:
            self._refresh(force=False)
            if kid not in self._keys:
                self._refresh(force=True)
        except (OSError, httpx.HTTPError, ValueError) as exc:
            raise _fail("jwks_unavailable", f"the signing keys cannot be read: {type(exc).__name__}") from None
        found = self._keys.get(kid)
        if found is None:
            raise _fail("unknown_kid", f"unknown key id {kid!r}: the token was not signed by a trusted issuer key")
        return found


class TokenVerifier:
    def __init__(self, settings: CommonSettings) -> None:
        if settings.jwks_path is None and settings.jwks_url is None:
            raise ValueError("set DEMIMAS_JWKS_PATH or DEMIMAS_JWKS_URL (the devstack writes the path)")
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.leeway = settings.jwt_leeway_seconds
        self.jwks = JwksSource(path=settings.jwks_path, url=settings.jwks_url)

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise _fail("malformed", "malformed token: not a signed JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise _fail("algorithm", f"token algorithm {alg!r} is not accepted (use EdDSA or RS256)")
        if not kid:
            raise _fail("no_kid", "token header has no key id (kid)")
        key = self.jwks.key(str(kid))
        if key.algorithm_name != alg:
            raise _fail("algorithm", f"key {kid!r} is for {key.algorithm_name}, the token says {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise _fail("expired", "token expired; ask your identity provider for a new one") from None
        except jwt.ImmatureSignatureError:
            raise _fail("not_yet_valid", "token is not valid yet (nbf/iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise _fail("audience", f"token is for another audience; this service expects {self.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise _fail("issuer", f"token comes from another issuer; this service trusts {self.issuer!r}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _fail("missing_claim", f"token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise _fail("signature", "token signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise _fail("invalid", f"token is invalid: {type(exc).__name__}") from None
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        try:
            agency = Agency(str(claims["agency"]))
        except ValueError:
            raise _fail("agency", f"unknown agency {claims['agency']!r}") from None
        asked = frozenset(str(claims.get("scope", "")).split())
        region = claims.get("region")
        if region is not None and not isinstance(region, str):
            raise _fail("region", "the region claim must be a string such as 16.06")
        purpose = None
        if claims.get("purpose") is not None:
            try:
                purpose = Purpose.parse(str(claims["purpose"]))
            except BadUserInput:
                raise _fail("purpose", f"unknown purpose {claims['purpose']!r} in token") from None
        return Principal(
            sub=str(claims["sub"]),
            agency=agency,
            scopes=asked & DEFAULT_GRANTS[agency],
            region=region,
            purpose=purpose,
            token_id=claims.get("jti"),
        )

    def from_authorization(self, header: str | None) -> Principal | None:
        """`Authorization: Bearer <jwt>` -> Principal; no header -> None; anything else -> Unauthenticated."""
        if header is None or not header.strip():
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _fail("scheme", "use `Authorization: Bearer <token>`")
        return self.verify(token.strip())
