"""What callers ask of the feeds service (built by the GraphQL entrypoint)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

__all__ = ["CreateEndpoint", "EndpointAction", "UpdateEndpoint"]


@dataclass(frozen=True)
class CreateEndpoint:
    url: str
    event_types: tuple[str, ...]
    region_prefix: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class EndpointAction:
    """Rotate, disable, enable or delete one endpoint."""

    endpoint_id: uuid.UUID


@dataclass(frozen=True)
class UpdateEndpoint:
    """None: unchanged. `region_prefix=""` removes the region filter."""

    endpoint_id: uuid.UUID
    url: str | None = None
    event_types: tuple[str, ...] | None = None
    region_prefix: str | None = None
    description: str | None = None
