"""Initial feeds schema: webhook endpoints, their encrypted signing secrets, the deliveries (one per event and
endpoint, kept across retries and redelivery) with every attempt, and the event tables.

A delivery's `seq` (an identity) orders an endpoint's queue; the partial index on PENDING rows is where the
dispatcher finds each endpoint's head without scanning delivered history.

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
CREATE TABLE feeds.endpoints (
    id uuid PRIMARY KEY, agency text NOT NULL, url text NOT NULL, description text NOT NULL DEFAULT '',
    event_types text[] NOT NULL, region_prefix text COLLATE "C", owner_scopes text[] NOT NULL,
    owner_region text COLLATE "C",
    status text NOT NULL CHECK (status IN ('ACTIVE', 'DISABLED')), disabled_reason text, disabled_at timestamptz,
    failing_since timestamptz, last_success_at timestamptz,
    created_by text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    version integer NOT NULL, deleted_at timestamptz);
CREATE INDEX endpoints_agency ON feeds.endpoints (agency, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX endpoints_active ON feeds.endpoints (id) WHERE status = 'ACTIVE' AND deleted_at IS NULL;
CREATE TABLE feeds.endpoint_secrets (
    id uuid PRIMARY KEY, endpoint_id uuid NOT NULL REFERENCES feeds.endpoints (id), ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL, expires_at timestamptz);
CREATE INDEX endpoint_secrets_endpoint ON feeds.endpoint_secrets (endpoint_id, created_at);
CREATE TABLE feeds.deliveries (
    id uuid PRIMARY KEY, endpoint_id uuid NOT NULL REFERENCES feeds.endpoints (id),
    seq bigint GENERATED ALWAYS AS IDENTITY, stream_seq bigint NOT NULL, event_id text NOT NULL,
    event_type text NOT NULL, body bytea NOT NULL,
    status text NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED', 'CANCELLED')),
    attempts integer NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL, created_at timestamptz NOT NULL,
    delivered_at timestamptz, last_status_code integer, last_error text, replay_of uuid);
CREATE INDEX deliveries_pending ON feeds.deliveries (endpoint_id, seq) WHERE status = 'PENDING';
CREATE INDEX deliveries_endpoint_created ON feeds.deliveries (endpoint_id, created_at DESC);
CREATE TABLE feeds.attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, delivery_id uuid NOT NULL, endpoint_id uuid NOT NULL,
    attempted_at timestamptz NOT NULL, status_code integer, error text, duration_ms integer NOT NULL,
    response_excerpt text NOT NULL DEFAULT '');
CREATE INDEX attempts_delivery ON feeds.attempts (delivery_id, attempted_at)
"""

TABLES = ("attempts", "deliveries", "endpoint_secrets", "endpoints")


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)
    create_event_tables("feeds")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE feeds.{table}")
    drop_event_tables("feeds")
