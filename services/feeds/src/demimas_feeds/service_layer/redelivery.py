"""Redelivery and replay (OWNED BY THE ENGINE HELPER, branch i19-engine: this is the core branch's stub with the
agreed signatures, so that the GraphQL mutations `redeliver` and `replayWebhookEndpoint` exist; the engine's version
replaces this file whole).

    redeliver(uow, principal, delivery_id) -> Delivery   a new attempt of the same delivery, same webhook-id
    replay(uow, principal, endpoint_id, since, reader) -> int   new PENDING deliveries (replay_of set), how many
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from demimas_common.auth.principal import Principal
from demimas_feeds.adapters.stream_reader import StreamReader

__all__ = ["redeliver", "replay"]


async def redeliver(uow: Any, principal: Principal, delivery_id: UUID) -> Any:
    raise NotImplementedError("redelivery comes with the delivery engine (branch i19-engine)")


async def replay(uow: Any, principal: Principal, endpoint_id: UUID, since: dt.datetime, reader: StreamReader) -> int:
    raise NotImplementedError("replay comes with the delivery engine (branch i19-engine)")
