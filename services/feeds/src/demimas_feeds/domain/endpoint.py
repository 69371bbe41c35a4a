"""A webhook endpoint: an agency's receiver of the events it may see, and the rules of its fields.

- `event_types`: 1 to 50 patterns, each an exact contract type, a prefix ending in `.*` on whole segments
  (`demimas.registry.*`, `demimas.registry.worker.*`) or `*`; each must match at least one type the creating
  principal may receive (visibility.py): a pattern that can never deliver anything is a mistake worth telling.
- `region_prefix`: a Kemendagri region code; for a principal with a region it must lie within that region.
- `description`: at most 500 characters.
- Who sees it: its agency; a principal with a region only the endpoints created within its region (`owner_region`
  covered by it), so that one regional office cannot redirect or read the queue of another's endpoint.
- Deliveries are filtered with the creating principal's scopes and region, frozen at creation (`owner_scopes`,
  `owner_region`): never wider than what that principal could read itself, and never wider than what the agency
  is granted now (`effective_scopes`): a release that narrows an agency's grants narrows its endpoints with it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal, region_covers
from demimas_common.errors import BadUserInput, Forbidden, NotFound
from demimas_common.events.schemas import KNOWN_TYPES
from demimas_common.graphql.village import parse_region_prefix
from demimas_feeds.visibility import Audience, matches_types, receivable

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_EVENT_TYPES",
    "Endpoint",
    "EndpointStatus",
    "check_description",
    "check_event_types",
    "check_region_prefix",
    "check_types_syntax",
    "effective_scopes",
    "require_visible",
    "visible_to",
]

MAX_EVENT_TYPES = 50
_PATTERN = re.compile(r"^demimas(\.[a-z_]+){1,3}(\.\*)?$")
MAX_DESCRIPTION = 500


def effective_scopes(agency: str, frozen: frozenset[str] | list[str] | tuple[str, ...]) -> frozenset[str]:
    """The grants an endpoint delivers with: those frozen from the token that created or last updated it, within
    what its agency is granted today. Frozen grants alone would outlive a narrowing of the agency's grants (a token
    minted now could no longer read what its old endpoints still received); an agency no longer known gets none."""
    try:
        granted = DEFAULT_GRANTS[Agency(agency)]
    except (ValueError, KeyError):
        return frozenset()
    return frozenset(frozen) & granted


class EndpointStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@dataclass(frozen=True)
class Endpoint:
    id: uuid.UUID
    agency: str
    url: str
    description: str
    event_types: tuple[str, ...]
    region_prefix: str | None
    owner_scopes: frozenset[str]
    owner_region: str | None
    status: EndpointStatus
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    disabled_reason: str | None = None
    disabled_at: dt.datetime | None = None
    failing_since: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    deleted_at: dt.datetime | None = None

    @property
    def audience(self) -> Audience:
        """Whom deliveries are filtered for: the agency with the creating principal's frozen grants and region."""
        return Audience(self.agency, self.owner_scopes, self.owner_region)

    def changed(self, at: dt.datetime, **changes: object) -> Endpoint:
        return replace(self, updated_at=at, version=self.version + 1, **changes)  # type: ignore[arg-type]


def visible_to(endpoint: Endpoint, principal: Principal) -> bool:
    if endpoint.deleted_at is not None or endpoint.agency != principal.agency.value:
        return False
    if principal.region is None:
        return True
    return endpoint.owner_region is not None and region_covers(principal.region, endpoint.owner_region)


def require_visible(endpoint: Endpoint | None, principal: Principal, field: str = "id") -> Endpoint:
    """The endpoint, or NOT_FOUND alike for a missing, deleted or another agency's endpoint."""
    if endpoint is None or not visible_to(endpoint, principal):
        raise NotFound("no webhook endpoint with this id", field=field)
    return endpoint


def require_full_grants(endpoint: Endpoint, principal: Principal, action: str) -> None:
    """FORBIDDEN (`narrower_grants`) unless the token holds every grant the endpoint delivers with: rotating its
    secret (the new one signs deliveries of those grants) and replaying it (the answer counts their events) need
    them all, so a token narrowed to `feeds:manage` can neither forge nor count what it may not read."""
    missing = sorted(endpoint.owner_scopes - frozenset(principal.scopes))
    if missing:
        raise Forbidden(
            f"This endpoint delivers with grants your token lacks; {action} with a token that has them.",
            field="id", reason="narrower_grants", required_scopes=missing,
        )  # fmt: skip


def check_types_syntax(patterns: list[str] | tuple[str, ...], *, field: str = "input.eventTypes") -> tuple[str, ...]:
    """Patterns as given, stripped and without repeats; BAD_USER_INPUT for one that is malformed or matches no
    contract type."""
    cleaned = tuple(dict.fromkeys(p.strip() for p in patterns))
    if not cleaned:
        raise BadUserInput(f"{field.rsplit('.', 1)[-1]} needs at least one type or pattern", field=field)
    if len(cleaned) > MAX_EVENT_TYPES:
        raise BadUserInput(f"{field.rsplit('.', 1)[-1]} takes at most {MAX_EVENT_TYPES} entries", field=field)
    for pattern in cleaned:
        if pattern == "*":
            continue
        if not _PATTERN.match(pattern):
            raise BadUserInput(
                f"{pattern[:80]!r} is not an event type (demimas.<service>.<aggregate>.<event>), a prefix ending in "
                "'.*' or '*'",
                field=field,
                reason="malformed",
            )
        if not any(matches_types(t, (pattern,)) for t in KNOWN_TYPES):
            raise BadUserInput(f"{pattern!r} matches no event type of the contract", field=field, reason="unknown_type")
    return cleaned


def check_event_types(patterns: list[str] | tuple[str, ...], principal: Principal) -> tuple[str, ...]:
    """The endpoint's patterns: well formed, and each naming some type the principal may receive."""
    field = "input.eventTypes"
    cleaned = check_types_syntax(patterns, field=field)
    audience = Audience.of(principal)
    for pattern in cleaned:
        if not any(receivable(t, audience) for t in KNOWN_TYPES if matches_types(t, (pattern,))):
            raise Forbidden(
                f"{principal.agency.value} may receive no event that {pattern!r} names (its grants, or personal "
                "data, which is never delivered)",
                field=field,
                reason="not_receivable",
            )
    return cleaned


def check_region_prefix(value: str | None, principal: Principal) -> str | None:
    field = "input.regionPrefix"
    prefix = parse_region_prefix(value, field)
    if prefix is not None and principal.region is not None and not region_covers(principal.region, prefix):
        raise Forbidden(f"{prefix} lies outside this token's region {principal.region}", field=field)
    return prefix


def check_description(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise BadUserInput(f"description takes at most {MAX_DESCRIPTION} characters", field="input.description")
    return text
