"""Demo data for `make run`: the village reference, the Musi Banyuasin seed villages (proposal of 25 Nov 2025), a
few thousand synthetic workers and their families, written through the bulk import and the family rules of the
mutations, so their events (`worker.registered|departed|returned`, `family.added`) flow to every consumer.

The devstack keeps a marker per service so this runs once; it is idempotent anyway: the generator is seeded
(same NIKs every time, which the import skips) and workers that already have family members get no more.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_registry.adapters.tables import SCHEMA
from demimas_registry.adapters.unit_of_work import RegistryUnitOfWork
from demimas_registry.adapters.villages import load_villages
from demimas_registry.domain import events
from demimas_registry.domain.commands import AddFamilyMember
from demimas_registry.domain.factories import new_family_member
from demimas_registry.domain.model import Consent
from demimas_registry.domain.vocabulary import ConsentGiver, Relation
from demimas_registry.importer.load import import_workers
from demimas_registry.synthetic import SyntheticFamilyMember, SyntheticWorkers, seed_musi_banyuasin

__all__ = ["DEMO_PRINCIPAL", "load_demo"]

log = logging.getLogger("demimas.registry.demo")
DEMO_PRINCIPAL = Principal(sub="demo-loader", agency=Agency.KP2MI, scopes=DEFAULT_GRANTS[Agency.KP2MI])
DEMO_SEED = 2026
SYNTHETIC_WORKERS = 3000
WORKERS_PER_TRANSACTION = 250


async def load_demo(database_url: str, *, synthetic: int = SYNTHETIC_WORKERS) -> None:
    engine = create_engine(database_url, pool_size=2)
    try:
        async with engine.begin() as conn:
            if not await conn.scalar(text("SELECT EXISTS (SELECT 1 FROM registry.villages)")):
                await load_villages(conn)
        gen = SyntheticWorkers(seed=DEMO_SEED)
        rows = list(itertools.chain(seed_musi_banyuasin(gen), gen.rows(synthetic)))
        report = await import_workers(engine, enumerate(rows, start=2), principal=DEMO_PRINCIPAL)
        log.info("demo workers: %s", report.to_text().splitlines()[0])
        added = await add_families(engine, [m for row in rows for m in gen.family(row)])
        log.info("demo family members: %d added", added)
    finally:
        await engine.dispose()


def _command(worker_id: uuid.UUID, member: SyntheticFamilyMember, today: dt.date) -> AddFamilyMember:
    relation = Relation(member.relation)
    consent = None
    if relation is Relation.CHILD:
        # The worker, as the child's parent, consented when the family was recorded (UU 27/2022 Pasal 25).
        consent = Consent(ConsentGiver.PARENT, today, "Formulir persetujuan orang tua (data demo)")
    return AddFamilyMember(worker_id, relation, member.full_name, member.birth_date, consent)


async def add_families(engine: AsyncEngine, members: Sequence[SyntheticFamilyMember]) -> int:
    """Record the members of workers that have none yet, with the domain's family rules and `family.added`
    events, a few hundred workers per transaction. Returns how many members were added."""
    DEMO_PRINCIPAL.require_scope("registry:write")
    DEMO_PRINCIPAL.require_scope("family:read")
    async with RegistryUnitOfWork(engine, schema=SCHEMA) as uow:
        ids = await uow.workers.ids_without_family(m.nik for m in members)
    pending = [m for m in members if m.nik in ids]
    today, added = dt.date.today(), 0
    by_worker = [list(group) for _, group in itertools.groupby(pending, key=lambda m: m.nik)]
    for start in range(0, len(by_worker), WORKERS_PER_TRANSACTION):
        async with RegistryUnitOfWork(engine, schema=SCHEMA, actor=DEMO_PRINCIPAL.actor) as uow:
            for family in by_worker[start : start + WORKERS_PER_TRANSACTION]:
                worker = await uow.workers.get(ids[family[0].nik])
                assert worker is not None
                for member in family:
                    recorded = new_family_member(_command(worker.id, member, today), today=today)
                    await uow.workers.add_family_member(recorded)
                    uow.publish(events.family_added(recorded, worker, DEMO_PRINCIPAL.actor))
                    added += 1
            await uow.commit()
    return added
