"""Each audit test gets its own database (the chain is one per store, and tampering tests break it on purpose) and
its own NATS server (the audit consumes the whole stream)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_audit.adapters.unit_of_work import AuditUnitOfWork
from demimas_audit.app import SERVICE
from demimas_audit.domain.commands import ExportChain
from demimas_audit.service_layer.export import export_chain
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import owner_role, runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.provisioning import migrate_service
from demimas_common.devstack.testing import TestStack
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream


@dataclass
class AuditStore:
    engine: AsyncEngine
    """as the service's runtime role"""
    owner: AsyncEngine
    """as the schema owner (what an insider with the owner's password could do)"""
    nats_url: str

    def unit_of_work(self) -> AuditUnitOfWork:
        return AuditUnitOfWork(self.engine, schema=SERVICE.schema)

    async def export(self, out: IO[bytes], public_key: Ed25519PublicKey) -> int:
        """`demimas audit export` into `out`: the export use case in a unit of work of the runtime role."""
        async with self.unit_of_work() as uow:
            return await export_chain(ExportChain(out, public_key), uow)


@pytest.fixture
async def store(stack: TestStack) -> AsyncIterator[AuditStore]:
    name = f"audit_{uuid.uuid4().hex[:10]}"
    admin = create_engine(stack.database_url, pool_size=1, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(stack.database_url).set(database=name).render_as_string(hide_password=False)
    await migrate_service(url, SERVICE)
    nats = stack.fresh_nats(name)
    nats.start()
    nc = await connect(nats.url, name="audit-test")
    await ensure_stream(nc.jetstream())
    await nc.close()
    engine = create_engine(with_user(url, runtime_role("audit")), pool_size=3)
    owner = create_engine(with_user(url, owner_role("audit")), pool_size=1)
    try:
        yield AuditStore(engine, owner, nats.url)
    finally:
        await engine.dispose()
        await owner.dispose()
        nats.stop()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()
