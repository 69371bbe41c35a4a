"""Pytest fixtures of the test devstack: a throw-away PostgreSQL and NATS per test session, on free ports.

Registered as a plugin by the repository's root `conftest.py`. Integration tests ask for `stack` (URLs) and for
`service_database(spec)` to get a provisioned and migrated schema.

When the session ends, every log file the servers wrote is searched for personal data (NIK- and phone-shaped
values, `log_leaks`): a finding fails the session at the teardown of `stack`, naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from demimas_common.devstack.log_leaks import find_leaks, log_files
from demimas_common.devstack.nats import EmbeddedNats
from demimas_common.devstack.postgres import EmbeddedPostgres

__all__ = ["TestStack", "stack"]


@dataclass
class TestStack:
    __test__ = False  # not a test class

    root: Path
    postgres: EmbeddedPostgres
    nats: EmbeddedNats

    @property
    def database_url(self) -> str:
        return self.postgres.url()

    @property
    def nats_url(self) -> str:
        return self.nats.url

    def log_files(self) -> list[Path]:
        """Every log file the servers of this session wrote (PostgreSQL, NATS, extra NATS servers)."""
        return log_files(self.root)

    def fresh_nats(self, name: str) -> EmbeddedNats:
        """A second, private NATS server for tests that stop or kill it."""
        return EmbeddedNats(self.root / f"nats-{name}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestStack]:
    root = tmp_path_factory.mktemp("devstack")
    postgres = EmbeddedPostgres(root / "pg", durable=False)
    nats = EmbeddedNats(root / "nats")
    postgres.start()
    try:
        nats.start()
        yield TestStack(root=root, postgres=postgres, nats=nats)
    finally:
        nats.stop()
        postgres.stop()
    leaks = find_leaks(log_files(root))
    if leaks:
        shown = "\n".join(f"  {leak}" for leak in leaks[:20])
        pytest.fail(f"personal data reached the servers' logs ({len(leaks)} lines):\n{shown}", pytrace=False)
