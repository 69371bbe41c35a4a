"""Readiness checks and statement tracing against the test devstack's real PostgreSQL and NATS."""

from __future__ import annotations

import time

import pytest
from nats.errors import NoServersError
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text

from demimas_common.db.engine import create_engine
from demimas_common.devstack.ports import free_port
from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.health import database_ready, nats_ready
from demimas_common.settings import CommonSettings
from demimas_common.telemetry import configure_tracing, instrument_engine

pytestmark = pytest.mark.integration


async def test_database_ready(stack: TestStack) -> None:
    engine = create_engine(stack.database_url, pool_size=1)
    try:
        await database_ready(engine)()
    finally:
        await engine.dispose()


async def test_database_not_ready(stack: TestStack) -> None:
    engine = create_engine(stack.postgres.url(database="no_such_db"), pool_size=1)
    try:
        with pytest.raises(Exception, match="no_such_db"):
            await database_ready(engine)()
    finally:
        await engine.dispose()


async def test_nats_ready_by_url_and_by_client(stack: TestStack) -> None:
    await nats_ready(stack.nats_url)()
    client = await connect(stack.nats_url, name="probe-test")
    try:
        await nats_ready(client)()
    finally:
        await client.close()
    with pytest.raises(ConnectionError, match="not connected"):
        await nats_ready(client)()


async def test_nats_not_ready_fails_fast() -> None:
    took = []
    for _ in range(3):  # the quickest of up to three: a loaded CI machine may pause one for seconds, retries slow all
        started = time.monotonic()
        with pytest.raises(NoServersError):
            await nats_ready(f"nats://127.0.0.1:{free_port()}")()
        took.append(time.monotonic() - started)
        if took[-1] < 3:
            break
    assert min(took) < 3, took


async def test_statements_are_spans_of_the_request(stack: TestStack) -> None:
    provider = configure_tracing("test", CommonSettings())
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    engine = create_engine(stack.database_url, pool_size=1)
    instrument_engine(engine)
    try:
        with provider.get_tracer("test").start_as_current_span("request") as request:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 42"))
    finally:
        await engine.dispose()
    statements = [
        s for s in exporter.get_finished_spans() if s.parent and s.parent.span_id == request.get_span_context().span_id
    ]
    assert statements, [s.name for s in exporter.get_finished_spans()]
    assert statements[0].context.trace_id == request.get_span_context().trace_id
