"""The outbox, inbox and dead-letter tables that every service keeps in its own schema.

- `outbox`: events written in the same transaction as the change that caused them; the relay publishes them in
  `seq` order and stamps `published_at`; published rows are kept for the retention period (replay).
- `inbox`: (consumer, event id) of every event a consumer has applied, written in the handler's transaction.
- `dead_letter`: events a consumer gave up on after N attempts, with the error, until `retry-dead`.

A statement-level trigger NOTIFYs `<schema>_outbox` after inserts, waking the relay without polling.

The tables are defined once, here: the services' code writes and reads them through `event_tables`, and each
service's first migration creates them from the same definitions with `event_tables_ddl`
(`demimas_common.events.migrations.create_event_tables`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import CreateTable

__all__ = ["EventTables", "event_tables", "event_tables_ddl", "event_tables_drop_ddl", "notify_channel"]


@dataclass(frozen=True)
class EventTables:
    outbox: Table
    inbox: Table
    dead_letter: Table


_cache: dict[str, EventTables] = {}


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


def event_tables(schema: str, metadata: MetaData | None = None) -> EventTables:
    if metadata is None and schema in _cache:
        return _cache[schema]
    md = metadata or MetaData(schema=schema)
    outbox = Table(
        "outbox",
        md,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("id", Uuid, nullable=False, unique=True),
        Column("type", Text, nullable=False),
        Column("subject", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("traceparent", Text),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text),
        schema=schema,
    )
    inbox = Table(
        "inbox",
        md,
        Column("consumer", Text, nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id"),
        schema=schema,
    )
    dead_letter = Table(
        "dead_letter",
        md,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("consumer", Text, nullable=False),
        Column("event_id", Text),
        Column("subject", Text, nullable=False),
        Column("stream_seq", BigInteger),
        Column("payload", Text, nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("retried_at", DateTime(timezone=True)),
        schema=schema,
    )
    tables = EventTables(outbox=outbox, inbox=inbox, dead_letter=dead_letter)
    if metadata is None:
        _cache[schema] = tables
    return tables


def event_tables_ddl(schema: str) -> list[str]:
    """Every statement creating the event tables of `schema` (which must exist): the tables of `event_tables`,
    their indexes, the NOTIFY trigger. What a service's first migration runs; a test holds the result equal to
    the tables the first migrations wrote by hand before (tests/test_initial_migrations.py)."""
    tables = event_tables(schema)
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    creates = [
        str(CreateTable(table).compile(dialect=dialect)).strip()
        for table in (tables.outbox, tables.inbox, tables.dead_letter)
    ]
    return creates + _indexes_and_trigger(schema)


def event_tables_drop_ddl(schema: str) -> list[str]:
    """Every statement removing what `event_tables_ddl` created (a first migration's downgrade)."""
    return [
        f'DROP TABLE "{schema}".outbox, "{schema}".inbox, "{schema}".dead_letter',
        f'DROP FUNCTION IF EXISTS "{schema}".notify_outbox()',
    ]


def _indexes_and_trigger(schema: str) -> list[str]:
    # The function's body is stored as written, blanks included: any change to this text changes the schema.
    channel = notify_channel(schema)
    return [
        f'CREATE INDEX IF NOT EXISTS outbox_unpublished ON "{schema}".outbox (seq) WHERE published_at IS NULL',
        f'CREATE INDEX IF NOT EXISTS outbox_published_at ON "{schema}".outbox (published_at)',
        f'CREATE INDEX IF NOT EXISTS dead_letter_open ON "{schema}".dead_letter (consumer) WHERE retried_at IS NULL',
        f"""CREATE OR REPLACE FUNCTION "{schema}".notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$""",
        f'DROP TRIGGER IF EXISTS outbox_notify ON "{schema}".outbox',
        f"""CREATE TRIGGER outbox_notify AFTER INSERT ON "{schema}".outbox
            FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".notify_outbox()""",
    ]
