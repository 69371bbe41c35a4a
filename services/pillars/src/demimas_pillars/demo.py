"""Demo data for `make run`: activities across the pillars in the designated Wonosobo village Kaligowong
(33.07.01.2001, carried over from Desmigratif by the designation demo) and in Ulak Paceh (16.06.13.2001, proposed),
and one joint pilot in Kaligowong coordinated by Kemenko Polkam with KemenPPPA (DRPPA), BNN (Desa Bersinar), Kemendes
(BUMDes) and Kemenimipas (Desa Binaan Imigrasi) as partners: one milestone done, one overdue, one ahead.
Participants are anonymous counts (registered people come from the registry's events). And thematic statuses, each
set by its programme's owner, so that `programmeVillages` finds overlap sites: Ulak Paceh in DRPPA and Desa
Bersinar, Tebing Bulang (16.06.03.2008, proposed) a Desa Tematik, Kaligowong in the pilot partners' DRPPA, Desa
Bersinar and BUMDes. Idempotent (activities and pilots, and statuses, each loaded once)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_pillars.adapters.tables import SCHEMA, activities, pilots, thematic_statuses
from demimas_pillars.adapters.unit_of_work import PillarsUnitOfWork
from demimas_pillars.domain.activity import Activity, AnonymousCount
from demimas_pillars.domain.commands import (
    CompleteMilestone,
    CreatePilot,
    LinkActivity,
    RecordActivity,
    SetThematicStatus,
)
from demimas_pillars.domain.pilot import Milestone, Partner, Pilot
from demimas_pillars.domain.thematic import owner_of
from demimas_pillars.domain.vocabulary import (
    OutputKind,
    ParticipantGroup,
    PilotStatus,
    ServicePillar,
    Sex,
    ThematicProgramme,
)
from demimas_pillars.service_layer.activities import record_activity
from demimas_pillars.service_layer.delivery import DeliverySettings
from demimas_pillars.service_layer.pilots import complete, create_pilot, link_activity
from demimas_pillars.service_layer.ports import PillarsUoW
from demimas_pillars.service_layer.thematic import set_thematic_status

__all__ = ["load_demo"]

C = TypeVar("C")
R = TypeVar("R")
KALIGOWONG, ULAK_PACEH, TEBING_BULANG = "33.07.01.2001", "16.06.13.2001", "16.06.03.2008"
_P, _O, _G, _T = ServicePillar, OutputKind, ParticipantGroup, ThematicProgramme


def _principal(agency: Agency) -> Principal:
    return Principal(f"demo-{agency.value.lower()}", agency, DEFAULT_GRANTS[agency])


async def _as(
    engine: AsyncEngine,
    principal: Principal,
    handler: Callable[[C, PillarsUoW, Principal, DeliverySettings], Awaitable[R]],
    cmd: C,
    settings: DeliverySettings,
) -> R:
    """`handler(cmd)` in a unit of work of its own, by `principal`."""
    async with PillarsUnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        return await handler(cmd, uow, principal, settings)


# (village, pillar, agency, days ago, title, programme, anonymous (female, male, group), outputs)
ACTIVITIES = [
    (
        KALIGOWONG,
        _P.PROCEDURAL_MIGRATION_SERVICE,
        Agency.BP3MI,
        200,
        "Layanan informasi migrasi aman di balai desa",
        None,
        (34, 21, _G.PROSPECTIVE_WORKER),
        {_O.CANDIDATES_SERVED: 41, _O.DOCUMENTS_PROCESSED: 17},
    ),
    (
        KALIGOWONG,
        _P.NONPROCEDURAL_AND_TRAFFICKING_PREVENTION,
        Agency.BNN,
        120,
        "Sosialisasi bahaya narkoba dan TPPO bagi CPMI",
        ThematicProgramme.DESA_BERSINAR,
        (40, 35, _G.COMMUNITY),
        {_O.PEOPLE_INFORMED: 75, _O.TRAFFICKING_CASES_REFERRED: 1},
    ),
    (
        KALIGOWONG,
        _P.FAMILY_STRENGTHENING,
        Agency.KEMENPPPA,
        90,
        "Community parenting untuk keluarga PMI",
        ThematicProgramme.DRPPA,
        (28, 6, _G.WORKER_FAMILY),
        {_O.FAMILIES_COUNSELLED: 22, _O.CHILDREN_SUPPORTED: 31},
    ),
    (
        KALIGOWONG,
        _P.COOPERATIVE_BUMDES,
        Agency.KEMENDES,
        60,
        "Pendampingan BUMDes unit usaha purna PMI",
        ThematicProgramme.BUMDES,
        (9, 12, _G.RETURNEE),
        {_O.COOPERATIVE_MEMBERS_JOINED: 18, _O.LOANS_FACILITATED: 4},
    ),
    (
        KALIGOWONG,
        _P.FINANCIAL_LITERACY_REMITTANCE,
        Agency.KP2MI,
        45,
        "Literasi keuangan dan remitansi",
        None,
        (30, 8, _G.WORKER_FAMILY),
        {_O.PARTICIPANTS_TRAINED: 38, _O.REMITTANCE_ACCOUNTS_OPENED: 12},
    ),
    (
        KALIGOWONG,
        _P.DEPARTURE_RETURN_MONITORING,
        Agency.KEMENIMIPAS,
        30,
        "Pendataan keberangkatan bersama Pimpasa",
        ThematicProgramme.DESA_BINAAN_IMIGRASI,
        (5, 4, _G.PROSPECTIVE_WORKER),
        {_O.DEPARTURES_RECORDED: 9},
    ),
    (
        ULAK_PACEH,
        _P.JOB_OPPORTUNITY_INFORMATION,
        Agency.BP3MI,
        20,
        "Informasi peluang kerja Malaysia dan Korea",
        None,
        (22, 19, _G.PROSPECTIVE_WORKER),
        {_O.PEOPLE_INFORMED: 41, _O.JOB_ORDERS_SHARED: 3},
    ),
]


# (village, programme, days since, decree or letter): each set by the programme's owner (domain/thematic.py)
THEMATIC_STATUSES = [
    (ULAK_PACEH, _T.DRPPA, 400, "SK Bupati Musi Banyuasin 463/112/DPPPA/2025"),
    (ULAK_PACEH, _T.DESA_BERSINAR, 250, "SK Kepala BNNK Musi Banyuasin B/88/2026"),
    (TEBING_BULANG, _T.DESA_TEMATIK, 180, "Kepmendes PDT 142/2026"),
    (KALIGOWONG, _T.DRPPA, 700, "SK Bupati Wonosobo 463/215/2024"),
    (KALIGOWONG, _T.DESA_BERSINAR, 500, "SK Kepala BNNK Wonosobo B/41/2025"),
    (KALIGOWONG, _T.BUMDES, 900, "Perdes Kaligowong 3/2024"),
]


async def _load_thematic(engine: AsyncEngine, settings: DeliverySettings) -> None:
    async with engine.connect() as conn:
        if await conn.scalar(select(thematic_statuses.c.id).limit(1)) is not None:
            return
    for village, programme, days, reference in THEMATIC_STATUSES:
        cmd = SetThematicStatus(village, programme, settings.today() - dt.timedelta(days=days), reference)
        await _as(engine, _principal(owner_of(programme)), set_thematic_status, cmd, settings)


async def load_demo(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    settings = DeliverySettings()
    today = settings.today()
    try:
        await _load_thematic(engine, settings)
        async with engine.connect() as conn:
            if await conn.scalar(select(activities.c.id).limit(1)) is not None:
                return
            if await conn.scalar(select(pilots.c.id).limit(1)) is not None:
                return
        recorded: list[Activity] = []
        for village, pillar, agency, days, title, programme, (f, m, group), outputs in ACTIVITIES:
            principal = _principal(agency)
            anonymous = (AnonymousCount(Sex.FEMALE, group, f), AnonymousCount(Sex.MALE, group, m))
            a = Activity(
                uuid.uuid4(),
                village,
                pillar,
                title,
                today - dt.timedelta(days=days),
                agency.value,
                principal.sub,
                settings.clock(),
                programme=programme,
                anonymous=anonymous,
                outputs=outputs,
            )
            recorded.append(await _as(engine, principal, record_activity, RecordActivity(a), settings))
        polkam = _principal(Agency.KEMENKO_POLKAM)
        start = today - dt.timedelta(days=100)
        done, late, ahead = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        pilot = Pilot(
            uuid.uuid4(), KALIGOWONG, "Proyek percontohan Desa Migran EMAS terpadu Kaligowong", "KEMENKO_POLKAM",
            PilotStatus.PLANNED, start,
            (Partner("KEMENPPPA", ThematicProgramme.DRPPA, "Community parenting and child protection for PMI families"),
             Partner("BNN", ThematicProgramme.DESA_BERSINAR, "Drug and trafficking prevention sessions each quarter"),
             Partner("KEMENDES", ThematicProgramme.BUMDES, "A BUMDes business unit run by returnees"),
             Partner("KEMENIMIPAS", ThematicProgramme.DESA_BINAAN_IMIGRASI, "Immigration officer (Pimpasa) on call")),
            (Milestone(done, "Baseline survey of PMI families", start + dt.timedelta(days=30), "KEMENPPPA"),
             Milestone(late, "BUMDes business unit registered", today - dt.timedelta(days=10), "KEMENDES"),
             Milestone(ahead, "Joint evaluation meeting", today + dt.timedelta(days=60), "KEMENKO_POLKAM")),
            settings.clock(),
        )  # fmt: skip
        await _as(engine, polkam, create_pilot, CreatePilot(pilot), settings)
        completed = CompleteMilestone(pilot.id, done, start + dt.timedelta(days=28))
        await _as(engine, _principal(Agency.KEMENPPPA), complete, completed, settings)
        for a in recorded:
            if a.village_code == KALIGOWONG and a.programme is not None:
                await _as(engine, polkam, link_activity, LinkActivity(pilot.id, a.id), settings)
    finally:
        await engine.dispose()
