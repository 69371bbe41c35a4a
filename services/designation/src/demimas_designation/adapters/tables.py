"""The designation service's tables in schema `designation`, with the event machinery (outbox, inbox, dead letters).

The village-stats projection keeps each worker's last known state (what the next event is compared with) and the
per-village counters derived from them. Village codes use the "C" collation so a region prefix is a range scan."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, MetaData, PrimaryKeyConstraint, Table, Text, Uuid

from demimas_common.events.tables import event_tables

__all__ = ["SCHEMA", "events", "metadata", "village_counts", "worker_states"]

SCHEMA = "designation"
metadata = MetaData(schema=SCHEMA)
CODE = Text(collation="C")
events = event_tables(SCHEMA, metadata)

worker_states = Table(
    "worker_states",
    metadata,
    Column("worker_id", Uuid, primary_key=True),
    Column("village_code", CODE, nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("procedural", Boolean),
    Column("procedural_version", Integer, nullable=False),
)

village_counts = Table(
    "village_counts",
    metadata,
    Column("village_code", CODE, nullable=False),
    Column("counter", Text, nullable=False),
    Column("value", Integer, nullable=False),
    PrimaryKeyConstraint("village_code", "counter"),
)
