"""The nav's view of the token's grants (never a decision: the gateway decides)."""

from __future__ import annotations

import base64

import orjson

from demimas_portal.grants import home, token_scopes


def jwt(claims: object) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")

    return f"{part({'alg': 'EdDSA'})}.{part(claims)}.sig"


def test_scopes_from_the_token() -> None:
    assert token_scopes(jwt({"scope": "audit:read stats:read"})) == {"audit:read", "stats:read"}
    assert token_scopes(jwt({"scp": ["pilot:read"]})) == {"pilot:read"}
    for unreadable in (None, "", "a.b", "a.%%%.c", jwt(["not", "a", "dict"]), jwt({"sub": "x"})):
        assert token_scopes(unreadable) == frozenset(), unreadable


def test_where_a_person_starts() -> None:
    assert home(jwt({"scope": "audit:read stats:read"})) == "/audit"
    assert home(jwt({"scope": "pilot:read stats:read"})) == "/pilots"
    assert home(None) == "/pilots"
