"""The signed-in person's grants as the nav needs them: which pages to offer.

Read from the token's `scope` claim without checking its signature: the portal does not decide access, the gateway
does (a page the grants do not cover is still refused there, with the 403 page). This only keeps links to pages the
agency could not open out of its navigation.
"""

from __future__ import annotations

import base64

import orjson

__all__ = ["home", "token_scopes"]


def token_scopes(token: str | None) -> frozenset[str]:
    """The scopes a JWT's payload names (`scope`, space separated; or `scp`, a list); none when it cannot be read."""
    if not token or token.count(".") != 2:
        return frozenset()
    payload = token.split(".")[1]
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return frozenset()
    if not isinstance(claims, dict):
        return frozenset()
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    listed = claims.get("scp")
    if isinstance(listed, list):
        return frozenset(str(s) for s in listed)
    return frozenset()


def home(token: str | None) -> str:
    """Where a signed-in person starts: the pilots for the tracker's agencies, the audit search for an auditor."""
    scopes = token_scopes(token)
    if "pilot:read" not in scopes and "audit:read" in scopes:
        return "/audit"
    return "/pilots"
