"""What the feeds use cases need of a unit of work (the PostgreSQL one in adapters/unit_of_work.py, or a fake)."""

from __future__ import annotations

from typing import Protocol

from demimas_common.events.envelope import CloudEvent
from demimas_feeds.adapters.endpoints import EndpointRepository

__all__ = ["FeedsUoW"]


class FeedsUoW(Protocol):
    endpoints: EndpointRepository

    def publish(self, event: CloudEvent) -> None: ...

    async def commit(self) -> None: ...
