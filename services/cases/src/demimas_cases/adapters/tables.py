"""The cases schema as SQLAlchemy tables (the migrations create them; keep both in step)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from demimas_common.db.idempotency import idempotency_key_table
from demimas_common.events.tables import event_tables

__all__ = [
    "SCHEMA",
    "case_content",
    "case_notes",
    "case_people",
    "case_steps",
    "cases",
    "idempotency_keys",
    "legal_aid_organisations",
    "metadata",
    "people",
    "referrals",
]

SCHEMA = "cases"
metadata = MetaData(schema=SCHEMA)
CODE = Text(collation="C")
TS = DateTime(timezone=True)
events = event_tables(SCHEMA, metadata)

cases = Table(
    "cases",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("village_code", CODE, nullable=False),
    Column("kind", Text, nullable=False),
    Column("phase", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("destination_country", Text),
    Column("owner_agency", Text, nullable=False),
    Column("opened_by", Text, nullable=False),
    Column("confidentiality", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("opened_at", TS, nullable=False),
    Column("triage_due_at", TS, nullable=False),
    Column("resolution_due_at", TS, nullable=False),
    Column("triaged_at", TS),
    Column("resolved_at", TS),
    Column("closed_at", TS),
    Column("triage_escalated_at", TS),
    Column("resolution_escalated_at", TS),
    Column("next_due_at", TS),
    Column("referred_to", ARRAY(Text), nullable=False),
    Column("holders", ARRAY(Text), nullable=False),
)
case_content = Table(
    "case_content",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("description", Text, nullable=False),
    Column("reporter", JSONB, nullable=False),
    Column("resolution", Text),
)
case_people = Table(
    "case_people",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("role", Text, nullable=False),
    Column("person_id", Uuid),
    Column("name", Text),
    Column("sex", Text),
    Column("birth_year", Integer),
    Column("minor", Boolean, nullable=False),
)
legal_aid_organisations = Table(
    "legal_aid_organisations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("accreditation_number", CODE, nullable=False),
    Column("regions_served", ARRAY(Text), nullable=False),
    Column("contact", Text),
    Column("active", Boolean, nullable=False),
    Column("registered_at", TS, nullable=False),
    Column("registered_by", Text, nullable=False),
)
referrals = Table(
    "referrals",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("to_agency", Text),
    Column("legal_aid_organisation_id", Uuid),
    Column("reason", Text, nullable=False),
    Column("referred_by", Text, nullable=False),
    Column("referred_at", TS, nullable=False),
    Column("due_at", TS, nullable=False),
    Column("status", Text, nullable=False),
    Column("responded_at", TS),
    Column("responded_by", Text),
    Column("decline_reason", Text),
    Column("outcome", Text),
    Column("outcome_at", TS),
    Column("escalated_at", TS),
)
case_notes = Table(
    "case_notes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("agency", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", TS, nullable=False),
)
case_steps = Table(
    "case_steps",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("step", Text, nullable=False),
    Column("at", TS, nullable=False),
    Column("agency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("holders", ARRAY(Text), nullable=False),
)
people = Table(
    "people",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("person_kind", Text, nullable=False),
    Column("worker_id", Uuid, nullable=False),
    Column("village_code", CODE),
    Column("version", Integer, nullable=False),
    Column("minor", Boolean, nullable=False),
)
idempotency_keys = idempotency_key_table(metadata)
