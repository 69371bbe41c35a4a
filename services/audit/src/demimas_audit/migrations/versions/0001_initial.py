"""The audit store: hash-chained records (append-only for the service's runtime role), the writer's head, gaps in
the stream sequence, signed checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

from demimas_common.db.provision import runtime_role

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = """
CREATE TABLE audit.records (
    seq bigint PRIMARY KEY, stream_seq bigint NOT NULL UNIQUE, event_id uuid NOT NULL UNIQUE, type text NOT NULL,
    source text NOT NULL, subject text NOT NULL, time timestamptz NOT NULL, actor_agency text, actor_sub text,
    trace_id text, causation_id text, correlation_id text, event jsonb NOT NULL, prev_hash bytea NOT NULL,
    hash bytea NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX records_type ON audit.records (type, seq);
CREATE INDEX records_source ON audit.records (source, seq);
CREATE INDEX records_actor ON audit.records (actor_agency, seq);
CREATE INDEX records_subject ON audit.records (subject, seq);
CREATE INDEX records_trace ON audit.records (trace_id, seq);
CREATE INDEX records_time ON audit.records (time);
CREATE INDEX records_accessed_workers ON audit.records USING gin ((event -> 'data' -> 'workerIds'))
    WHERE type = 'demimas.registry.personal_data.accessed';
CREATE TABLE audit.head (
    id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash bytea NOT NULL, stream_seq bigint NOT NULL);
INSERT INTO audit.head VALUES (1, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000', 0);
CREATE TABLE audit.gaps (
    from_stream_seq bigint PRIMARY KEY, to_stream_seq bigint NOT NULL, after_seq bigint NOT NULL,
    detected_at timestamptz NOT NULL);
CREATE TABLE audit.checkpoints (
    seq bigint PRIMARY KEY, hash bytea NOT NULL, signed_at timestamptz NOT NULL, key_id text NOT NULL,
    signature bytea NOT NULL)
"""


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)
    app = runtime_role("audit")
    # Append-only for the service: what it wrote, it can neither change nor remove.
    for table in ("records", "gaps", "checkpoints"):
        op.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON audit.{table} FROM "{app}"')
    op.execute(f'REVOKE DELETE, TRUNCATE, INSERT ON audit.head FROM "{app}"')


def downgrade() -> None:
    for table in ("checkpoints", "gaps", "head", "records"):
        op.execute(f"DROP TABLE audit.{table}")
