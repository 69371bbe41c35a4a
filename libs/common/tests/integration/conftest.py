"""Fixtures for the event machinery: a throw-away schema with outbox, inbox and dead-letter tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.db.engine import create_engine
from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.events.tables import event_tables_ddl


@pytest.fixture
async def event_schema(stack: TestStack) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """A fresh schema per test, with the event tables and an `effects` table consumers write to."""
    schema = f"evt_{uuid.uuid4().hex[:10]}"
    engine = create_engine(stack.database_url, pool_size=5)
    effects = Table("effects", MetaData(schema=schema), Column("event_id", Text), Column("n", Integer))
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        for statement in event_tables_ddl(schema):
            await conn.execute(text(statement))
        await conn.run_sync(effects.metadata.create_all)
    try:
        yield engine, schema
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


@pytest.fixture(scope="session")
async def shared_stream(stack: TestStack) -> None:
    nc = await connect(stack.nats_url, name="test-stream")
    try:
        await ensure_stream(nc.jetstream())
    finally:
        await nc.close()


async def count_effects(engine: AsyncEngine, schema: str) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(f'SELECT event_id, count(*) FROM "{schema}".effects GROUP BY 1'))).all()
    return {str(r[0]): int(r[1]) for r in rows}


def record_effect(schema: str) -> Any:
    async def handler(conn: Any, event: Any) -> None:
        await conn.execute(text(f'INSERT INTO "{schema}".effects (event_id, n) VALUES (:id, 1)'), {"id": event.id})

    return handler
