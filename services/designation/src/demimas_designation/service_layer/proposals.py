"""Use cases of the designation workflow: each checks the caller (scope, region), changes the proposal in one unit
of work with its transition and its event in the outbox, or changes nothing.

Who does what (ARCHITECTURE.md grants): the regency office proposes, submits, withdraws and adds evidence for
villages of its region (`designation:propose`); the provincial office verifies and assesses inside its region
(`designation:verify`); KP2MI decides (`designation:decide`)."""

from __future__ import annotations

import datetime as dt
import inspect
import re
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_common.db.uow import UnitOfWork
from demimas_common.errors import BadUserInput, Forbidden
from demimas_designation.adapters import designations as designation_repo
from demimas_designation.adapters import proposals as repo
from demimas_designation.adapters.projection import counts_of
from demimas_designation.domain.assessment import CriteriaAssessment, Evidence, assess, check_evidence
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.proposal import Proposal, Transition, check_decree
from demimas_designation.domain.vocabulary import DesignationStatus, Programme
from demimas_designation.service_layer.events import proposal_event, village_event

__all__ = ["WorkflowSettings", "add_evidence", "approve", "assess_proposal", "propose", "reject", "submit", "verify",
           "withdraw"]  # fmt: skip

SCHEMA = "designation"
VILLAGE_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
PROPOSE, VERIFY, DECIDE = "designation:propose", "designation:verify", "designation:decide"


class WorkflowSettings:
    def __init__(self, procedural_threshold: float = 0.8, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.procedural_threshold = procedural_threshold
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))


def _actor(principal: Principal) -> tuple[str, str]:
    return principal.agency.value, principal.sub


def _allowed(principal: Principal, scopes: tuple[str, ...], village_code: str | None) -> None:
    if not any(principal.has_scope(s) for s in scopes):
        raise Forbidden(f"this needs the {' or '.join(scopes)} scope", reason="scope")
    if village_code is not None:
        principal.require_region(village_code, field="villageCode")


async def propose(engine: AsyncEngine, principal: Principal, village_code: str, justification: str,
                  settings: WorkflowSettings) -> Proposal:  # fmt: skip
    if not VILLAGE_CODE.match(village_code or ""):
        raise BadUserInput("villageCode must be a Kemendagri village code like 16.06.13.2001", field="villageCode")
    _allowed(principal, (PROPOSE,), village_code)
    agency, sub = _actor(principal)
    region = principal.region or village_code[:5]
    proposal = Proposal.draft(uuid.uuid4(), village_code, justification, region, agency=agency, sub=sub,
                              at=settings.clock())  # fmt: skip
    async with UnitOfWork(engine, schema=SCHEMA) as uow:
        await repo.insert_proposal(uow.connection, proposal)
        await uow.commit()
    return proposal


async def _change(
    engine: AsyncEngine,
    principal: Principal,
    proposal_id: uuid.UUID,
    scopes: tuple[str, ...],
    change: Callable[[Proposal, UnitOfWork], object],
    event: str | None,
) -> Proposal:
    async with UnitOfWork(engine, schema=SCHEMA) as uow:
        proposal = await repo.load_proposal(uow.connection, proposal_id, for_update=True)
        _allowed(principal, scopes, None)
        principal.require_visible(proposal.village_code, f"proposal {proposal_id}", field="id")
        loaded, known = proposal.version, len(proposal.history)
        result = change(proposal, uow)
        if inspect.isawaitable(result):
            await result
        await repo.save_proposal(uow.connection, proposal, loaded_version=loaded, known=known)
        if event is not None:
            uow.publish(proposal_event(event, proposal))
        await uow.commit()
    return proposal


async def submit(engine: AsyncEngine, principal: Principal, proposal_id: uuid.UUID,
                 settings: WorkflowSettings) -> Proposal:  # fmt: skip
    agency, sub = _actor(principal)
    return await _change(engine, principal, proposal_id, (PROPOSE,),
                         lambda p, _: p.submit(agency=agency, sub=sub, at=settings.clock()), "submitted")  # fmt: skip


async def verify(engine: AsyncEngine, principal: Principal, proposal_id: uuid.UUID, note: str | None,
                 settings: WorkflowSettings) -> Proposal:  # fmt: skip
    agency, sub = _actor(principal)
    return await _change(engine, principal, proposal_id, (VERIFY,),
                         lambda p, _: p.verify(agency=agency, sub=sub, at=settings.clock(), note=note),
                         "verified")  # fmt: skip


async def withdraw(engine: AsyncEngine, principal: Principal, proposal_id: uuid.UUID, reason: str | None,
                   settings: WorkflowSettings) -> Proposal:  # fmt: skip
    agency, sub = _actor(principal)

    def run(p: Proposal, _: UnitOfWork) -> None:
        p.withdraw(reason, agency=agency, sub=sub, at=settings.clock())

    return await _change(engine, principal, proposal_id, (PROPOSE,), run, None)


async def reject(engine: AsyncEngine, principal: Principal, proposal_id: uuid.UUID, reason: str,
                 settings: WorkflowSettings) -> Proposal:  # fmt: skip
    agency, sub = _actor(principal)
    return await _change(engine, principal, proposal_id, (DECIDE,),
                         lambda p, _: p.reject(reason, agency=agency, sub=sub, at=settings.clock()),
                         "rejected")  # fmt: skip


async def add_evidence(engine: AsyncEngine, principal: Principal, proposal_id: uuid.UUID, item: Evidence,
                       settings: WorkflowSettings) -> Evidence:  # fmt: skip
    now = settings.clock()
    checked = check_evidence(item, now.date())
    async with UnitOfWork(engine, schema=SCHEMA) as uow:
        proposal = await repo.load_proposal(uow.connection, proposal_id, for_update=True)
        _allowed(principal, (PROPOSE, VERIFY), None)
        principal.require_visible(proposal.village_code, f"proposal {proposal_id}", field="proposalId")
        if not proposal.status.open:
            raise BadUserInput(f"the proposal is {proposal.status.value}: evidence can no longer be added",
                               field="proposalId")  # fmt: skip
        agency, sub = _actor(principal)
        await repo.add_evidence(uow.connection, proposal_id, checked, agency=agency, sub=sub, at=now)
        await uow.commit()
    return checked


async def assess_proposal(engine: AsyncEngine, principal: Principal, proposal_id: uuid.UUID,
                          settings: WorkflowSettings) -> tuple[Proposal, CriteriaAssessment]:  # fmt: skip
    """Assess against the criteria (registry data from the projection, the rest from evidence) and record it."""
    outcome: list[CriteriaAssessment] = []
    agency, sub = _actor(principal)

    async def run(p: Proposal, uow: UnitOfWork) -> None:
        counts = await counts_of(uow.connection, p.village_code)
        items = await repo.evidence_of(uow.connection, p.village_code)
        now = settings.clock()
        outcome.append(assess(counts, items, threshold=settings.procedural_threshold, today=now.date()))
        p.mark_assessed(agency=agency, sub=sub, at=now)

    proposal = await _change(engine, principal, proposal_id, (VERIFY, DECIDE), run, "assessed")
    return proposal, outcome[0]


async def approve(
    engine: AsyncEngine,
    principal: Principal,
    proposal_id: uuid.UUID,
    decree_number: str,
    decree_date: dt.date,
    override_reason: str | None,
    settings: WorkflowSettings,
) -> Proposal:
    agency, sub = _actor(principal)

    async def run(p: Proposal, uow: UnitOfWork) -> None:
        now = settings.clock()
        decree = check_decree(decree_number, decree_date, now.date())
        counts = await counts_of(uow.connection, p.village_code)
        items = await repo.evidence_of(uow.connection, p.village_code)
        eligible = assess(counts, items, threshold=settings.procedural_threshold, today=now.date()).eligible
        p.approve(decree, eligible=eligible, override_reason=override_reason, agency=agency, sub=sub, at=now)
        designation = Designation(uuid.uuid4(), p.village_code, decree, Programme.DEMIMAS, proposal_id=p.id,
                                  history=[Transition(DesignationStatus.ACTIVE, now, agency, sub, None)])  # fmt: skip
        await designation_repo.insert_designation(uow.connection, designation)
        uow.publish(village_event(designation))

    return await _change(engine, principal, proposal_id, (DECIDE,), run, "approved")
