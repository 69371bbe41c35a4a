"""Demo data for `make run`: the Musi Banyuasin proposals (25 Nov 2025), Ulak Paceh (16.06.13.2001) and
Tebing Bulang (16.06.03.2008), submitted by the regency office and verified by the provincial office, so the
workflow can be continued through the gateway (assess, evidence, decide); and three Wonosobo villages carried over
from Desmigratif as designated (the pillars service opens their portfolios from the events). Idempotent: a village
with a proposal or a designation is left alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_designation.adapters.tables import SCHEMA, designations, proposals
from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
from demimas_designation.domain.commands import ImportDesmigratif, ProposeVillage, SubmitProposal, VerifyProposal
from demimas_designation.service_layer import proposals as flow
from demimas_designation.service_layer.desmigratif import import_desmigratif
from demimas_designation.service_layer.ports import DesignationUoW

__all__ = ["SEED_PROPOSALS", "load_demo"]

SEED_PROPOSALS = {
    "16.06.13.2001": "Desa Ulak Paceh: 17 residents work in Malaysia as production operators and general workers, "
    "mostly SMA/SMK graduates (proposal of the Musi Banyuasin manpower office, 25 Nov 2025).",
    "16.06.03.2008": "Desa Tebing Bulang: 13 residents work in Turkey, Bulgaria, Dubai and Hong Kong, mostly SMA/SMK "
    "graduates (proposal of the Musi Banyuasin manpower office, 25 Nov 2025).",
}
DISNAKER = Principal("demo-disnaker-musi-banyuasin", Agency.DISNAKER, DEFAULT_GRANTS[Agency.DISNAKER], "16.06")
DESMIGRATIF_CSV = """village_code,decree_number,decree_date
33.07.01.2001,Kep.Menaker 150/2019,2019-07-15
33.07.01.2002,Kep.Menaker 150/2019,2019-07-15
33.07.01.2003,Kep.Menaker 150/2019,2019-07-15
"""
KP2MI = Principal("demo-kp2mi", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])
BP3MI = Principal("demo-bp3mi-sumsel", Agency.BP3MI, DEFAULT_GRANTS[Agency.BP3MI], "16")
C = TypeVar("C")
R = TypeVar("R")
Handler = Callable[[C, DesignationUoW, Principal, flow.WorkflowSettings], Awaitable[R]]


async def load_demo(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    settings = flow.WorkflowSettings(clock=lambda: dt.datetime(2025, 11, 25, 9, 0, tzinfo=dt.UTC))

    async def run(handler: Handler[C, R], command: C, principal: Principal) -> R:
        async with DesignationUnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
            return await handler(command, uow, principal, settings)

    try:
        for village, justification in SEED_PROPOSALS.items():
            async with engine.connect() as conn:
                if await conn.scalar(select(proposals.c.id).where(proposals.c.village_code == village).limit(1)):
                    continue
            p = await run(flow.propose, ProposeVillage(village, justification), DISNAKER)
            await run(flow.submit, SubmitProposal(p.id), DISNAKER)
            await run(flow.verify, VerifyProposal(p.id, "supported by BP3MI Sumatera Selatan"), BP3MI)
        async with engine.connect() as conn:
            carried = await conn.scalar(select(designations.c.id).where(designations.c.village_code == "33.07.01.2001"))
        if carried is None:
            await run(import_desmigratif, ImportDesmigratif(DESMIGRATIF_CSV), KP2MI)
    finally:
        await engine.dispose()
