"""Verified tokens remembered per `Authorization` header, so that a client's every request does not pay for a
signature check (an EdDSA or RS256 verification costs more than planning a cached operation: the security benchmark
measured about 40% of the gateway's throughput on the benchmark query).

An entry is the principal of a token whose signature, issuer, audience and expiry were checked by `TokenVerifier`.
It is used only while the token's own `exp` (plus the verifier's leeway) has not passed, and for at most
`ttl_seconds` (so a key withdrawn from the JWKS stops being honoured within that time). The cache holds at most
`size` entries, least recently used first out.
"""

from __future__ import annotations

import base64
import time
from collections import OrderedDict
from collections.abc import Callable

import orjson

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.principal import Principal

__all__ = ["TokenCache", "token_expiry"]


class TokenCache:
    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        ttl_seconds: float = 60.0,
        size: int = 10_000,
        leeway_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self.ttl = ttl_seconds
        self.size = size
        self.leeway = leeway_seconds
        self.clock = clock
        self._entries: OrderedDict[str, tuple[Principal | None, float]] = OrderedDict()

    async def principal(self, authorization: str) -> Principal | None:
        """The verified principal (None for a header without a bearer token); raises as the verifier does."""
        now = self.clock()
        entry = self._entries.get(authorization)
        if entry is not None:
            principal, until = entry
            if now < until:
                self._entries.move_to_end(authorization)
                return principal
            del self._entries[authorization]
        principal = await self.verifier.principal_from_authorization_async(authorization)
        until = min(now + self.ttl, token_expiry(authorization) + self.leeway)
        if until > now:
            self._entries[authorization] = (principal, until)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return principal


def token_expiry(authorization: str) -> float:
    """The `exp` claim of a token the verifier has just accepted (0 when it has none: then it is not cached)."""
    try:
        payload = authorization.split()[-1].split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return 0.0
