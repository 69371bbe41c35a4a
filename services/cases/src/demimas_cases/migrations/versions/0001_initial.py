"""Initial cases schema: cases with their content, people, referrals, notes and steps (who held the case when), the
legal aid register, the `people` projection of the registry, idempotency keys, and the event tables.

The clocks are columns (`triage_due_at`, `resolution_due_at`, referrals' `due_at`, and `next_due_at`, the earliest of
the clocks running): `overdue` is `next_due_at < now()`, and the sweep finds what to escalate through partial indexes
of the items not yet escalated, never by scanning the cases.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from demimas_common.events.migrations import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = """
CREATE TABLE cases.cases (
    id uuid PRIMARY KEY, village_code text COLLATE "C" NOT NULL, kind text NOT NULL, phase text NOT NULL,
    channel text NOT NULL, destination_country text, owner_agency text NOT NULL, opened_by text NOT NULL,
    confidentiality text NOT NULL, status text NOT NULL, version integer NOT NULL,
    opened_at timestamptz NOT NULL, triage_due_at timestamptz NOT NULL, resolution_due_at timestamptz NOT NULL,
    triaged_at timestamptz, resolved_at timestamptz, closed_at timestamptz,
    triage_escalated_at timestamptz, resolution_escalated_at timestamptz, next_due_at timestamptz,
    referred_to text[] NOT NULL DEFAULT '{}', holders text[] NOT NULL);
CREATE INDEX cases_village ON cases.cases (village_code, id);
CREATE INDEX cases_status_village ON cases.cases (status, village_code, id);
CREATE INDEX cases_next_due ON cases.cases (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX cases_referred_to ON cases.cases USING gin (referred_to);
CREATE INDEX cases_holders ON cases.cases USING gin (holders);
CREATE INDEX cases_triage_to_escalate ON cases.cases (triage_due_at)
    WHERE status = 'OPEN' AND triage_escalated_at IS NULL;
CREATE INDEX cases_resolution_to_escalate ON cases.cases (resolution_due_at)
    WHERE status IN ('OPEN', 'TRIAGED', 'REFERRED', 'IN_PROGRESS', 'REOPENED') AND resolution_escalated_at IS NULL;
CREATE TABLE cases.case_content (
    case_id uuid PRIMARY KEY REFERENCES cases.cases (id), description text NOT NULL, reporter jsonb NOT NULL,
    resolution text);
CREATE TABLE cases.case_people (
    case_id uuid NOT NULL REFERENCES cases.cases (id), seq integer NOT NULL, role text NOT NULL, person_id uuid,
    name text, sex text, birth_year integer, minor boolean NOT NULL, PRIMARY KEY (case_id, seq));
CREATE INDEX case_people_person ON cases.case_people (person_id) WHERE person_id IS NOT NULL;
CREATE TABLE cases.legal_aid_organisations (
    id uuid PRIMARY KEY, name text NOT NULL, accreditation_number text COLLATE "C" NOT NULL UNIQUE,
    regions_served text[] NOT NULL, contact text, active boolean NOT NULL, registered_at timestamptz NOT NULL,
    registered_by text NOT NULL);
CREATE TABLE cases.referrals (
    id uuid PRIMARY KEY, case_id uuid NOT NULL REFERENCES cases.cases (id), seq integer NOT NULL,
    to_agency text, legal_aid_organisation_id uuid REFERENCES cases.legal_aid_organisations (id),
    reason text NOT NULL, referred_by text NOT NULL, referred_at timestamptz NOT NULL, due_at timestamptz NOT NULL,
    status text NOT NULL, responded_at timestamptz, responded_by text, decline_reason text, outcome text,
    outcome_at timestamptz, escalated_at timestamptz, UNIQUE (case_id, seq),
    CHECK ((to_agency IS NULL) <> (legal_aid_organisation_id IS NULL)));
CREATE INDEX referrals_to_escalate ON cases.referrals (due_at) WHERE status = 'PENDING' AND escalated_at IS NULL;
CREATE TABLE cases.case_notes (
    id uuid PRIMARY KEY, case_id uuid NOT NULL REFERENCES cases.cases (id), agency text NOT NULL,
    author text NOT NULL, text text NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX case_notes_case ON cases.case_notes (case_id, created_at);
CREATE TABLE cases.case_steps (
    case_id uuid NOT NULL REFERENCES cases.cases (id), version integer NOT NULL, step text NOT NULL,
    at timestamptz NOT NULL, agency text NOT NULL, status text NOT NULL, holders text[] NOT NULL,
    PRIMARY KEY (case_id, version));
CREATE TABLE cases.people (
    person_id uuid PRIMARY KEY, person_kind text NOT NULL, worker_id uuid NOT NULL, village_code text COLLATE "C",
    version integer NOT NULL, minor boolean NOT NULL);
CREATE INDEX people_worker ON cases.people (worker_id);
CREATE TABLE cases.idempotency_keys (
    agency text NOT NULL, key text COLLATE "C" NOT NULL, operation text NOT NULL, fingerprint text NOT NULL,
    resource_id uuid NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (agency, key))
"""

TABLES = ("idempotency_keys", "people", "case_steps", "case_notes", "referrals", "legal_aid_organisations",
          "case_people", "case_content", "cases")  # fmt: skip


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)
    create_event_tables("cases")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE cases.{table}")
    drop_event_tables("cases")
