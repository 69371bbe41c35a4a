"""The ingest lock: a PostgreSQL advisory lock, held by the one replica that reads the stream into the chain for as
long as its dedicated connection lives (outside any transaction); another replica waits and takes over when that
session ends."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["INGEST_LOCK", "release_ingest_lock", "take_ingest_lock"]

INGEST_LOCK = 0x41554449  # "AUDI": pg_try_advisory_lock key of the one reading replica


async def take_ingest_lock(engine: AsyncEngine) -> AsyncConnection | None:
    """The connection holding the lock, or None (and no connection) if another session holds it."""
    conn = await engine.connect()
    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
    if await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": INGEST_LOCK}):
        return conn
    await conn.close()
    return None


async def release_ingest_lock(conn: AsyncConnection) -> None:
    """Give the lock up explicitly: the pool keeps the session when the connection is returned."""
    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": INGEST_LOCK})
