"""The audit schema as SQLAlchemy tables (the migration creates them; keep both in step).

`records` is append-only for the service: its runtime role may SELECT and INSERT, never UPDATE, DELETE or TRUNCATE
(the migration revokes them). `head` is the writer's one-row pointer (last sequence, hash and stream sequence),
moved by each appending transaction only if it is still where the batch was linked (no two writers fork the chain)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, LargeBinary, MetaData, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB

__all__ = ["SCHEMA", "checkpoints", "gaps", "head", "metadata", "records"]

SCHEMA = "audit"
metadata = MetaData(schema=SCHEMA)

records = Table(
    "records",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("stream_seq", BigInteger, nullable=False, unique=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("type", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("actor_agency", Text),
    Column("actor_sub", Text),
    Column("trace_id", Text),
    Column("causation_id", Text),
    Column("correlation_id", Text),
    Column("event", JSONB, nullable=False),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("digests", LargeBinary),  # format 2 (migration 0002); what covers each column: domain/coverage.py
)
head = Table(
    "head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("stream_seq", BigInteger, nullable=False),
)
gaps = Table(
    "gaps",
    metadata,
    Column("from_stream_seq", BigInteger, primary_key=True),
    Column("to_stream_seq", BigInteger, nullable=False),
    Column("after_seq", BigInteger, nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
)
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("hash", LargeBinary, nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
    Column("key_id", Text, nullable=False),
    Column("signature", LargeBinary, nullable=False),
)
