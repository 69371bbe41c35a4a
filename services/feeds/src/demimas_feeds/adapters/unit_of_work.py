"""The feeds service's unit of work: the common one (one transaction, its events in the outbox) with the feeds
repositories on its connection."""

from __future__ import annotations

from demimas_common.db.uow import UnitOfWork
from demimas_feeds.adapters.endpoints import EndpointRepository

__all__ = ["FeedsUnitOfWork"]


class FeedsUnitOfWork(UnitOfWork):
    endpoints: EndpointRepository

    def _begin(self) -> None:
        self.endpoints = EndpointRepository(self.connection)
