"""The proposal workflow's use cases on PostgreSQL: who may do what where, one open proposal per village, the
assessment from the projection and the evidence, events in the outbox, nothing written on a refusal."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from demimas_common.events.envelope import new_event
from demimas_designation.adapters.proposals import ProposalRepository
from demimas_designation.adapters.tables import SCHEMA, events, proposal_transitions
from demimas_designation.adapters.unit_of_work import DesignationUnitOfWork
from demimas_designation.domain.assessment import Evidence
from demimas_designation.domain.commands import (
    AddEvidence,
    ApproveProposal,
    AssessProposal,
    ProposeVillage,
    RejectProposal,
    SubmitProposal,
    VerifyProposal,
    WithdrawProposal,
)
from demimas_designation.domain.vocabulary import Criterion, CriterionStatus, EvidenceKind, ProposalStatus
from demimas_designation.service_layer import proposals as flow
from demimas_designation.service_layer.village_stats import apply_event

from .conftest import SETTINGS, consume, run, village

pytestmark = pytest.mark.integration

WHY = "17 residents work in Malaysia as production operators, mostly SMA/SMK graduates"


def principal(agency: str, region: str | None = None) -> Principal:
    return Principal(f"sub-{agency.lower()}", Agency(agency), frozenset(DEFAULT_GRANTS[Agency(agency)]), region)


DISNAKER, BP3MI, KP2MI = principal("DISNAKER", "16.06"), principal("BP3MI", "16"), principal("KP2MI")


async def residents(engine: AsyncEngine, code: str, n: int, procedural: int) -> None:
    for i in range(n):
        worker = str(uuid.uuid4())
        data = {"workerId": worker, "villageCode": code, "status": "ABROAD", "version": 2, "procedural": i < procedural,
                "destinationCountry": "MY", "scheme": "P_TO_P"}  # fmt: skip
        await consume(engine, apply_event, new_event("demimas.registry.worker.departed", worker, data))


def evidence(kind: EvidenceKind, **kw: object) -> Evidence:
    values: dict[str, object] = {"title": kind.value.lower(), "document_date": dt.date(2026, 6, 1), "sha256": "b" * 64}
    values.update(kw)
    return Evidence(uuid.uuid4(), kind, **values)  # type: ignore[arg-type]


async def outbox_types(engine: AsyncEngine, proposal_id: uuid.UUID) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(events.outbox.c.type).where(events.outbox.c.subject == str(proposal_id))
                                  .order_by(events.outbox.c.seq))  # fmt: skip
        return [r[0] for r in rows]


async def outbox_actors(engine: AsyncEngine, proposal_id: uuid.UUID) -> list[str | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(events.outbox.c.payload).where(events.outbox.c.subject == str(proposal_id))
                                  .order_by(events.outbox.c.seq))  # fmt: skip
        return [r[0].get("actoragency") for r in rows]


async def test_the_seed_scenario_from_proposal_to_decree(engine: AsyncEngine) -> None:
    code = village("16.06")
    await residents(engine, code, 17, procedural=15)
    p = await run(engine, flow.propose, ProposeVillage(code, WHY), DISNAKER)
    await run(engine, flow.submit, SubmitProposal(p.id), DISNAKER)
    await run(engine, flow.verify, VerifyProposal(p.id, "visited"), BP3MI)
    for kind, extra in [
        (EvidenceKind.TASK_FORCE_DECREE, {"number": "141/2026", "term_end": dt.date(2029, 5, 31)}),
        (EvidenceKind.VILLAGE_REGULATION, {"number": "Perdes 3/2026"}),
        (EvidenceKind.SERVICE_INFRASTRUCTURE, {}),
        (EvidenceKind.EMPOWERMENT_PROGRAMME, {}),
        (EvidenceKind.RETURNEE_BUSINESS_GROUP, {}),
        (EvidenceKind.FIELD_VISIT, {"document_date": SETTINGS.clock().date()}),
    ]:
        await run(engine, flow.add_evidence, AddEvidence(p.id, evidence(kind, **extra)), DISNAKER)
    _, assessment = await run(engine, flow.assess_proposal, AssessProposal(p.id), BP3MI)
    assert assessment.result(Criterion.HAS_PMI_RESIDENTS).value == "17"
    assert assessment.result(Criterion.PROCEDURAL_SHARE).status is CriterionStatus.MET
    assert assessment.eligible
    approved = await run(
        engine, flow.approve, ApproveProposal(p.id, "SK 12/2026", SETTINGS.clock().date(), None), KP2MI
    )
    assert approved.status is ProposalStatus.APPROVED
    assert await outbox_types(engine, p.id) == [
        f"demimas.designation.proposal.{k}" for k in ("submitted", "verified", "assessed", "approved")
    ]
    # every step says who took it, so the audit's actorAgency filter finds it
    assert await outbox_actors(engine, p.id) == ["DISNAKER", "BP3MI", "BP3MI", "KP2MI"]
    async with engine.connect() as conn:
        kept = await conn.scalar(select(func.count()).where(proposal_transitions.c.proposal_id == p.id))
    assert kept == 5  # draft, submitted, verified, assessed, approved: who, when and why for each


async def test_who_may_do_what_where(engine: AsyncEngine) -> None:
    elsewhere = village("33.07")
    with pytest.raises(Forbidden):
        await run(engine, flow.propose, ProposeVillage(elsewhere, WHY), DISNAKER)  # outside the regency
    with pytest.raises(Forbidden):
        await run(
            engine, flow.propose, ProposeVillage(village("16.06"), WHY), principal("KEMENDES")
        )  # no designation:propose
    with pytest.raises(BadUserInput):
        await run(engine, flow.propose, ProposeVillage("16.06.13", WHY), DISNAKER)
    p = await run(engine, flow.propose, ProposeVillage(village("16.06"), WHY), DISNAKER)
    await run(engine, flow.submit, SubmitProposal(p.id), DISNAKER)
    with pytest.raises(Forbidden):
        await run(
            engine, flow.verify, VerifyProposal(p.id, None), DISNAKER
        )  # the regency cannot verify its own proposal
    with pytest.raises(NotFound) as hidden:  # another province's office: as if there were no such proposal
        await run(engine, flow.verify, VerifyProposal(p.id, None), principal("BP3MI", "33"))
    assert "16.06" not in hidden.value.message
    with pytest.raises(Conflict):
        await run(
            engine, flow.approve, ApproveProposal(p.id, "SK 1", SETTINGS.clock().date(), None), KP2MI
        )  # not assessed
    assert await outbox_types(engine, p.id) == ["demimas.designation.proposal.submitted"]  # refusals wrote nothing


async def test_one_open_proposal_per_village_and_approval_needs_eligibility_or_a_reason(engine: AsyncEngine) -> None:
    code = village("16.06")
    p = await run(engine, flow.propose, ProposeVillage(code, WHY), DISNAKER)
    with pytest.raises(Conflict) as failure:
        await run(engine, flow.propose, ProposeVillage(code, WHY), DISNAKER)
    assert failure.value.extensions["reason"] == "open_proposal_exists"
    await run(engine, flow.submit, SubmitProposal(p.id), DISNAKER)
    await run(engine, flow.verify, VerifyProposal(p.id, None), BP3MI)
    _, assessment = await run(engine, flow.assess_proposal, AssessProposal(p.id), BP3MI)
    assert not assessment.eligible  # no residents, no evidence
    with pytest.raises(BadUserInput):
        await run(engine, flow.approve, ApproveProposal(p.id, "SK 2", SETTINGS.clock().date(), None), KP2MI)
    approved = await run(
        engine, flow.approve, ApproveProposal(p.id, "SK 2", SETTINGS.clock().date(), "pilot village"), KP2MI
    )
    assert approved.eligibility_override == "pilot village"
    again = await run(
        engine, flow.propose, ProposeVillage(code, WHY), DISNAKER
    )  # the first one is decided: a new one may open
    await run(engine, flow.withdraw, WithdrawProposal(again.id, "duplicate"), DISNAKER)
    with pytest.raises(BadUserInput):
        await run(engine, flow.add_evidence, AddEvidence(again.id, evidence(EvidenceKind.FIELD_VISIT)), DISNAKER)


async def test_a_decision_keeps_its_assessment_and_each_proposal_its_own_evidence(engine: AsyncEngine) -> None:
    """Issue 20 on PostgreSQL: the frozen assessment (migration 0005) reads back as it was decided, while the live one
    moves with the registry's numbers; `evidence_of_proposals` gives each proposal the evidence added to it."""
    code = village("16.06")
    await residents(engine, code, 4, procedural=4)
    first = await run(engine, flow.propose, ProposeVillage(code, WHY), DISNAKER)
    decree = evidence(EvidenceKind.TASK_FORCE_DECREE, number="141/2026", term_end=dt.date(2029, 5, 31))
    await run(engine, flow.add_evidence, AddEvidence(first.id, decree), DISNAKER)
    await run(engine, flow.submit, SubmitProposal(first.id), DISNAKER)
    await run(engine, flow.verify, VerifyProposal(first.id, None), BP3MI)
    await run(engine, flow.reject, RejectProposal(first.id, "the other documents are missing"), KP2MI)
    second = await run(engine, flow.propose, ProposeVillage(code, WHY), DISNAKER)
    visit = evidence(EvidenceKind.FIELD_VISIT, document_date=SETTINGS.clock().date())
    await run(engine, flow.add_evidence, AddEvidence(second.id, visit), DISNAKER)
    await run(engine, flow.submit, SubmitProposal(second.id), DISNAKER)
    await run(engine, flow.verify, VerifyProposal(second.id, None), BP3MI)
    await run(engine, flow.assess_proposal, AssessProposal(second.id), BP3MI)
    await run(engine, flow.approve, ApproveProposal(second.id, "SK 5/2026", SETTINGS.clock().date(), "pilot"), KP2MI)
    await residents(engine, code, 6, procedural=0)  # after the decision: 10 residents, 40 % procedural
    async with engine.connect() as conn:
        repo = ProposalRepository(conn)
        own = await repo.evidence_of_proposals([first.id, second.id, uuid.uuid4()])
        frozen = await repo.decision_assessments([first.id, second.id])
    assert [e.id for e in own[first.id]] == [decree.id]
    assert [e.id for e in own[second.id]] == [visit.id]
    assert len(own) == 3  # an unknown id: an empty list
    rejected, approved = frozen[first.id], frozen[second.id]
    assert (rejected.decision, approved.decision) == (ProposalStatus.REJECTED, ProposalStatus.APPROVED)
    assert [e.id for e in rejected.evidence] == [decree.id]
    assert {e.id for e in approved.evidence} == {decree.id, visit.id}  # a re-proposal keeps what was evidenced
    assert approved.evidence[[e.id for e in approved.evidence].index(decree.id)] == decree
    assert approved.assessment.result(Criterion.HAS_PMI_RESIDENTS).value == "4"
    assert approved.assessment.result(Criterion.PROCEDURAL_SHARE).status is CriterionStatus.MET
    assert approved.procedural_threshold == SETTINGS.procedural_threshold
    async with DesignationUnitOfWork(engine, schema=SCHEMA) as uow:
        live = await flow.assessment_of(uow, code, SETTINGS, SETTINGS.clock().date())
    assert live.result(Criterion.HAS_PMI_RESIDENTS).value == "10"
    assert live.result(Criterion.PROCEDURAL_SHARE).status is not CriterionStatus.MET
