"""Initial pillars schema: activities (with their outputs, registered and anonymous participants), the `people`
projection, the reintegration queue, portfolios, enrolments, joint pilot projects, and the event tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

from demimas_common.events.migrations import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = """
CREATE TABLE pillars.activities (
    id uuid PRIMARY KEY, village_code text COLLATE "C" NOT NULL, pillar text NOT NULL, title text NOT NULL,
    description text, occurred_on date NOT NULL, agency text NOT NULL, programme text, recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL, people_reached integer NOT NULL, anonymous_reached integer NOT NULL);
CREATE INDEX activities_village_date ON pillars.activities (village_code, occurred_on)
    INCLUDE (pillar, anonymous_reached);
CREATE TABLE pillars.activity_outputs (
    activity_id uuid NOT NULL REFERENCES pillars.activities (id), kind text NOT NULL, value integer NOT NULL,
    village_code text COLLATE "C" NOT NULL, pillar text NOT NULL, occurred_on date NOT NULL,
    PRIMARY KEY (activity_id, kind));
CREATE INDEX activity_outputs_village_date ON pillars.activity_outputs (village_code, occurred_on)
    INCLUDE (pillar, kind, value);
CREATE TABLE pillars.activity_participants (
    activity_id uuid NOT NULL REFERENCES pillars.activities (id), person_id uuid NOT NULL, person_kind text NOT NULL,
    village_code text COLLATE "C" NOT NULL, pillar text NOT NULL, occurred_on date NOT NULL,
    PRIMARY KEY (activity_id, person_id));
CREATE INDEX activity_participants_village_date ON pillars.activity_participants (village_code, occurred_on)
    INCLUDE (pillar, person_id);
CREATE INDEX activity_participants_person ON pillars.activity_participants (person_id);
CREATE TABLE pillars.activity_anonymous (
    activity_id uuid NOT NULL REFERENCES pillars.activities (id), sex text NOT NULL, grp text NOT NULL,
    count integer NOT NULL, PRIMARY KEY (activity_id, sex, grp));

CREATE TABLE pillars.people (
    person_id uuid PRIMARY KEY, person_kind text NOT NULL, worker_id uuid NOT NULL, village_code text COLLATE "C",
    status text, version integer NOT NULL, minor boolean);
CREATE INDEX people_worker ON pillars.people (worker_id);
CREATE TABLE pillars.reintegration_queue (
    worker_id uuid NOT NULL, return_version integer NOT NULL, village_code text COLLATE "C" NOT NULL,
    returned_at timestamptz NOT NULL, status text NOT NULL, updated_at timestamptz NOT NULL, updated_by text,
    note text, PRIMARY KEY (worker_id, return_version));
CREATE INDEX reintegration_queue_village ON pillars.reintegration_queue (village_code, status, returned_at);
CREATE TABLE pillars.portfolios (
    village_code text COLLATE "C" PRIMARY KEY, designation_id uuid NOT NULL, status text NOT NULL,
    opened_at timestamptz NOT NULL, changed_at timestamptz NOT NULL);

CREATE TABLE pillars.enrolments (
    id uuid PRIMARY KEY, person_id uuid NOT NULL, person_kind text NOT NULL, worker_id uuid NOT NULL,
    village_code text COLLATE "C" NOT NULL, programme text NOT NULL, status text NOT NULL, enrolled_on date NOT NULL,
    agency text NOT NULL, updated_at timestamptz NOT NULL, note text);
CREATE INDEX enrolments_worker ON pillars.enrolments (worker_id);
CREATE UNIQUE INDEX enrolments_one_open ON pillars.enrolments (person_id, programme)
    WHERE status IN ('ENROLLED', 'ACTIVE');

CREATE TABLE pillars.pilots (
    id uuid PRIMARY KEY, village_code text COLLATE "C" NOT NULL, title text NOT NULL, coordinator text NOT NULL,
    status text NOT NULL, status_reason text, start_date date NOT NULL, created_at timestamptz NOT NULL,
    created_by text NOT NULL);
CREATE INDEX pilots_village ON pillars.pilots (village_code, id);
CREATE TABLE pillars.pilot_partners (
    pilot_id uuid NOT NULL REFERENCES pillars.pilots (id), agency text NOT NULL, programme text,
    commitment text NOT NULL, PRIMARY KEY (pilot_id, agency));
CREATE INDEX pilot_partners_agency ON pillars.pilot_partners (agency, pilot_id);
CREATE INDEX pilot_partners_programme ON pillars.pilot_partners (programme, pilot_id);
CREATE TABLE pillars.milestones (
    id uuid PRIMARY KEY, pilot_id uuid NOT NULL REFERENCES pillars.pilots (id), seq integer NOT NULL,
    title text NOT NULL, due_date date NOT NULL, responsible_agency text NOT NULL, completed_on date,
    completed_by text, UNIQUE (pilot_id, seq));
CREATE INDEX milestones_open_by_agency ON pillars.milestones (responsible_agency, due_date)
    WHERE completed_on IS NULL;
CREATE TABLE pillars.pilot_activities (
    pilot_id uuid NOT NULL REFERENCES pillars.pilots (id), activity_id uuid NOT NULL REFERENCES pillars.activities (id),
    PRIMARY KEY (pilot_id, activity_id));
"""


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)
    create_event_tables("pillars")


def downgrade() -> None:
    for table in (
        "pilot_activities",
        "milestones",
        "pilot_partners",
        "pilots",
        "enrolments",
        "portfolios",
        "reintegration_queue",
        "people",
        "activity_anonymous",
        "activity_participants",
        "activity_outputs",
        "activities",
    ):
        op.execute(f"DROP TABLE pillars.{table}")
    drop_event_tables("pillars")
