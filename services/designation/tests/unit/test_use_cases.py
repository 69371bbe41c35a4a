"""The service layer's rules on in-memory repositories: who may do what where, what each use case stores and which
events it publishes, and that a refusal publishes nothing. The same use cases run on PostgreSQL in
tests/integration."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from demimas_common.events.envelope import new_event
from demimas_designation.domain import commands as cmd
from demimas_designation.domain.assessment import Evidence
from demimas_designation.domain.snapshot import DecisionAssessment
from demimas_designation.domain.vocabulary import (
    Criterion,
    CriterionStatus,
    DesignationStatus,
    EvidenceKind,
    Programme,
    ProposalStatus,
)
from demimas_designation.service_layer import designations as designation_flow
from demimas_designation.service_layer import proposals as flow
from demimas_designation.service_layer.desmigratif import import_desmigratif
from demimas_designation.service_layer.proposals import WorkflowSettings
from demimas_designation.service_layer.village_stats import apply_event, apply_events

from .fakes import FakeDesignationUoW

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
SETTINGS = WorkflowSettings(procedural_threshold=0.8, clock=lambda: NOW)
WHY = "17 residents work in Malaysia as production operators, mostly SMA/SMK graduates"
CODE = "16.06.13.2001"
C = TypeVar("C")
R = TypeVar("R")


def principal(agency: str, region: str | None = None) -> Principal:
    return Principal(f"sub-{agency.lower()}", Agency(agency), frozenset(DEFAULT_GRANTS[Agency(agency)]), region)


DISNAKER, BP3MI, KP2MI = principal("DISNAKER", "16.06"), principal("BP3MI", "16"), principal("KP2MI")


async def run(uow: FakeDesignationUoW, handler: Callable[[C, Any, Principal, WorkflowSettings], Awaitable[R]],
              command: C, who: Principal) -> R:  # fmt: skip
    async with uow:
        return await handler(command, uow, who, SETTINGS)


def evidence(kind: EvidenceKind, **kw: Any) -> Evidence:
    values: dict[str, Any] = {"title": kind.value.lower(), "document_date": dt.date(2026, 6, 1), "sha256": "b" * 64}
    return Evidence(uuid.uuid4(), kind, **(values | kw))


FULL_EVIDENCE = [
    (EvidenceKind.TASK_FORCE_DECREE, {"number": "141/2026", "term_end": dt.date(2029, 5, 31)}),
    (EvidenceKind.VILLAGE_REGULATION, {"number": "Perdes 3/2026"}),
    (EvidenceKind.SERVICE_INFRASTRUCTURE, {}),
    (EvidenceKind.EMPOWERMENT_PROGRAMME, {}),
    (EvidenceKind.RETURNEE_BUSINESS_GROUP, {}),
    (EvidenceKind.FIELD_VISIT, {"document_date": NOW.date()}),
]


def departed(worker: str, village: str, procedural: bool, version: int = 2) -> Any:
    data = {"workerId": worker, "villageCode": village, "status": "ABROAD", "version": version,
            "procedural": procedural, "destinationCountry": "MY", "scheme": "P_TO_P"}  # fmt: skip
    return new_event("demimas.registry.worker.departed", worker, data)


async def verified(uow: FakeDesignationUoW) -> uuid.UUID:
    p = await run(uow, flow.propose, cmd.ProposeVillage(CODE, WHY), DISNAKER)
    await run(uow, flow.submit, cmd.SubmitProposal(p.id), DISNAKER)
    await run(uow, flow.verify, cmd.VerifyProposal(p.id, "visited"), BP3MI)
    return p.id


async def test_a_proposal_from_draft_to_decree_publishes_each_step_and_designates_the_village() -> None:
    uow = FakeDesignationUoW()
    async with uow:
        await apply_events([departed(str(uuid.uuid4()), CODE, procedural=i < 15) for i in range(17)], uow)
        await uow.commit()
    pid = await verified(uow)
    for kind, extra in FULL_EVIDENCE:
        await run(uow, flow.add_evidence, cmd.AddEvidence(pid, evidence(kind, **extra)), DISNAKER)
    _, assessment = await run(uow, flow.assess_proposal, cmd.AssessProposal(pid), BP3MI)
    assert assessment.eligible
    approved = await run(uow, flow.approve, cmd.ApproveProposal(pid, "SK 12/2026", NOW.date()), KP2MI)
    assert approved.status is ProposalStatus.APPROVED
    assert uow.proposals.rows[pid].status is ProposalStatus.APPROVED
    assert [t.status for t in uow.proposals.rows[pid].history] == [ProposalStatus.DRAFT, ProposalStatus.SUBMITTED,
            ProposalStatus.VERIFIED, ProposalStatus.ASSESSED, ProposalStatus.APPROVED]  # fmt: skip
    assert uow.types() == [f"demimas.designation.proposal.{k}" for k in ("submitted", "verified", "assessed")] + [
        "demimas.designation.village.designated",  # the village's event first, then the proposal's
        "demimas.designation.proposal.approved",
    ]
    (designation,) = uow.designations.rows.values()
    assert (designation.village_code, designation.programme, designation.proposal_id) == (CODE, Programme.DEMIMAS, pid)
    assert uow.published[-2].data == {"villageCode": CODE, "designationId": str(designation.id), "status": "ACTIVE",
                                      "programme": "DEMIMAS"}  # fmt: skip
    assert uow.published[-1].data == {"proposalId": str(pid), "villageCode": CODE, "status": "APPROVED"}


async def test_proposing_needs_the_scope_the_region_and_a_village_code() -> None:
    uow = FakeDesignationUoW()
    with pytest.raises(Forbidden):
        await run(uow, flow.propose, cmd.ProposeVillage("33.07.01.2001", WHY), DISNAKER)  # outside the regency
    with pytest.raises(Forbidden):
        await run(uow, flow.propose, cmd.ProposeVillage(CODE, WHY), principal("KEMENDES"))  # no designation:propose
    with pytest.raises(BadUserInput):
        await run(uow, flow.propose, cmd.ProposeVillage("16.06.13", WHY), DISNAKER)
    assert not uow.proposals.rows
    assert not uow.committed
    p = await run(uow, flow.propose, cmd.ProposeVillage(CODE, WHY), DISNAKER)
    assert (p.status, p.proposed_by_region, uow.commits) == (ProposalStatus.DRAFT, "16.06", 1)
    with pytest.raises(Conflict) as failure:
        await run(uow, flow.propose, cmd.ProposeVillage(CODE, WHY), DISNAKER)
    assert failure.value.extensions["reason"] == "open_proposal_exists"
    assert uow.published == []  # a draft has no event


async def test_a_refusal_publishes_nothing_and_another_region_sees_no_proposal() -> None:
    uow = FakeDesignationUoW()
    p = await run(uow, flow.propose, cmd.ProposeVillage(CODE, WHY), DISNAKER)
    await run(uow, flow.submit, cmd.SubmitProposal(p.id), DISNAKER)
    with pytest.raises(Forbidden):  # the regency cannot verify its own proposal
        await run(uow, flow.verify, cmd.VerifyProposal(p.id), DISNAKER)
    with pytest.raises(NotFound) as hidden:  # another province's office: as if there were no such proposal
        await run(uow, flow.verify, cmd.VerifyProposal(p.id), principal("BP3MI", "33"))
    assert "16.06" not in hidden.value.message
    with pytest.raises(NotFound):
        await run(uow, flow.submit, cmd.SubmitProposal(uuid.uuid4()), DISNAKER)
    with pytest.raises(Conflict):  # not assessed yet
        await run(uow, flow.approve, cmd.ApproveProposal(p.id, "SK 1", NOW.date()), KP2MI)
    assert uow.types() == ["demimas.designation.proposal.submitted"]
    assert uow.proposals.rows[p.id].status is ProposalStatus.SUBMITTED


async def test_approval_without_eligibility_needs_a_reason_that_is_kept() -> None:
    uow = FakeDesignationUoW()
    pid = await verified(uow)
    _, assessment = await run(uow, flow.assess_proposal, cmd.AssessProposal(pid), BP3MI)
    assert not assessment.eligible  # no residents, no evidence
    before = len(uow.published)
    with pytest.raises(BadUserInput):
        await run(uow, flow.approve, cmd.ApproveProposal(pid, "SK 2", NOW.date()), KP2MI)
    with pytest.raises(BadUserInput):  # a decree of tomorrow
        await run(uow, flow.approve, cmd.ApproveProposal(pid, "SK 2", NOW.date() + dt.timedelta(days=1), "pilot"),
                  KP2MI)  # fmt: skip
    assert len(uow.published) == before
    assert not uow.designations.rows
    approved = await run(uow, flow.approve, cmd.ApproveProposal(pid, "SK 2", NOW.date(), "pilot village"), KP2MI)
    assert approved.eligibility_override == "pilot village"


async def test_evidence_is_checked_and_closes_with_the_proposal() -> None:
    uow = FakeDesignationUoW()
    p = await run(uow, flow.propose, cmd.ProposeVillage(CODE, WHY), DISNAKER)
    with pytest.raises(BadUserInput):
        await run(uow, flow.add_evidence, cmd.AddEvidence(p.id, evidence(EvidenceKind.FIELD_VISIT, sha256="x")),
                  DISNAKER)  # fmt: skip
    with pytest.raises(Forbidden):  # neither proposing nor verifying
        await run(uow, flow.add_evidence, cmd.AddEvidence(p.id, evidence(EvidenceKind.FIELD_VISIT)),
                  principal("KEMENDES"))  # fmt: skip
    withdrawn = await run(uow, flow.withdraw, cmd.WithdrawProposal(p.id, "duplicate"), DISNAKER)
    assert withdrawn.status is ProposalStatus.WITHDRAWN
    assert uow.published == []
    with pytest.raises(BadUserInput):
        await run(uow, flow.add_evidence, cmd.AddEvidence(p.id, evidence(EvidenceKind.FIELD_VISIT)), DISNAKER)
    assert uow.proposals.evidence == {}


async def test_rejection_needs_the_decide_scope_and_a_reason() -> None:
    uow = FakeDesignationUoW()
    pid = await verified(uow)
    with pytest.raises(Forbidden):
        await run(uow, flow.reject, cmd.RejectProposal(pid, "no"), BP3MI)
    with pytest.raises(BadUserInput):
        await run(uow, flow.reject, cmd.RejectProposal(pid, "  "), KP2MI)
    rejected = await run(uow, flow.reject, cmd.RejectProposal(pid, "the numbers do not hold"), KP2MI)
    assert rejected.status is ProposalStatus.REJECTED
    assert uow.types()[-1] == "demimas.designation.proposal.rejected"


async def test_designations_are_suspended_reinstated_and_revoked_by_kp2mi_with_their_events() -> None:
    uow = FakeDesignationUoW()
    text = f"village_code,decree_number,decree_date\n{CODE},KEP 42/2019,2019-03-01\n"
    assert await run(uow, import_desmigratif, cmd.ImportDesmigratif(text), KP2MI) == 1
    (d,) = uow.designations.rows.values()
    with pytest.raises(Forbidden):
        await run(uow, designation_flow.suspend, cmd.SuspendDesignation(d.id, "audit"), BP3MI)
    with pytest.raises(NotFound):  # a regional KP2MI token outside the region: no such designation
        await run(uow, designation_flow.suspend, cmd.SuspendDesignation(d.id, "audit"), principal("KP2MI", "33"))
    with pytest.raises(BadUserInput):
        await run(uow, designation_flow.suspend, cmd.SuspendDesignation(d.id, ""), KP2MI)
    await run(uow, designation_flow.suspend, cmd.SuspendDesignation(d.id, "audit"), KP2MI)
    await run(uow, designation_flow.reinstate, cmd.ReinstateDesignation(d.id), KP2MI)
    revoked = await run(uow, designation_flow.revoke, cmd.RevokeDesignation(d.id, "merged village"), KP2MI)
    assert revoked.status is DesignationStatus.REVOKED
    assert uow.designations.rows[d.id].version == 4
    assert uow.types() == [f"demimas.designation.village.{k}" for k in ("designated", "suspended", "designated",
                                                                         "revoked")]  # fmt: skip
    with pytest.raises(Conflict):  # revoked is final
        await run(uow, designation_flow.reinstate, cmd.ReinstateDesignation(d.id), KP2MI)


async def test_a_desmigratif_file_is_designated_whole_or_not_at_all() -> None:
    uow = FakeDesignationUoW()
    header = "village_code,decree_number,decree_date\n"
    with pytest.raises(Forbidden):
        await run(uow, import_desmigratif, cmd.ImportDesmigratif(header + f"{CODE},KEP 1/2019,2019-03-01\n"), BP3MI)
    bad = header + f"{CODE},KEP 1/2019,2019-03-01\n16.06,KEP 2/2019,2019-13-01\n"
    with pytest.raises(BadUserInput) as failure:
        await run(uow, import_desmigratif, cmd.ImportDesmigratif(bad), KP2MI)
    assert "line 3" in failure.value.message
    assert not uow.designations.rows
    good = header + "".join(f"33.07.01.200{i},KEP 42/2019,2019-03-01\n" for i in range(1, 4))
    assert await run(uow, import_desmigratif, cmd.ImportDesmigratif(good), KP2MI) == 3
    assert {d.programme for d in uow.designations.rows.values()} == {Programme.DESMIGRATIF}
    with pytest.raises(Conflict):  # designated already: the whole file is refused
        await run(uow, import_desmigratif, cmd.ImportDesmigratif(good), KP2MI)
    assert uow.types() == ["demimas.designation.village.designated"] * 3


async def test_the_consumer_applies_a_batch_through_the_domain_and_writes_in_bulk() -> None:
    uow = FakeDesignationUoW()
    stats = uow.village_stats
    worker = str(uuid.uuid4())
    registered = new_event("demimas.registry.worker.registered", worker,
                           {"workerId": worker, "villageCode": CODE, "status": "CANDIDATE", "version": 1})  # fmt: skip
    await apply_events([departed(worker, CODE, True), registered], uow)  # out of order: version 2 wins
    assert stats.counters(CODE) == {"status:ABROAD": 1, "departed": 1, "procedural": 1}
    assert stats.writes == 1
    assert stats.locked == [[uuid.UUID(worker)] * 2]
    await apply_event(registered, uow)  # stale and redelivered: nothing to write
    assert stats.writes == 1
    assert stats.counters(CODE) == {"status:ABROAD": 1, "departed": 1, "procedural": 1}
    with pytest.raises(BadUserInput):
        await apply_event(new_event("demimas.registry.worker.updated", "x", {"villageCode": CODE}), uow)
    assert len(stats.locked) == 2  # refused before anything was locked
    assert uow.pending_events == []  # the projection publishes nothing


async def test_the_assessment_is_frozen_with_the_decision_and_stays_as_it_was() -> None:
    """Issue 20: approval and rejection keep the assessment that justified them (criteria, values, sources, the
    threshold and the evidence read); later registry data changes the live assessment, never the frozen one."""
    uow = FakeDesignationUoW()
    async with uow:
        await apply_events([departed(str(uuid.uuid4()), CODE, procedural=i < 15) for i in range(17)], uow)
        await uow.commit()
    pid = await verified(uow)
    for kind, extra in FULL_EVIDENCE:
        await run(uow, flow.add_evidence, cmd.AddEvidence(pid, evidence(kind, **extra)), DISNAKER)
    await run(uow, flow.assess_proposal, cmd.AssessProposal(pid), BP3MI)
    assert uow.proposals.frozen == {}  # an assessment alone decides nothing
    with pytest.raises(BadUserInput):  # a refused decision freezes nothing
        await run(uow, flow.approve, cmd.ApproveProposal(pid, " ", NOW.date()), KP2MI)
    assert uow.proposals.frozen == {}
    await run(uow, flow.approve, cmd.ApproveProposal(pid, "SK 12/2026", NOW.date()), KP2MI)
    frozen = uow.proposals.frozen[pid]
    live = await flow.assessment_of(uow, CODE, SETTINGS, NOW.date())
    assert (frozen.decision, frozen.eligible, frozen.assessed_at, frozen.procedural_threshold) == (
        ProposalStatus.APPROVED, True, NOW, 0.8)  # fmt: skip
    assert frozen.assessment == live
    assert sorted(e.id for e in frozen.evidence) == sorted(e.id for e in uow.proposals.evidence[pid])
    stored = DecisionAssessment.from_json(pid, frozen.decision.value, frozen.assessed_at, frozen.procedural_threshold,
                                          frozen.results_json(), frozen.evidence_json())  # fmt: skip
    assert stored == frozen  # what the database keeps reads back the same
    async with uow:  # ten more residents, none procedural: the village no longer qualifies today
        await apply_events([departed(str(uuid.uuid4()), CODE, procedural=False) for _ in range(10)], uow)
        await uow.commit()
    now = await flow.assessment_of(uow, CODE, SETTINGS, NOW.date())
    assert not now.eligible
    assert now.result(Criterion.HAS_PMI_RESIDENTS).value == "27"
    assert frozen.assessment.result(Criterion.HAS_PMI_RESIDENTS).value == "17"
    assert uow.proposals.frozen[pid] is frozen


async def test_a_rejection_keeps_the_assessment_it_rejected() -> None:
    uow = FakeDesignationUoW()
    pid = await verified(uow)
    await run(uow, flow.add_evidence, cmd.AddEvidence(pid, evidence(EvidenceKind.FIELD_VISIT)), DISNAKER)
    with pytest.raises(Forbidden):
        await run(uow, flow.reject, cmd.RejectProposal(pid, "no"), BP3MI)
    assert uow.proposals.frozen == {}
    await run(uow, flow.reject, cmd.RejectProposal(pid, "no PMI residents on record"), KP2MI)
    frozen = uow.proposals.frozen[pid]
    assert (frozen.decision, frozen.eligible) == (ProposalStatus.REJECTED, False)
    assert frozen.assessment.result(Criterion.HAS_PMI_RESIDENTS).status is not CriterionStatus.MET
    assert [e.kind for e in frozen.evidence] == [EvidenceKind.FIELD_VISIT]
