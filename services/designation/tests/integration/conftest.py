"""The designation schema migrated on the session's devstack, an engine with the service's runtime role, and
village codes no other test uses."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_designation.app import SERVICE


@pytest.fixture(scope="session")
async def engine(stack: TestStack) -> AsyncIterator[AsyncEngine]:
    await migrate_service(stack.database_url, SERVICE)
    engine = create_engine(with_user(stack.database_url, runtime_role("designation")), pool_size=2)
    yield engine
    await engine.dispose()


def village(regency: str | None = None) -> str:
    """A fresh village code (in `regency` when given, e.g. 16.06)."""
    n = uuid.uuid4().int
    if regency:
        return f"{regency}.{n % 90 + 10:02d}.{2000 + n // 7 % 999}"
    return f"{10 + n % 80:02d}.{n // 7 % 90 + 10:02d}.{n // 11 % 90 + 10:02d}.{2000 + n // 13 % 999}"
