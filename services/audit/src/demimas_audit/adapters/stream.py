"""Reading `demimas.>` for the chain: an ordered JetStream consumer that starts right after a given stream sequence
(where the chain's head says reading stopped). It acknowledges nothing: the position is the store's own."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy

from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM

__all__ = ["StreamMessage", "StreamReader"]


@dataclass(frozen=True, slots=True)
class StreamMessage:
    stream_seq: int
    subject: str
    data: bytes


class StreamReader:
    def __init__(self, nc: Client, sub: Any) -> None:
        self._nc, self._sub = nc, sub

    @classmethod
    async def open(cls, nats_url: str, *, name: str, after: int) -> StreamReader:
        nc = await connect(nats_url, name=name, connect_timeout=1.0)
        try:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
            sub = await nc.jetstream().subscribe(
                "demimas.>", stream=STREAM, ordered_consumer=True, config=config, idle_heartbeat=2.0
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await nc.close()
            raise
        return cls(nc, sub)

    @property
    def closed(self) -> bool:
        return bool(self._nc.is_closed)

    @property
    def pending(self) -> int:
        """Messages received and not yet taken."""
        return int(self._sub.pending_msgs)

    async def next(self, within: float) -> StreamMessage | None:
        """The next message, or None if none came within `within` seconds."""
        try:
            msg = await self._sub.next_msg(timeout=within)
        except (NatsTimeout, TimeoutError):
            return None
        return StreamMessage(msg.metadata.sequence.stream, msg.subject, msg.data)

    async def last_seq(self) -> int:
        """The stream's last sequence (to tell the lag)."""
        return int((await self._nc.jetstream().stream_info(STREAM)).state.last_seq)

    async def close(self) -> None:
        if not self._nc.is_closed:
            await self._nc.close()
