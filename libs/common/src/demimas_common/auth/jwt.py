"""JWT verification (docs/contracts.md, Tokens): EdDSA or RS256 with a `kid` the issuer's JWKS knows, issuer,
audience, `exp`/`nbf`/`iat` with leeway, and the claims `iss aud exp iat sub agency`.

Every failure is `Unauthenticated` with a message that says what to fix and a stable `reason` in
`extensions` (`malformed`, `algorithm`, `no_kid`, `unknown_kid`, `jwks_unavailable`, `signature`, `expired`,
`not_yet_valid`, `issuer`, `audience`, `missing_claim`, `claim`, `agency`, `region`, `purpose`, `invalid`,
`scheme`). A token's scopes are intersected with its agency's default grants, so even a validly signed token that
claims more gets nothing more; a regional office's token without a region is refused (it would see the country).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import jwt
from jwt import PyJWK

from demimas_common.auth.grants import DEFAULT_GRANTS, REGIONAL_AGENCIES
from demimas_common.auth.jwks import ALGORITHMS, JwksSource
from demimas_common.auth.keys import REGION_PATTERN
from demimas_common.auth.principal import Agency, Principal, Purpose
from demimas_common.errors import BadUserInput, Unauthenticated
from demimas_common.settings import CommonSettings

__all__ = ["ALGORITHMS", "REQUIRED_CLAIMS", "TokenVerifier"]

REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "sub", "agency")
MAX_TOKEN_LENGTH = 8192  # real tokens are < 1 kB; refuse megabytes of base64 before decoding them


def _fail(reason: str, message: str) -> Unauthenticated:
    return Unauthenticated(message, reason=reason)


def _when(timestamp: object) -> str:
    if isinstance(timestamp, int | float):
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")
    return "an unreadable time"


class TokenVerifier:
    """Verifies tokens against `settings.jwks_path` (preferred when both are set) or `settings.jwks_url`;
    tests and unusual set-ups pass their own `JwksSource`."""

    def __init__(self, settings: CommonSettings, *, jwks: JwksSource | None = None) -> None:
        if jwks is None:
            if settings.jwks_path is None and settings.jwks_url is None:
                raise ValueError("set DEMIMAS_JWKS_PATH or DEMIMAS_JWKS_URL (the devstack writes the path)")
            jwks = JwksSource(path=settings.jwks_path, url=None if settings.jwks_path else settings.jwks_url)
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.leeway = settings.jwt_leeway_seconds
        self.jwks = jwks

    def verify(self, token: str) -> Principal:
        """The caller a token describes. May read the JWKS file or fetch its URL synchronously when due."""
        alg, kid = self._header(token)
        return self._decode(token, alg, self.jwks.key(kid))

    async def verify_async(self, token: str) -> Principal:
        """`verify` for request handlers: a due JWKS fetch happens without blocking the event loop."""
        alg, kid = self._header(token)
        await self.jwks.prepare(kid)
        return self._decode(token, alg, self.jwks.key(kid))

    def principal_from_authorization(self, header: str | None) -> Principal | None:
        """`Authorization: Bearer <jwt>` -> Principal; no header -> None; anything else -> Unauthenticated."""
        token = _bearer(header)
        return None if token is None else self.verify(token)

    async def principal_from_authorization_async(self, header: str | None) -> Principal | None:
        token = _bearer(header)
        return None if token is None else await self.verify_async(token)

    from_authorization = principal_from_authorization  # the name the registry's upload endpoint uses

    def _header(self, token: str) -> tuple[str, str]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise _fail("malformed", "malformed token: not a compact JWS of a sensible size")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _fail("malformed", "malformed token: not a signed JWT (header.payload.signature)") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise _fail("algorithm", f"token algorithm {str(alg)[:20]!r} is not accepted; tokens are EdDSA or RS256")
        if not isinstance(kid, str) or not kid:
            raise _fail("no_kid", "token header has no key id (kid); the issuer must name its signing key")
        return str(alg), kid

    def _decode(self, token: str, alg: str, key: PyJWK) -> Principal:
        if key.algorithm_name != alg:  # an RSA key must not verify an EdDSA-labelled token, nor the reverse
            raise _fail("algorithm", f"the token says {alg} but its key id names a {key.algorithm_name} key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.InvalidSignatureError:
            raise _fail(
                "signature", "token signature does not verify: it was altered or signed by another key"
            ) from None
        except jwt.ExpiredSignatureError:
            exp = _unverified(token).get("exp")
            raise _fail("expired", f"token expired at {_when(exp)}; get a new one") from None
        except jwt.ImmatureSignatureError:
            claims = _unverified(token)
            raise _fail(
                "not_yet_valid", f"token is not valid before {_when(claims.get('nbf', claims.get('iat')))}"
            ) from None
        except jwt.InvalidAudienceError:
            got = str(_unverified(token).get("aud"))[:100]
            raise _fail("audience", f"wrong audience {got}: this service expects {self.audience!r}") from None
        except jwt.InvalidIssuerError:
            got = str(_unverified(token).get("iss"))[:100]
            raise _fail("issuer", f"wrong issuer {got!r}: this service trusts {self.issuer!r}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _fail("missing_claim", f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise _fail("invalid", f"token is invalid: {exc}") from None
        principal = _principal(claims)
        return replace(principal, expires_at=float(claims["exp"]) + self.leeway)


def _bearer(header: str | None) -> str | None:
    if header is None or not header.strip():
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _fail("scheme", "send the token as `Authorization: Bearer <token>`")
    return token.strip()


def _unverified(token: str) -> dict[str, Any]:
    """Claims for an error message, read only after PyJWT checked the signature (it checks it before claims)."""
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _principal(claims: dict[str, Any]) -> Principal:
    for name in ("sub", "agency", "scope", "region", "purpose"):
        value = claims.get(name)
        if value is not None and not isinstance(value, str):
            raise _fail("claim", f"the {name!r} claim must be a string")
    try:
        agency = Agency(claims["agency"])
    except ValueError:
        raise _fail("agency", f"unknown agency {str(claims['agency'])[:40]!r} in token") from None
    region: str | None = claims.get("region")
    if region is not None and not REGION_PATTERN.match(region):
        raise _fail("region", f"region {region[:40]!r} in token is not a region code prefix such as 16.06")
    if region is None and agency in REGIONAL_AGENCIES:
        raise _fail("region", f"a {agency.value} token must carry its office's region")
    purpose = None
    if claims.get("purpose") is not None:
        try:
            purpose = Purpose.parse(claims["purpose"])
        except BadUserInput:
            raise _fail("purpose", f"unknown purpose {claims['purpose'][:40]!r} in token") from None
    if not claims["sub"]:
        raise _fail("claim", "the 'sub' claim is empty")
    return Principal(
        sub=claims["sub"],
        agency=agency,
        scopes=frozenset(str(claims.get("scope") or "").split()) & DEFAULT_GRANTS[agency],
        region=region,
        purpose=purpose,
        token_id=str(claims["jti"]) if claims.get("jti") is not None else None,
    )
