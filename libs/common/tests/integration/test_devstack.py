"""The test devstack starts real servers that the project's drivers can reach."""

import asyncpg
import nats
import pytest

from demimas_common.db.urls import asyncpg_dsn
from demimas_common.devstack.postgres import PRIVACY_SETTINGS
from demimas_common.devstack.testing import TestStack

pytestmark = pytest.mark.integration


async def test_postgres_answers_over_its_unix_socket(stack: TestStack) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        assert await conn.fetchval("SELECT current_database()") == "demimas"
    finally:
        await conn.close()


async def test_nats_has_jetstream(stack: TestStack) -> None:
    nc = await nats.connect(stack.nats_url)
    try:
        info = await nc.jetstream().account_info()
        assert info.limits is not None
    finally:
        await nc.close()


async def test_postgres_runs_with_the_privacy_settings(stack: TestStack) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        shown = {name: await conn.fetchval(f"SHOW {name}") for name in PRIVACY_SETTINGS}
    finally:
        await conn.close()
    assert shown == PRIVACY_SETTINGS
