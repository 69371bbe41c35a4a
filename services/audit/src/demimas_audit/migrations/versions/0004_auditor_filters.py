"""What auditors filter on since issue 20: reads of personal data by agency and by purpose (`personalDataAccesses`;
the workers a read names are indexed since 0001 and 0003), events by correlation id, by the village they name
(`data.villageCode`), and by the event that caused them (`AuditEvent.consequences`).

Every index is partial, on what the queries imply: the access indexes on the two access types (a query branch
`type = '<one of them>'` implies `type IN (both)`), the others on the value being present (an equality implies it),
so the many events without a correlation id or a village add nothing to them. The expressions are written as the
queries write them (`adapters/queries.py`), with the JSON keys as literals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCESS = "type IN ('demimas.registry.personal_data.accessed', 'demimas.cases.personal_data.accessed')"
INDEXES = {
    "records_access_agency": f"(((event -> 'data') ->> 'agency'), seq) WHERE {ACCESS}",
    "records_access_purpose": f"(((event -> 'data') ->> 'purpose'), seq) WHERE {ACCESS}",
    "records_correlation": "(correlation_id, seq) WHERE correlation_id IS NOT NULL",
    "records_causation": "(causation_id, seq) WHERE causation_id IS NOT NULL",
    "records_village": "(((event -> 'data') ->> 'villageCode'), seq) "
    "WHERE ((event -> 'data') ->> 'villageCode') IS NOT NULL",
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON audit.records {definition}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX audit.{name}")
