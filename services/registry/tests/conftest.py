"""Registry test fixtures: a provisioned and migrated `registry` schema, with the village reference loaded, on
the session's throw-away PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import demimas_registry
from demimas_common.db.engine import create_engine
from demimas_common.db.migrate import upgrade
from demimas_common.db.provision import owner_role, provision_service, runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.testing import TestStack
from demimas_registry.adapters.villages import load_villages


@dataclass(frozen=True)
class RegistryDatabase:
    admin_url: str
    owner_url: str
    runtime_url: str


@pytest.fixture(scope="session")
async def registry_db(stack: TestStack) -> AsyncIterator[RegistryDatabase]:
    admin = stack.database_url
    engine = create_engine(admin, pool_size=1)
    try:
        async with engine.begin() as conn:
            await provision_service(conn, "registry")
    finally:
        await engine.dispose()
    owner = with_user(admin, owner_role("registry"))
    await upgrade(owner, schema="registry", script_location=Path(demimas_registry.__file__).parent / "migrations")
    runtime = with_user(admin, runtime_role("registry"))
    engine = create_engine(runtime, pool_size=1)
    try:
        async with engine.begin() as conn:
            await load_villages(conn)
    finally:
        await engine.dispose()
    return RegistryDatabase(admin_url=admin, owner_url=owner, runtime_url=runtime)
