"""What a service's first Alembic migration calls to create (and its downgrade, to drop) the service's outbox,
inbox and dead-letter tables, so that no service writes their DDL itself:

    def upgrade() -> None:
        ...  # the service's own tables
        create_event_tables("registry")
"""

from __future__ import annotations

from alembic import op

from demimas_common.events.tables import event_tables_ddl, event_tables_drop_ddl

__all__ = ["create_event_tables", "drop_event_tables"]


def create_event_tables(schema: str) -> None:
    for statement in event_tables_ddl(schema):
        op.execute(statement)


def drop_event_tables(schema: str) -> None:
    for statement in event_tables_drop_ddl(schema):
        op.execute(statement)
