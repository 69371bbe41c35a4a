"""Claiming an idempotency key in the caller's transaction, before the create writes anything.

The primary key (agency, key) is where two attempts meet: the second one's insert waits for the first transaction,
then does nothing if it committed (and goes ahead if it rolled back); the second then reads the committed row (READ
COMMITTED: a new statement sees it) and either returns the earlier row's id or refuses a different input."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Column, DateTime, MetaData, Table, Text, Uuid, and_, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from demimas_common.errors import Conflict

__all__ = ["IdempotencyKeyRepository", "idempotency_key_table", "prune_idempotency_keys"]


def idempotency_key_table(metadata: MetaData) -> Table:
    """The `idempotency_keys` table of a service's schema (its DDL is in the service's migrations)."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("agency", Text, primary_key=True),
        Column("key", Text(collation="C"), primary_key=True),
        Column("operation", Text, nullable=False),
        Column("fingerprint", Text, nullable=False),
        Column("resource_id", Uuid, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


class IdempotencyKeyRepository:
    def __init__(self, connection: AsyncConnection, table: Table) -> None:
        self._conn = connection
        self._table = table

    async def claim(
        self,
        *,
        agency: str,
        key: str,
        operation: str,
        fingerprint: str,
        resource_id: uuid.UUID,
        at: dt.datetime,
    ) -> uuid.UUID | None:
        """None when this attempt holds the key now (make the row `resource_id`, commit with it); the id of the row an
        earlier attempt with the same key and input made (write nothing); CONFLICT (`idempotency_key_reused`) when the
        key was used with another input or for another operation."""
        t = self._table
        for _ in range(3):  # a row can only vanish if keys are ever pruned between the insert and the read
            inserted = await self._conn.scalar(
                pg_insert(t)
                .values(agency=agency, key=key, operation=operation, fingerprint=fingerprint, resource_id=resource_id,
                        created_at=at)
                .on_conflict_do_nothing(index_elements=[t.c.agency, t.c.key])
                .returning(t.c.resource_id)
            )  # fmt: skip
            if inserted is not None:
                return None
            row = (await self._conn.execute(select(t).where(and_(t.c.agency == agency, t.c.key == key)))).first()
            if row is None:
                continue
            if row.operation != operation or row.fingerprint != fingerprint:
                what = f"a different {operation} input" if row.operation == operation else str(row.operation)
                when = row.created_at.astimezone(dt.UTC)
                raise Conflict(
                    f"idempotencyKey {key!r} was already used by {agency} on {when:%Y-%m-%d %H:%M} UTC for "
                    f"{what}: to get the answer of that request, send it again unchanged; for a new request, use a "
                    "new key",
                    field="idempotencyKey",
                    reason="idempotency_key_reused",
                )
            found: uuid.UUID = row.resource_id
            return found
        raise RuntimeError(f"idempotency key {key!r} of {agency} neither inserted nor found")

    async def prune(self, *, older_than: dt.datetime) -> int:
        """Forget keys claimed before `older_than` (a retry that late would record again): how many were dropped.
        Safe beside claims in flight (a claim whose key vanished between its insert and its read claims again)."""
        result = await self._conn.execute(delete(self._table).where(self._table.c.created_at < older_than))
        return int(result.rowcount or 0)


async def prune_idempotency_keys(engine: AsyncEngine, table: Table, retention_days: int) -> int:
    """Forget the keys of `table` claimed more than `retention_days` ago, in a transaction of its own; how many.
    Each replica may run it (deleting is idempotent)."""
    older_than = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
    async with engine.begin() as conn:
        return await IdempotencyKeyRepository(conn, table).prune(older_than=older_than)
