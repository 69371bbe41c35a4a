"""Use cases of the designation workflow: each checks the caller (scope, region), changes the proposal in the unit of
work with its transition and its event, and commits; or refuses and changes nothing.

Who does what (the grants of docs/contracts.md): the regency office proposes, submits, withdraws and adds evidence for
villages of its region (`designation:propose`); the provincial office verifies and assesses inside its region
(`designation:verify`); KP2MI decides (`designation:decide`)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput, Forbidden
from demimas_designation.domain.assessment import CriteriaAssessment, Evidence, assess, check_evidence
from demimas_designation.domain.case_stats import case_figures
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
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.events import proposal_event, village_event
from demimas_designation.domain.proposal import Proposal, Transition, check_decree
from demimas_designation.domain.snapshot import DecisionAssessment
from demimas_designation.domain.vocabulary import DesignationStatus, Programme
from demimas_designation.service_layer.ports import DesignationUoW

__all__ = ["WorkflowSettings", "add_evidence", "approve", "assess_proposal", "assessment_of", "propose", "reject",
           "submit", "verify", "withdraw"]  # fmt: skip

VILLAGE_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
PROPOSE, VERIFY, DECIDE = "designation:propose", "designation:verify", "designation:decide"


class WorkflowSettings:
    """The service's settings the use cases need: the procedural share the assessment asks for, and the clock."""

    def __init__(self, procedural_threshold: float = 0.8, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.procedural_threshold = procedural_threshold
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))


def _actor(principal: Principal) -> tuple[str, str]:
    return principal.agency.value, principal.sub


def _village(proposal: Proposal) -> str:
    return proposal.village_code


def _allowed(principal: Principal, scopes: tuple[str, ...], village_code: str | None) -> None:
    if not any(principal.has_scope(s) for s in scopes):
        raise Forbidden(f"this needs the {' or '.join(scopes)} scope", reason="scope")
    if village_code is not None:
        principal.require_region(village_code, field="villageCode")


async def _load_for_change(uow: DesignationUoW, principal: Principal, proposal_id: uuid.UUID,
                           scopes: tuple[str, ...], field: str = "id") -> tuple[Proposal, int, int]:  # fmt: skip
    """The proposal, locked, with its version and number of transitions as read; outside the caller's region it is
    as invisible as a missing one."""
    _allowed(principal, scopes, None)  # before the lookup: a refusal of scope tells nothing of the id
    proposal = await principal.find_visible(uow.proposals.get(proposal_id, for_update=True), _village,
                                            f"proposal {proposal_id}", field=field)  # fmt: skip
    return proposal, proposal.version, len(proposal.history)


async def _save_change(uow: DesignationUoW, proposal: Proposal, loaded: int, known: int, event: str | None) -> Proposal:
    """The common end of every change: conditional save (CONFLICT if changed meanwhile), the event, one commit."""
    await uow.proposals.save(proposal, loaded_version=loaded, known=known)
    if event is not None:
        uow.publish(proposal_event(event, proposal))
    await uow.commit()
    return proposal


async def propose(cmd: ProposeVillage, uow: DesignationUoW, principal: Principal,
                  settings: WorkflowSettings) -> Proposal:  # fmt: skip
    if not VILLAGE_CODE.match(cmd.village_code or ""):
        raise BadUserInput("villageCode must be a Kemendagri village code like 16.06.13.2001", field="villageCode")
    _allowed(principal, (PROPOSE,), cmd.village_code)
    agency, sub = _actor(principal)
    region = principal.region or cmd.village_code[:5]
    proposal = Proposal.draft(uuid.uuid4(), cmd.village_code, cmd.justification, region, agency=agency, sub=sub,
                              at=settings.clock())  # fmt: skip
    await uow.proposals.add(proposal)
    await uow.commit()
    return proposal


async def submit(cmd: SubmitProposal, uow: DesignationUoW, principal: Principal,
                 settings: WorkflowSettings) -> Proposal:  # fmt: skip
    p, loaded, known = await _load_for_change(uow, principal, cmd.proposal_id, (PROPOSE,))
    agency, sub = _actor(principal)
    p.submit(agency=agency, sub=sub, at=settings.clock())
    return await _save_change(uow, p, loaded, known, "submitted")


async def verify(cmd: VerifyProposal, uow: DesignationUoW, principal: Principal,
                 settings: WorkflowSettings) -> Proposal:  # fmt: skip
    p, loaded, known = await _load_for_change(uow, principal, cmd.proposal_id, (VERIFY,))
    agency, sub = _actor(principal)
    p.verify(agency=agency, sub=sub, at=settings.clock(), note=cmd.note)
    return await _save_change(uow, p, loaded, known, "verified")


async def withdraw(cmd: WithdrawProposal, uow: DesignationUoW, principal: Principal,
                   settings: WorkflowSettings) -> Proposal:  # fmt: skip
    p, loaded, known = await _load_for_change(uow, principal, cmd.proposal_id, (PROPOSE,))
    agency, sub = _actor(principal)
    p.withdraw(cmd.reason, agency=agency, sub=sub, at=settings.clock())
    return await _save_change(uow, p, loaded, known, None)  # a withdrawal has no event of its own


async def reject(cmd: RejectProposal, uow: DesignationUoW, principal: Principal,
                 settings: WorkflowSettings) -> Proposal:  # fmt: skip
    """Reject with a reason; the assessment as it stood is kept with the decision."""
    p, loaded, known = await _load_for_change(uow, principal, cmd.proposal_id, (DECIDE,))
    agency, sub = _actor(principal)
    now = settings.clock()
    p.reject(cmd.reason, agency=agency, sub=sub, at=now)
    await _freeze(uow, p, settings, now, *await _assessed(uow, p.village_code, settings, now))
    return await _save_change(uow, p, loaded, known, "rejected")


async def _assessed(uow: DesignationUoW, village_code: str, settings: WorkflowSettings,
                    now: dt.datetime) -> tuple[CriteriaAssessment, tuple[Evidence, ...]]:  # fmt: skip
    """The village's assessment now (as `assessment_of`) and the evidence it read."""
    items = tuple(await uow.proposals.evidence_of(village_code))
    counts = await uow.village_stats.counts_of(village_code)
    cases = case_figures(await uow.case_stats.of_village(village_code), now.date())
    return assess(counts, items, threshold=settings.procedural_threshold, today=now.date(), cases=cases), items


async def _freeze(uow: DesignationUoW, p: Proposal, settings: WorkflowSettings, now: dt.datetime,
                  outcome: CriteriaAssessment, items: tuple[Evidence, ...]) -> None:  # fmt: skip
    """Keep the assessment that justifies the decision just taken with the proposal (domain/snapshot.py)."""
    snapshot = DecisionAssessment(p.id, p.status, now, settings.procedural_threshold, outcome, items)
    await uow.proposals.freeze_assessment(snapshot)


async def add_evidence(cmd: AddEvidence, uow: DesignationUoW, principal: Principal,
                       settings: WorkflowSettings) -> Evidence:  # fmt: skip
    now = settings.clock()
    checked = check_evidence(cmd.evidence, now.date())
    _allowed(principal, (PROPOSE, VERIFY), None)
    proposal = await principal.find_visible(uow.proposals.get(cmd.proposal_id, for_update=True), _village,
                                            f"proposal {cmd.proposal_id}", field="proposalId")  # fmt: skip
    if not proposal.status.open:
        raise BadUserInput(f"the proposal is {proposal.status.value}: evidence can no longer be added",
                           field="proposalId")  # fmt: skip
    agency, sub = _actor(principal)
    await uow.proposals.add_evidence(cmd.proposal_id, checked, agency=agency, sub=sub, at=now)
    await uow.commit()
    return checked


async def assessment_of(uow: DesignationUoW, village_code: str, settings: WorkflowSettings,
                        today: dt.date) -> CriteriaAssessment:  # fmt: skip
    """The village against the criteria as of `today`: registry numbers and protection cases from the projections,
    the rest from the evidence (a read: nothing is recorded)."""
    counts = await uow.village_stats.counts_of(village_code)
    cases = case_figures(await uow.case_stats.of_village(village_code), today)
    items = await uow.proposals.evidence_of(village_code)
    return assess(counts, items, threshold=settings.procedural_threshold, today=today, cases=cases)


async def assess_proposal(cmd: AssessProposal, uow: DesignationUoW, principal: Principal,
                          settings: WorkflowSettings) -> tuple[Proposal, CriteriaAssessment]:  # fmt: skip
    """Assess against the criteria and record that it was assessed."""
    p, loaded, known = await _load_for_change(uow, principal, cmd.proposal_id, (VERIFY, DECIDE))
    agency, sub = _actor(principal)
    now = settings.clock()
    outcome = await assessment_of(uow, p.village_code, settings, now.date())
    p.mark_assessed(agency=agency, sub=sub, at=now)
    return await _save_change(uow, p, loaded, known, "assessed"), outcome


async def approve(cmd: ApproveProposal, uow: DesignationUoW, principal: Principal,
                  settings: WorkflowSettings) -> Proposal:  # fmt: skip
    """Approve with the decree: the village becomes designated (its own event, before the proposal's)."""
    p, loaded, known = await _load_for_change(uow, principal, cmd.proposal_id, (DECIDE,))
    agency, sub = _actor(principal)
    now = settings.clock()
    decree = check_decree(cmd.decree_number, cmd.decree_date, now.date())
    outcome, items = await _assessed(uow, p.village_code, settings, now)
    p.approve(decree, eligible=outcome.eligible, override_reason=cmd.override_reason, agency=agency, sub=sub, at=now)
    await _freeze(uow, p, settings, now, outcome, items)
    designation = Designation(uuid.uuid4(), p.village_code, decree, Programme.DEMIMAS, proposal_id=p.id,
                              history=[Transition(DesignationStatus.ACTIVE, now, agency, sub, None)])  # fmt: skip
    await uow.designations.add(designation)
    uow.publish(village_event(designation))
    return await _save_change(uow, p, loaded, known, "approved")
