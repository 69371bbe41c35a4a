"""Demo data for `make run`: the village reference, the Musi Banyuasin seed villages of DOMAIN.md, a few thousand
synthetic workers and some of their families, all written through the same import and use cases as real data,
so their events flow to every consumer. Loaded once per devstack (the supervisor keeps a marker)."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import random

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.uow import UnitOfWork
from demimas_registry.adapters.tables import SCHEMA, workers
from demimas_registry.adapters.villages import load_villages
from demimas_registry.domain.commands import AddFamilyMember
from demimas_registry.domain.model import Consent
from demimas_registry.domain.vocabulary import ConsentGiver, Relation
from demimas_registry.importer.load import import_workers
from demimas_registry.service_layer.handlers import add_family_member
from demimas_registry.synthetic import SyntheticWorkers, seed_musi_banyuasin

__all__ = ["DEMO_PRINCIPAL", "load_demo"]

log = logging.getLogger("demimas.registry.demo")
DEMO_PRINCIPAL = Principal(sub="demo-loader", agency=Agency.KP2MI, scopes=DEFAULT_GRANTS[Agency.KP2MI])
SYNTHETIC_WORKERS = 3000
FAMILIES = 400


async def load_demo(database_url: str, *, synthetic: int = SYNTHETIC_WORKERS, families: int = FAMILIES) -> None:
    engine = create_engine(database_url, pool_size=2)
    try:
        async with engine.begin() as conn:
            await load_villages(conn)
        gen = SyntheticWorkers(seed=2026)
        rows = itertools.chain(seed_musi_banyuasin(gen), gen.rows(synthetic))
        report = await import_workers(engine, enumerate(rows, start=2), principal=DEMO_PRINCIPAL)
        log.info("demo workers: %s", report.to_text().splitlines()[0])
        await _families(engine, gen, families)
    finally:
        await engine.dispose()


async def _families(engine: AsyncEngine, gen: SyntheticWorkers, count: int) -> None:
    rng = random.Random(7)
    async with engine.connect() as conn:
        ids = list((await conn.execute(select(workers.c.id).order_by(workers.c.id).limit(count))).scalars())
    today = dt.date.today()
    for worker_id in ids:
        members = [(Relation.SPOUSE, 30 * 365), (Relation.CHILD, rng.randint(2, 16) * 365)]
        if rng.random() < 0.3:
            members.append((Relation.PARENT, 60 * 365))
        for relation, age_days in members:
            female = (relation is Relation.SPOUSE and rng.random() < 0.4) or rng.random() < 0.5
            name = f"{rng.choice(gen.women if female else gen.men)} {rng.choice(gen.last)}"
            consent = (
                Consent(ConsentGiver.PARENT, today - dt.timedelta(days=30), "Formulir persetujuan orang tua (demo)")
                if relation is Relation.CHILD
                else None
            )
            cmd = AddFamilyMember(worker_id, relation, name, today - dt.timedelta(days=age_days), consent)
            async with UnitOfWork(engine, schema=SCHEMA, actor=DEMO_PRINCIPAL.actor) as uow:
                await add_family_member(cmd, uow, DEMO_PRINCIPAL)
