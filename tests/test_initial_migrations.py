"""Each service's first migration builds, to the byte, the schema it built when it was written.

The event tables (outbox, inbox, dead_letter, their indexes and the NOTIFY trigger) were once written by hand in
every first migration; they now come from one function of libs/common. Databases migrated before that change must
be indistinguishable from databases migrated after it, so `tests/fixtures/initial-schemas/<service>.sql` holds the
`pg_dump --schema-only` of a schema migrated to revision 0001 by the hand-written migrations, and a fresh database
migrated to 0001 today must dump the same. Only revision 0001 is compared: later migrations change the schema on
purpose, the first one never should. A service built on the shared event tables from the start (cases) is frozen
the same way, from its 0001 as first released, so that a change to `event_tables` cannot alter it unnoticed.

Normalized away, as they differ between two runs of pg_dump and not between two schemas: comments (versions,
dates), SET and set_config lines, the random keys of `\\restrict` / `\\unrestrict`, runs of blank lines.
`DEMIMAS_WRITE_INITIAL_SCHEMAS=1` rewrites the files (once, from the migrations to freeze; never to make this pass).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from demimas_common.db.engine import create_engine
from demimas_common.db.migrate import upgrade
from demimas_common.db.provision import owner_role, provision_service
from demimas_common.db.urls import with_user
from demimas_common.devstack.testing import TestStack
from demimas_common.service import ServiceSpec, discover_services

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent / "fixtures" / "initial-schemas"
SERVICES_WITH_EVENT_TABLES = ("registry", "designation", "pillars", "cases", "feeds")
_NOISE = re.compile(r"^(--.*|SET .*|SELECT pg_catalog\.set_config\(.*|\\(un)?restrict .*)$")


def normalized(dump: str) -> str:
    lines = [line.rstrip() for line in dump.splitlines() if not _NOISE.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _spec(name: str) -> ServiceSpec:
    return next(s for s in discover_services() if s.name == name)


async def initial_schema_dump(stack: TestStack, spec: ServiceSpec) -> str:
    """Provision a new database, migrate `spec`'s schema to 0001 as its owner, and dump the schema."""
    database = f"initial_{spec.name}_{uuid.uuid4().hex[:8]}"
    stack.postgres.psql(f'CREATE DATABASE "{database}"')
    try:
        admin = stack.postgres.url(database=database)
        engine = create_engine(admin, pool_size=1)
        try:
            async with engine.begin() as conn:
                await provision_service(conn, spec.name, schema=spec.schema)
        finally:
            await engine.dispose()
        owner = with_user(admin, owner_role(spec.name))
        await upgrade(owner, schema=spec.schema, script_location=spec.migrations, revision="0001")
        return stack.postgres.pg_dump("--schema-only", f"--schema={spec.schema}", database=database)
    finally:
        stack.postgres.psql(f'DROP DATABASE "{database}" WITH (FORCE)')


def test_normalizing_keeps_every_statement() -> None:
    dump = (
        "--\n-- Dumped by pg_dump version 16.2\n--\n\\restrict AbC123\nSET lock_timeout = 0;\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n\n\n\n"
        "CREATE TABLE registry.outbox (\n    seq bigint NOT NULL\n);\n\\unrestrict AbC123\n"
    )
    assert normalized(dump) == "CREATE TABLE registry.outbox (\n    seq bigint NOT NULL\n);\n"


@pytest.mark.parametrize("service", SERVICES_WITH_EVENT_TABLES)
async def test_the_first_migration_builds_the_frozen_schema(stack: TestStack, service: str) -> None:
    dump = normalized(await initial_schema_dump(stack, _spec(service)))
    frozen = FIXTURES / f"{service}.sql"
    if os.environ.get("DEMIMAS_WRITE_INITIAL_SCHEMAS") == "1":
        frozen.parent.mkdir(parents=True, exist_ok=True)
        frozen.write_text(dump)
    assert f"CREATE TABLE {service}.outbox" in dump
    assert f"CREATE TRIGGER outbox_notify AFTER INSERT ON {service}.outbox" in dump
    assert dump == frozen.read_text(), f"revision 0001 of {service} no longer builds {frozen.name}"
