"""Default grants per agency (the table of docs/contracts.md). A token's `scope` claim may narrow them, never widen."""

from __future__ import annotations

from demimas_common.auth.principal import Agency

__all__ = ["ALL_SCOPES", "DEFAULT_GRANTS", "FEEDS_SCOPES", "REGIONAL_AGENCIES"]

FEEDS_SCOPES = frozenset({"feeds:manage", "feeds:read"})
"""Webhook endpoints and the change feed (the feeds service): what an agency receives is still bounded by its other
grants and its region, so these add a way of receiving, never more data."""

ALL_SCOPES = frozenset(
    """registry:read registry:write stats:read pii:read family:read designation:propose designation:verify
    designation:decide pillars:read pillars:write pilot:read pilot:write audit:read subject:report case:read
    case:write feeds:manage feeds:read""".split()
)

DEFAULT_GRANTS: dict[Agency, frozenset[str]] = {
    Agency.KP2MI: frozenset(
        """registry:read registry:write stats:read pii:read family:read designation:propose designation:verify
        designation:decide pillars:read pillars:write pilot:read pilot:write subject:report case:read
        case:write""".split()
    )
    | FEEDS_SCOPES,
    Agency.BP3MI: frozenset(
        """registry:read registry:write stats:read pii:read family:read designation:verify pillars:read
        pillars:write pilot:read case:read case:write""".split()
    )
    | FEEDS_SCOPES,
    Agency.DISNAKER: frozenset(
        "registry:read registry:write stats:read pii:read designation:propose pillars:read case:read case:write".split()
    )
    | FEEDS_SCOPES,
    Agency.KEMENPPPA: frozenset(
        """registry:read stats:read family:read pillars:read pillars:write pilot:read pilot:write case:read
        case:write""".split()
    )
    | FEEDS_SCOPES,
    Agency.KEMENDES: frozenset("stats:read pillars:read pillars:write pilot:read pilot:write".split()) | FEEDS_SCOPES,
    Agency.BNN: frozenset("stats:read pillars:read pillars:write pilot:read pilot:write case:read case:write".split())
    | FEEDS_SCOPES,
    Agency.KEMENIMIPAS: frozenset(
        "registry:read stats:read pillars:read pillars:write pilot:read pilot:write case:read case:write".split()
    )
    | FEEDS_SCOPES,
    Agency.KEMENKO_POLKAM: frozenset("stats:read pillars:read pilot:read pilot:write".split()),
    Agency.AUDITOR: frozenset("audit:read stats:read".split()),
}

# Agencies whose tokens carry a region (a provincial or regency office).
REGIONAL_AGENCIES = frozenset({Agency.BP3MI, Agency.DISNAKER})
