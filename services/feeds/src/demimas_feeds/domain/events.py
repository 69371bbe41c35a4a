"""The feeds service's events (`demimas.feeds.endpoint.*`, docs/contracts.md): ids, types, codes and statuses of an
endpoint, never its URL (a receiver's token may ride in its query) nor a secret. The subject is the endpoint id;
visibility.py hands them only to the endpoint's own agency."""

from __future__ import annotations

import datetime as dt
from typing import Any

from demimas_common.events.envelope import Actor, CloudEvent, new_event
from demimas_feeds.domain.endpoint import Endpoint

__all__ = [
    "DISABLED_BY_AGENCY",
    "DISABLED_FAILING",
    "endpoint_created",
    "endpoint_deleted",
    "endpoint_disabled",
    "endpoint_enabled",
    "endpoint_updated",
    "secret_rotated",
]

PREFIX = "demimas.feeds.endpoint."
DISABLED_BY_AGENCY = "by_agency"
DISABLED_FAILING = "failing"


def _base(e: Endpoint) -> dict[str, Any]:
    return {
        "endpointId": str(e.id),
        "agency": e.agency,
        "status": e.status.value,
        "eventTypes": list(e.event_types),
        "regionPrefix": e.region_prefix,
        "ownerRegion": e.owner_region,
        "version": e.version,
    }


def _event(name: str, e: Endpoint, actor: Actor | None, **extra: Any) -> CloudEvent:
    return new_event(PREFIX + name, str(e.id), {**_base(e), **extra}, actor=actor)


def endpoint_created(e: Endpoint, actor: Actor) -> CloudEvent:
    return _event("created", e, actor)


def endpoint_updated(e: Endpoint, actor: Actor) -> CloudEvent:
    return _event("updated", e, actor)


def secret_rotated(e: Endpoint, actor: Actor, old_secret_expires_at: dt.datetime) -> CloudEvent:
    return _event("secret_rotated", e, actor, oldSecretExpiresAt=old_secret_expires_at.isoformat())


def endpoint_disabled(e: Endpoint, actor: Actor | None, reason: str = DISABLED_BY_AGENCY) -> CloudEvent:
    """`reason`: `by_agency`, or `failing` when the engine disables an endpoint that failed too long (actor None)."""
    failing = e.failing_since.isoformat() if e.failing_since is not None else None
    return _event("disabled", e, actor, reason=reason, failingSince=failing)


def endpoint_enabled(e: Endpoint, actor: Actor) -> CloudEvent:
    return _event("enabled", e, actor)


def endpoint_deleted(e: Endpoint, actor: Actor) -> CloudEvent:
    return _event("deleted", e, actor)
