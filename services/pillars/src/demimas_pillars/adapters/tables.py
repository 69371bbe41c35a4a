"""The pillars schema as SQLAlchemy tables (the migrations create them; keep both in step).

`pillarProgress` reads rollups written with each activity (`activity_daily`, `output_daily`, `participant_last`),
not the activities: a busy village records thousands a year (the goal: < 20 ms at 1M activities); and the protection
cases the `case-counts` consumer keeps (`protection_cases`, one row per case: a village has tens)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Index, Integer, MetaData, Table, Text, Uuid, text

from demimas_common.db.idempotency import idempotency_key_table
from demimas_common.events.tables import event_tables

__all__ = [
    "SCHEMA",
    "activities",
    "activity_anonymous",
    "activity_daily",
    "activity_outputs",
    "activity_participants",
    "enrolments",
    "idempotency_keys",
    "metadata",
    "milestones",
    "output_daily",
    "participant_last",
    "people",
    "pilot_activities",
    "pilot_partners",
    "pilots",
    "portfolios",
    "protection_cases",
    "reintegration_queue",
    "thematic_statuses",
]

SCHEMA = "pillars"
metadata = MetaData(schema=SCHEMA)
CODE = Text(collation="C")
events = event_tables(SCHEMA, metadata)

activities = Table(
    "activities",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("village_code", CODE, nullable=False),
    Column("pillar", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("occurred_on", Date, nullable=False),
    Column("agency", Text, nullable=False),
    Column("programme", Text),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("people_reached", Integer, nullable=False),
    Column("anonymous_reached", Integer, nullable=False),
)
activity_outputs = Table(
    "activity_outputs",
    metadata,
    Column("activity_id", Uuid, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("value", Integer, nullable=False),
    Column("village_code", CODE, nullable=False),
    Column("pillar", Text, nullable=False),
    Column("occurred_on", Date, nullable=False),
)
activity_participants = Table(
    "activity_participants",
    metadata,
    Column("activity_id", Uuid, primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Column("person_kind", Text, nullable=False),
    Column("village_code", CODE, nullable=False),
    Column("pillar", Text, nullable=False),
    Column("occurred_on", Date, nullable=False),
)
activity_anonymous = Table(
    "activity_anonymous",
    metadata,
    Column("activity_id", Uuid, primary_key=True),
    Column("sex", Text, primary_key=True),
    Column("grp", Text, primary_key=True),
    Column("count", Integer, nullable=False),
)
activity_daily = Table(
    "activity_daily",
    metadata,
    Column("village_code", CODE, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("pillar", Text, primary_key=True),
    Column("activities", Integer, nullable=False),
    Column("anonymous_reached", Integer, nullable=False),
)
output_daily = Table(
    "output_daily",
    metadata,
    Column("village_code", CODE, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("pillar", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)
participant_last = Table(
    "participant_last",
    metadata,
    Column("village_code", CODE, primary_key=True),
    Column("pillar", Text, primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    Column("last_on", Date, nullable=False),
)
people = Table(
    "people",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("person_kind", Text, nullable=False),
    Column("worker_id", Uuid, nullable=False),
    Column("village_code", CODE),
    Column("status", Text),
    Column("version", Integer, nullable=False),
    Column("minor", Boolean),
)
reintegration_queue = Table(
    "reintegration_queue",
    metadata,
    Column("worker_id", Uuid, primary_key=True),
    Column("return_version", Integer, primary_key=True),
    Column("village_code", CODE, nullable=False),
    Column("returned_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", Text),
    Column("note", Text),
)
portfolios = Table(
    "portfolios",
    metadata,
    Column("village_code", CODE, primary_key=True),
    Column("designation_id", Uuid, nullable=False),
    Column("status", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
enrolments = Table(
    "enrolments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("person_id", Uuid, nullable=False),
    Column("person_kind", Text, nullable=False),
    Column("worker_id", Uuid, nullable=False),
    Column("village_code", CODE, nullable=False),
    Column("programme", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("enrolled_on", Date, nullable=False),
    Column("agency", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("note", Text),
)
pilots = Table(
    "pilots",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("village_code", CODE, nullable=False),
    Column("title", Text, nullable=False),
    Column("coordinator", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("status_reason", Text),
    Column("start_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Text, nullable=False),
)
pilot_partners = Table(
    "pilot_partners",
    metadata,
    Column("pilot_id", Uuid, primary_key=True),
    Column("agency", Text, primary_key=True),
    Column("programme", Text),
    Column("commitment", Text, nullable=False),
)
milestones = Table(
    "milestones",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("pilot_id", Uuid, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("responsible_agency", Text, nullable=False),
    Column("completed_on", Date),
    Column("completed_by", Text),
)
pilot_activities = Table(
    "pilot_activities",
    metadata,
    Column("pilot_id", Uuid, primary_key=True),
    Column("activity_id", Uuid, primary_key=True),
)
idempotency_keys = idempotency_key_table(metadata)

protection_cases = Table(
    "protection_cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("village_code", CODE, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("from_overdue", Boolean, nullable=False),
    Column("opened_on", Date),
    Column("resolved_on", Date),
    Column("resolved_version", Integer, nullable=False),
    Index("protection_cases_opened", "village_code", "opened_on"),
    Index("protection_cases_resolved", "village_code", "resolved_on"),
)

thematic_statuses = Table(
    "thematic_statuses",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("village_code", CODE, nullable=False),
    Column("programme", Text, nullable=False),
    Column("agency", Text, nullable=False),
    Column("since", Date, nullable=False),
    Column("reference", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("ended_on", Date),
    Column("end_reason", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", Text, nullable=False),
    Index("thematic_statuses_active", "village_code", "programme", unique=True,
          postgresql_where=text("status = 'ACTIVE'")),
    Index("thematic_statuses_programme", "programme", "village_code", postgresql_where=text("status = 'ACTIVE'")),
    Index("thematic_statuses_village", "village_code", "programme", "since"),
)  # fmt: skip
