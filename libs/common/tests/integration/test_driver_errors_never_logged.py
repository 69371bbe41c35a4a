"""A statement that fails never puts the values it carried into a service's log or a span (docs/personal-data.md).

A database error's text is built from the values of the statement: SQLAlchemy appends `[parameters: (...)]` (every
bound value), and the driver appends PostgreSQL's DETAIL (`Key (nik)=(...) already exists`, `Failing row contains
(..., <name>, <birth date>, <address>, ...)`). The masking log handler masks NIK- and phone-shaped values only, so a
name, a birth date, an address or a note in that text would reach the log in clear, as would the statement span's
status, which the SQL instrumentation writes from the driver's text.

The test makes real statements fail against the test devstack's PostgreSQL, in each way a constraint can refuse a
row, logs each failure as a subgraph does (`log_unexpected`, through the handler `configure_logging` installs) and
searches the whole log and every span for every value the statements carried.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from graphql import GraphQLError
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.db.engine import create_engine
from demimas_common.devstack.testing import TestStack
from demimas_common.graphql.errors import log_unexpected
from demimas_common.logs import configure_logging
from demimas_common.settings import CommonSettings
from demimas_common.telemetry import configure_tracing, instrument_engine

pytestmark = pytest.mark.integration


@pytest.fixture
async def people(stack: TestStack) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """A throw-away table shaped like the registry's: a unique NIK, required personal columns, a checked one."""
    schema = f"pii_{uuid.uuid4().hex[:10]}"
    engine = create_engine(stack.database_url, pool_size=2)
    instrument_engine(engine)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.execute(
            text(
                f'CREATE TABLE "{schema}".people (nik text NOT NULL UNIQUE, full_name text NOT NULL, '
                "birth_date date NOT NULL, address text CHECK (length(address) < 60), note text NOT NULL)"
            )
        )
    try:
        yield engine, schema
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """What the service's own handler (`configure_logging`: masked JSON) writes."""
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", "test")
    written = io.StringIO()
    handler.setStream(written)  # type: ignore[attr-defined]
    try:
        yield written
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def recorded_texts(span: ReadableSpan) -> Iterator[str]:
    yield from (str(v) for v in (span.attributes or {}).values())
    yield from (str(v) for event in span.events for v in (event.attributes or {}).values())
    yield span.status.description or ""


def person() -> dict[str, Any]:
    letters = str.maketrans("0123456789", "bcdfghjklm")
    tag = f"{secrets.randbelow(10**6):06d}".translate(letters)
    return {
        "nik": f"3201{secrets.randbelow(10**12):012d}",
        "full_name": f"Siti Aminah {tag}",
        "birth_date": dt.date(1960 + secrets.randbelow(40), 1 + secrets.randbelow(12), 1 + secrets.randbelow(28)),
        "address": f"Jalan Kenanga {tag}",
        "note": f"dipukul majikan {tag}",
    }


def forms(value: Any) -> list[str]:
    """The ways a value can be written in an error's text."""
    if isinstance(value, dt.date):
        return [value.isoformat(), repr(value), f"{value.day:02d}/{value.month:02d}/{value.year}"]
    return [str(value)]


async def test_failed_statements_leave_no_value_in_logs_or_spans(
    people: tuple[AsyncEngine, str], service_log: io.StringIO
) -> None:
    engine, schema = people
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    configure_tracing("test", CommonSettings()).add_span_processor(processor)
    insert = text(
        f'INSERT INTO "{schema}".people (nik, full_name, birth_date, address, note) '
        "VALUES (:nik, :full_name, :birth_date, :address, :note)"
    )
    first = person()
    async with engine.begin() as conn:
        await conn.execute(insert, first)
    used = [first]
    faults = {
        "unique violation": {**person(), "nik": first["nik"]},
        "not-null violation": {**person(), "note": None},
        "check violation": {**person(), "address": "Jalan Kenanga " + "x" * 60},
        "a value the driver cannot send": {**person(), "birth_date": f"{secrets.randbelow(28) + 1:02d}-13-1987"},
    }
    try:
        for fault, row in faults.items():
            used.append(row)
            with pytest.raises(DBAPIError) as caught:
                async with engine.begin() as conn:
                    await conn.execute(insert, row)
            log_unexpected([GraphQLError("x", path=["registerWorker"], original_error=caught.value)], fault)
    finally:
        exporter.shutdown()  # not the processor: the provider keeps it, and a shut down one warns on every span

    written = service_log.getvalue()
    assert written.count('"level":"ERROR"') == len(faults), written  # each failure was logged
    failed = [s for s in exporter.get_finished_spans() if s.status.description is not None]
    assert len(failed) == len(faults), [s.name for s in exporter.get_finished_spans()]
    texts = {"the service log": written} | {
        f"span {n} {s.name}": "\n".join(recorded_texts(s)) for n, s in enumerate(failed)
    }
    found = [
        f"{where}: the {column} of the {n}. row"
        for where, recorded in texts.items()
        for n, row in enumerate(used, start=1)
        for column, value in row.items()
        if value is not None and column != "nik"  # a NIK is masked by shape; the others cannot be
        for form in forms(value)
        if form in recorded
    ]
    assert found == [], "\n".join(found)
    assert not [row["nik"] for row in used if row["nik"] in "\n".join(texts.values())]
