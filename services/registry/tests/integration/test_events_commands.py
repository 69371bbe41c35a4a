"""`demimas events replay` and `demimas events retry-dead` against the registry schema."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from demimas_common.cli import main
from demimas_common.db.engine import create_engine
from demimas_common.devstack.testing import TestStack

pytestmark = pytest.mark.integration


@pytest.fixture
def stack_env(stack: TestStack, registry_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMIMAS_DATABASE_URL", registry_db.admin_url)
    monkeypatch.setenv("DEMIMAS_NATS_URL", stack.nats_url)
    monkeypatch.setenv("DEMIMAS_STACK_ENV", "/nonexistent")


async def sql(url: str, statement: str) -> Any:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def run_command(*argv: str) -> int:
    """The command runs its own event loop, so it runs in a thread of its own."""
    return await asyncio.to_thread(main, list(argv))


async def test_replay_requeues_published_events(
    stack_env: None, registry_db: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    await sql(
        registry_db.admin_url,
        "INSERT INTO registry.outbox (id, type, subject, payload, published_at) VALUES "
        "(gen_random_uuid(), 'demimas.registry.worker.updated', 'x', '{}', now() - interval '1 hour')",
    )
    published = await sql(registry_db.admin_url, "SELECT count(*) FROM registry.outbox WHERE published_at IS NOT NULL")
    assert await run_command("events", "replay", "--since", "2000-01-01T00:00:00Z", "--service", "registry") == 0
    # A relay of the test app may already be sending them again, so only the command's count is asserted.
    assert f"registry: {published} events queued" in capsys.readouterr().out


async def test_retry_dead_with_nothing_dead(stack_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_command("events", "retry-dead", "--service", "registry") == 0
    assert "registry: 0 dead-lettered events sent again" in capsys.readouterr().out


async def test_unknown_service(stack_env: None) -> None:
    with pytest.raises(SystemExit, match="unknown service"):
        await run_command("events", "retry-dead", "--service", "nope")
