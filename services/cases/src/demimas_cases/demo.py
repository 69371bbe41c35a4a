"""Demo data for `make run`: KP2MI's register with one legal aid organisation serving South Sumatra, and two cases of
the Musi Banyuasin seed villages, as the agencies would make them through the use cases:

- Ulak Paceh (16.06.13.2001): a complaint of unpaid wages by a worker in Malaysia, heard by the village task force,
  opened by the regency's DISNAKER, triaged by BP3MI, referred by KP2MI to legal aid, which accepted it;
- Tebing Bulang (16.06.03.2008): the welfare of a child whose mother works abroad, restricted (a child), referred
  to KemenPPPA, whose answer is pending.

The people are the registry's demo workers and family members. The demo runs before the services start, so before
the registry's events reach this service's `people` projection: it reads the ids (ids, villages, the minor flag;
nothing personal) from the registry's tables on the same development server and records them in the projection as
the consumer will (idempotently). Devstack only: in production each service reaches only its own schema."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_cases.adapters.tables import SCHEMA
from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.domain.case import Case, Person, Reporter
from demimas_cases.domain.commands import AnswerReferral, OpenCase, ReferCase, RegisterLegalAid, TriageCase
from demimas_cases.domain.legal_aid import LegalAidOrganisation
from demimas_cases.domain.vocabulary import CaseChannel, CaseKind, CasePhase, CaseStatus, Confidentiality, PersonRole
from demimas_cases.service_layer.cases import answer_referral, open_case, refer_case, triage_case
from demimas_cases.service_layer.legal_aid import register_legal_aid
from demimas_cases.service_layer.ports import CasesUoW
from demimas_cases.service_layer.rules import CaseRules
from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user

__all__ = ["load_demo"]

log = logging.getLogger("demimas.cases.demo")
C = TypeVar("C")
R = TypeVar("R")
ULAK_PACEH, TEBING_BULANG = "16.06.13.2001", "16.06.03.2008"
RULES = CaseRules()


def _principal(agency: Agency, region: str | None = None) -> Principal:
    return Principal(f"demo-{agency.value.lower()}", agency, DEFAULT_GRANTS[agency], region=region)


KP2MI, BP3MI, DISNAKER = _principal(Agency.KP2MI), _principal(Agency.BP3MI, "16"), _principal(Agency.DISNAKER, "16.06")


async def _as(
    engine: AsyncEngine,
    principal: Principal,
    handler: Callable[[C, CasesUoW, Principal, CaseRules], Awaitable[R]],
    cmd: C,
) -> R:
    async with CasesUnitOfWork(engine, schema=SCHEMA, actor=principal.actor) as uow:
        return await handler(cmd, uow, principal, RULES)


async def _registry_people(
    database_url: str,
) -> tuple[tuple[uuid.UUID, int] | None, tuple[uuid.UUID, uuid.UUID] | None]:
    """(a worker of Ulak Paceh abroad and its version), (a worker of Tebing Bulang and a minor of its family)."""
    engine = create_engine(with_user(database_url, runtime_role("registry")), pool_size=1)
    try:
        async with engine.connect() as conn:
            worker = (await conn.execute(text(
                "SELECT id, version FROM registry.workers WHERE village_code = :v AND status = 'ABROAD' "
                "ORDER BY id LIMIT 1"
            ), {"v": ULAK_PACEH})).first()  # fmt: skip
            child = (await conn.execute(text(
                "SELECT w.id, f.id FROM registry.workers w JOIN registry.family_members f ON f.worker_id = w.id "
                "WHERE w.village_code = :v AND f.minor ORDER BY w.id, f.id LIMIT 1"
            ), {"v": TEBING_BULANG})).first()  # fmt: skip
    except Exception as exc:  # no registry demo on this server: the cases name unregistered people instead
        log.warning("cases demo: registry people not readable (%s); using unregistered people", type(exc).__name__)
        return None, None
    finally:
        await engine.dispose()
    return ((worker[0], worker[1]) if worker else None), ((child[0], child[1]) if child else None)


def _case(village: str, kind: CaseKind, people: tuple[Person, ...], description: str, country: str) -> Case:
    now = RULES.clock()
    return Case(
        id=uuid.uuid4(), kind=kind, phase=CasePhase.ABROAD, channel=CaseChannel.VILLAGE_TASK_FORCE,
        village_code=village, destination_country=country, owner_agency=DISNAKER.agency.value,
        opened_by=DISNAKER.agency.value, confidentiality=Confidentiality.STANDARD, status=CaseStatus.OPEN, version=1,
        people=people, reporter=Reporter(anonymous=False, name="Satgas PMI Desa", contact="satgas@desa.example"),
        description=description, opened_at=now, triage_due_at=RULES.clocks.triage_due(now),
        resolution_due_at=RULES.clocks.resolution_due(kind, now),
    )  # fmt: skip


async def load_demo(database_url: str) -> None:
    worker, family = await _registry_people(database_url)
    engine = create_engine(database_url, pool_size=2)
    try:
        async with CasesUnitOfWork(engine, schema=SCHEMA) as uow:
            if worker is not None:
                await uow.people.save_worker(worker[0], ULAK_PACEH, worker[1])
            if family is not None:
                await uow.people.save_worker(family[0], TEBING_BULANG, 1)
                await uow.people.save_family_member(family[1], family[0], None, True)
            await uow.commit()
        org = LegalAidOrganisation(
            id=uuid.uuid4(), name="LBH Palembang (demo)", accreditation_number="DEMO-OBH-1606-001",
            regions_served=("16",), contact="+62 711 000000", active=True, registered_at=RULES.clock(),
        )  # fmt: skip
        await _as(engine, KP2MI, register_legal_aid, RegisterLegalAid(org))

        worker_person = (
            Person(PersonRole.WORKER, id=worker[0])
            if worker
            else Person(PersonRole.UNREGISTERED, name="Pekerja Ulak Paceh")
        )
        wages = _case(ULAK_PACEH, CaseKind.COMPLAINT, (worker_person,), "Gaji tidak dibayar selama empat bulan oleh "
                      "majikan di Malaysia; pekerja meminta bantuan hukum.", "MY")  # fmt: skip
        c = await _as(engine, DISNAKER, open_case, OpenCase(wages))
        c = await _as(engine, BP3MI, triage_case, TriageCase(c.id, c.version, owner=Agency.BP3MI.value))
        c = await _as(engine, KP2MI, refer_case, ReferCase(c.id, c.version, uuid.uuid4(), "Pendampingan hukum "
                      "untuk menuntut upah yang tidak dibayar", legal_aid_organisation_id=org.id))  # fmt: skip
        await _as(engine, KP2MI, answer_referral, AnswerReferral(c.referrals[-1].id, c.version, accept=True))

        child = (
            Person(PersonRole.FAMILY_MEMBER, id=family[1])
            if family
            else Person(PersonRole.UNREGISTERED, name="Anak PMI Tebing Bulang", minor=True)
        )
        welfare = _case(TEBING_BULANG, CaseKind.FAMILY_WELFARE, (child,), "Anak pekerja migran tinggal tanpa "
                        "pengasuhan yang memadai sejak ibunya bekerja di luar negeri.", "HK")  # fmt: skip
        c = await _as(engine, DISNAKER, open_case, OpenCase(welfare))
        c = await _as(engine, BP3MI, triage_case, TriageCase(c.id, c.version, owner=Agency.BP3MI.value))
        await _as(engine, BP3MI, refer_case, ReferCase(c.id, c.version, uuid.uuid4(), "Pendampingan keluarga dan "
                  "perlindungan anak (DRPPA)", to_agency=Agency.KEMENPPPA.value))  # fmt: skip
        log.info("cases demo: a legal aid organisation and two cases")
    finally:
        await engine.dispose()
