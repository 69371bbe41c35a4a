"""Alembic environment of the feeds schema (run through `demimas_common.db.migrate.upgrade`)."""

from demimas_common.db.migrate import run_env

run_env()
