"""Ready-made readiness checks for `create_app(readiness=...)`. A check is an async callable that returns when its
dependency answers and raises otherwise; its `__name__` is what `/readyz` reports when it fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["ReadinessCheck", "database_ready", "nats_ready"]

ReadinessCheck = Callable[[], Awaitable[None]]


def database_ready(engine: AsyncEngine) -> ReadinessCheck:
    async def database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return database


def nats_ready(server: str | Client) -> ReadinessCheck:
    """With a URL: connect once (no reconnect loop) and flush. With the service's own client: it is connected and
    a flush (a PING round trip) comes back, which says more than a fresh connection would."""

    async def nats() -> None:
        if not isinstance(server, str):
            if not server.is_connected:
                raise ConnectionError("the NATS client is not connected")
            await server.flush(timeout=2)
            return
        from demimas_common.events.nats import connect

        nc = await connect(server, name="readyz", reconnect=False)
        try:
            await nc.flush(timeout=2)
        finally:
            await nc.close()

    return nats
