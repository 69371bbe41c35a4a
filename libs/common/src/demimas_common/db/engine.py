"""The async engine (SQLAlchemy 2 over asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from demimas_common.db.urls import sqlalchemy_url

__all__ = ["create_engine"]


def create_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # asyncpg's statement cache would pin plans across migrations of the same session; keep it small.
        connect_args={"server_settings": {"application_name": kwargs.pop("application_name", "demimas")}},
        **kwargs,
    )
