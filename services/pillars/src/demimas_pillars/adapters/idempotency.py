"""The pillars service's idempotency keys: the common claim (`demimas_common.db.idempotency`) on its table."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.db import idempotency
from demimas_pillars.adapters.tables import idempotency_keys

__all__ = ["IdempotencyKeyRepository"]


class IdempotencyKeyRepository(idempotency.IdempotencyKeyRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection, idempotency_keys)
