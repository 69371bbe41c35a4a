"""The feeds subgraph's per-request context: the common service context with the service's settings (the secret
key, the rotation grace, the change feed's limits) and, when the app has one, the stream reader of the change feed."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from demimas_common.auth.principal import Principal
from demimas_common.graphql.context import ServiceContext
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.settings import FeedsSettings

__all__ = ["Ctx", "FeedsContext"]


class FeedsContext(ServiceContext[FeedsUnitOfWork]):
    def __init__(self, principal: Principal | None, *, settings: FeedsSettings, **kwargs: Any) -> None:
        super().__init__(principal, **kwargs)
        self.settings = settings


Ctx = Info[FeedsContext, None]
