"""Designated villages' portfolios in PostgreSQL (what a designation event changes: domain/portfolio.py)."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_pillars.adapters.tables import portfolios
from demimas_pillars.domain.portfolio import Portfolio

__all__ = ["PortfolioRepository"]


def _portfolio(r: object) -> Portfolio:
    g = r._mapping  # type: ignore[attr-defined]
    return Portfolio(g["village_code"], g["designation_id"], g["status"], g["opened_at"], g["changed_at"])


class PortfolioRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def get_for_update(self, village_code: str) -> Portfolio | None:
        """The village's portfolio, locked until the end of the transaction."""
        stmt = select(portfolios).where(portfolios.c.village_code == village_code).with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return _portfolio(row) if row is not None else None

    async def of_villages(self, codes: list[str]) -> dict[str, Portfolio]:
        rows = await self._conn.execute(select(portfolios).where(portfolios.c.village_code.in_(codes)))
        return {r.village_code: _portfolio(r) for r in rows}

    async def add(self, p: Portfolio) -> None:
        await self._conn.execute(
            insert(portfolios).values(village_code=p.village_code, designation_id=p.designation_id, status=p.status,
                                      opened_at=p.opened_at, changed_at=p.changed_at)
        )  # fmt: skip

    async def save(self, p: Portfolio) -> None:
        await self._conn.execute(
            update(portfolios)
            .where(portfolios.c.village_code == p.village_code)
            .values(designation_id=p.designation_id, status=p.status, opened_at=p.opened_at, changed_at=p.changed_at)
        )
