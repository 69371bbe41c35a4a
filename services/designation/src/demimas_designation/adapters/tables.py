"""The designation service's tables in schema `designation`, with the event machinery (outbox, inbox, dead letters).

The village-stats projection keeps each worker's last known state (what the next event is compared with) and the
per-village counters derived from them; the case-stats projection keeps each protection case's last known state
(domain/case_stats.py), which a village's assessment reads whole (a village has few cases). Village codes use the "C"
collation so a region prefix is a range scan."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from demimas_common.events.tables import event_tables

__all__ = [
    "OPEN_STATUSES",
    "SCHEMA",
    "case_states",
    "decision_assessments",
    "designation_transitions",
    "designations",
    "events",
    "evidence",
    "metadata",
    "proposal_transitions",
    "proposals",
    "village_counts",
    "worker_states",
]

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

case_states = Table(
    "case_states",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("village_code", CODE, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("from_overdue", Boolean, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_version", Integer, nullable=False),
    Column("resolution_days", Float),
    Column("escalations", JSONB, nullable=False),
    Column("answers", JSONB, nullable=False),
    Column("overdue", Boolean, nullable=False),
)

OPEN_STATUSES = ("DRAFT", "SUBMITTED", "VERIFIED", "ASSESSED")

proposals = Table(
    "proposals",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("village_code", CODE, nullable=False),
    Column("justification", Text, nullable=False),
    Column("region", CODE, nullable=False),
    Column("status", Text, nullable=False),
    Column("decree_number", Text),
    Column("decree_date", Date),
    Column("eligibility_override", Text),
    Column("version", Integer, nullable=False),
    Index(
        "proposals_one_open_per_village",
        "village_code",
        unique=True,
        postgresql_where=text("status IN ('DRAFT', 'SUBMITTED', 'VERIFIED', 'ASSESSED')"),
    ),
    Index("proposals_village", "village_code"),
)


def _transitions(name: str, owner: Table, key: str) -> Table:
    """The history of a proposal or a designation: who moved it to which status, when, and why, in order."""
    return Table(
        name,
        metadata,
        Column(key, Uuid, ForeignKey(owner.c.id), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("status", Text, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("agency", Text, nullable=False),
        Column("sub", Text, nullable=False),
        Column("reason", Text),
        PrimaryKeyConstraint(key, "seq"),
    )


proposal_transitions = _transitions("proposal_transitions", proposals, "proposal_id")

evidence = Table(
    "evidence",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("proposal_id", Uuid, ForeignKey(proposals.c.id), nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("document_date", Date, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("number", Text),
    Column("term_end", Date),
    Column("note", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("agency", Text, nullable=False),
    Column("sub", Text, nullable=False),
)

designations = Table(
    "designations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("village_code", CODE, nullable=False),
    Column("decree_number", Text, nullable=False),
    Column("decree_date", Date, nullable=False),
    Column("programme", Text, nullable=False),
    Column("proposal_id", Uuid, ForeignKey(proposals.c.id)),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Index(
        "designations_one_current_per_village",
        "village_code",
        unique=True,
        postgresql_where=text("status <> 'REVOKED'"),
    ),
)

designation_transitions = _transitions("designation_transitions", designations, "designation_id")

decision_assessments = Table(
    "decision_assessments",
    metadata,
    Column("proposal_id", Uuid, ForeignKey(proposals.c.id), primary_key=True),
    Column("decision", Text, nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=False),
    Column("eligible", Boolean, nullable=False),
    Column("procedural_threshold", Float, nullable=False),
    Column("results", JSONB, nullable=False),
    Column("evidence", JSONB, nullable=False),
)
"""The assessment that justified a decision, frozen with it (migration 0005; domain/snapshot.py)."""
