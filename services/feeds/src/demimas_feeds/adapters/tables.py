"""The feeds schema as SQLAlchemy tables (migration 0001 creates them; keep both in step)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Identity, Integer, LargeBinary, MetaData, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY

from demimas_common.events.tables import event_tables

__all__ = ["SCHEMA", "attempts", "deliveries", "endpoint_secrets", "endpoints", "metadata"]

SCHEMA = "feeds"
metadata = MetaData(schema=SCHEMA)
CODE = Text(collation="C")
TS = DateTime(timezone=True)
events = event_tables(SCHEMA, metadata)

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("agency", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("event_types", ARRAY(Text), nullable=False),
    Column("region_prefix", CODE),
    Column("owner_scopes", ARRAY(Text), nullable=False),
    Column("owner_region", CODE),
    Column("status", Text, nullable=False),
    Column("disabled_reason", Text),
    Column("disabled_at", TS),
    Column("failing_since", TS),
    Column("last_success_at", TS),
    Column("created_by", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted_at", TS),
)
endpoint_secrets = Table(
    "endpoint_secrets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("endpoint_id", Uuid, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS),
)
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("endpoint_id", Uuid, nullable=False),
    Column("seq", BigInteger, Identity(always=True), nullable=False),
    Column("stream_seq", BigInteger, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TS, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("delivered_at", TS),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("replay_of", Uuid),
)
attempts = Table(
    "attempts",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("delivery_id", Uuid, nullable=False),
    Column("endpoint_id", Uuid, nullable=False),
    Column("attempted_at", TS, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Column("response_excerpt", Text, nullable=False, server_default=""),
)
