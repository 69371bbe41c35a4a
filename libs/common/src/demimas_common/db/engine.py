"""The async engine (SQLAlchemy 2 over asyncpg)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from demimas_common.db.urls import sqlalchemy_url

__all__ = ["create_engine", "run_with_engine"]

T = TypeVar("T")


def create_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # A failed statement's error would otherwise end with `[parameters: (<nik>, <name>, <birth date>, ...)]`,
        # and errors are logged: no bound value is ever written into an error's text (docs/personal-data.md).
        hide_parameters=True,
        # asyncpg's statement cache would pin plans across migrations of the same session; keep it small.
        connect_args={"server_settings": {"application_name": kwargs.pop("application_name", "demimas")}},
        **kwargs,
    )


def run_with_engine(url: str, fn: Callable[[AsyncEngine], Awaitable[T]], *, pool_size: int = 1) -> T:
    """What a `demimas <service> ...` command does with the database: run `fn(engine)` to completion on an engine of
    its own, disposed afterwards whatever happens (from synchronous code: this starts the event loop)."""

    async def run() -> T:
        engine = create_engine(url, pool_size=pool_size)
        try:
            return await fn(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())
