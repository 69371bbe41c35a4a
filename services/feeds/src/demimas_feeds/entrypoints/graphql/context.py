"""The feeds subgraph's per-request context: the common service context with the service's settings, the endpoint
rules (secret key, URL policy, rotation grace, clock) and the stream reader of the change feed and replays."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from demimas_common.auth.principal import Principal
from demimas_common.errors import Unavailable
from demimas_common.graphql.context import ServiceContext
from demimas_feeds.adapters.stream_reader import StreamReader
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.service_layer.endpoints import EndpointRules
from demimas_feeds.settings import FeedsSettings

__all__ = ["Ctx", "FeedsContext"]


class FeedsContext(ServiceContext[FeedsUnitOfWork]):
    def __init__(
        self,
        principal: Principal | None,
        *,
        settings: FeedsSettings,
        rules: EndpointRules,
        reader: StreamReader | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(principal, **kwargs)
        self.settings = settings
        self.rules = rules
        self.reader = reader

    def require_reader(self) -> StreamReader:
        if self.reader is None:
            raise Unavailable("this process does not read the event stream")
        return self.reader


Ctx = Info[FeedsContext, None]
