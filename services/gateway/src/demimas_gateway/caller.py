"""Who is asking, as the gateway's pipeline and the `@policy` hook see it (filled in by the HTTP layer from the
verified token and the purpose header). Its own module so that `gateway` and `policies` both import it, and
neither the other."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Caller"]


@dataclass(frozen=True)
class Caller:
    """What the gateway knows of the caller: whether authenticated, its scopes, and the claims policies and the
    purpose rule read (agency, region, purpose: from the token, the purpose also from `X-Demimas-Purpose`)."""

    authenticated: bool = False
    scopes: frozenset[str] = frozenset()
    agency: str | None = None
    region: str | None = None
    purpose: str | None = None
