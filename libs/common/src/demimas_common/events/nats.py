"""Connecting to NATS: quiet (no stack traces on every reconnect), reconnecting forever by default."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client

__all__ = ["connect"]

log = logging.getLogger("demimas.nats")


async def connect(
    url: str,
    *,
    name: str,
    reconnect: bool = True,
    connect_timeout: float = 2.0,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
) -> Client:
    """`url` may list several servers of a cluster, comma-separated (`nats://a:4222,nats://b:4222`): the client
    connects to one that answers and fails over to the others (and to the peers the cluster announces).
    `on_reconnect` runs after each reconnect (a watcher re-subscribes there: what the server held for its
    subscription may be gone)."""

    async def on_error(exc: Exception) -> None:
        if reconnect:
            log.warning("NATS %s: %s", name, type(exc).__name__)

    async def on_disconnected() -> None:
        log.warning("NATS %s: disconnected", name)

    async def on_reconnected() -> None:
        log.info("NATS %s: reconnected", name)
        if on_reconnect is not None:
            await on_reconnect()

    return await nats.connect(
        servers=[u.strip() for u in url.split(",") if u.strip()],
        name=name,
        allow_reconnect=reconnect,
        # nats-py treats 0 as "no limit" on the first connect; 1 means: try once, then raise NoServersError.
        max_reconnect_attempts=-1 if reconnect else 1,
        reconnect_time_wait=0.5,
        connect_timeout=connect_timeout,
        # A one-shot connection (probes, commands) has nothing to report when it closes.
        error_cb=on_error,
        disconnected_cb=on_disconnected if reconnect else None,
        reconnected_cb=on_reconnected if reconnect else None,
    )
