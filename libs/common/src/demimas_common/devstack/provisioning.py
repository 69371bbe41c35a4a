"""Bringing a database up to date for every service: roles and schema, migrations, demo data once."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import cast

from sqlalchemy import text

from demimas_common.db.engine import create_engine
from demimas_common.db.migrate import upgrade
from demimas_common.db.provision import owner_role, provision_service, runtime_role
from demimas_common.db.urls import with_user
from demimas_common.service import ServiceSpec

__all__ = ["load_demo_once", "migrate_service", "resolve"]


def resolve(target: str) -> object:
    """`package.module:attribute` -> the attribute."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


async def migrate_service(admin_url: str, spec: ServiceSpec) -> None:
    if not spec.database or spec.migrations is None:
        return  # a page-only service has no schema to provision
    engine = create_engine(admin_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await provision_service(conn, spec.name, schema=spec.schema)
    finally:
        await engine.dispose()
    await upgrade(with_user(admin_url, owner_role(spec.name)), schema=spec.schema, script_location=spec.migrations)


async def load_demo_once(admin_url: str, spec: ServiceSpec) -> bool:
    """Load the service's demo data unless its marker says it was loaded; True when it loaded now. A marker per
    service means services added later still get theirs."""
    if spec.demo_loader is None or not spec.database:
        return False
    engine = create_engine(admin_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE SCHEMA IF NOT EXISTS devstack"))
            await conn.execute(
                text("CREATE TABLE IF NOT EXISTS devstack.demo_loaded (service text PRIMARY KEY, at timestamptz)")
            )
            done = await conn.scalar(text("SELECT 1 FROM devstack.demo_loaded WHERE service = :s"), {"s": spec.name})
        if done:
            return False
        loader = cast(Callable[[str], Awaitable[None]], resolve(spec.demo_loader))
        await loader(with_user(admin_url, runtime_role(spec.name)))
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO devstack.demo_loaded VALUES (:s, now()) ON CONFLICT DO NOTHING"), {"s": spec.name}
            )
        return True
    finally:
        await engine.dispose()
