"""Alembic migrations per service schema, run programmatically as the service's owner role.

Each service keeps an Alembic script folder (`migrations/`) whose `env.py` only calls `run_env()`; the version
table lives in the service's own schema, so services migrate independently.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection

from demimas_common.db.engine import create_engine

__all__ = ["run_env", "upgrade"]


def _upgrade_sync(connection: Connection, schema: str, script_location: Path, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, revision)


async def upgrade(owner_url: str, *, schema: str, script_location: Path, revision: str = "head") -> None:
    """Bring `schema` to the newest revision (idempotent); to `revision` when given (tests of one migration)."""
    engine = create_engine(owner_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_sync, schema, script_location, revision)
    finally:
        await engine.dispose()


def run_env() -> None:
    """The body of every service's `migrations/env.py` (online mode only: we always have a connection)."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `demimas_common.db.migrate.upgrade` (or `demimas stack migrate`)")
    schema = config.attributes["schema"]
    context.configure(connection=connection, version_table_schema=schema, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()
