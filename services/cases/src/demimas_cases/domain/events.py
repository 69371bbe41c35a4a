"""The cases service's events (docs/contracts.md): ids and codes only, never a name, a description, a note or a
reason, so that the stream, the audit chain and every subscriber hold no case content. Every event of a case carries
the case id as its correlation id (and as its subject): an auditor gathers a case's whole history, across the
agencies that held it, by either."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from demimas_cases.domain.case import Case, OverdueItem, Referral
from demimas_cases.domain.vocabulary import CaseKind, CasePhase, CaseStatus, Confidentiality
from demimas_common.auth.principal import Agency
from demimas_common.events.envelope import Actor, CloudEvent, new_event

__all__ = ["case_accessed", "case_changed", "case_opened", "case_overdue", "referral_event"]

PREFIX = "demimas.cases.case."


class CaseHead(Protocol):
    """What every case event says of its case: a `Case`, or the few columns the overdue sweep reads
    (adapters/cases.py `DueItem`) without loading the case's content, people and referrals."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def village_code(self) -> str: ...
    @property
    def kind(self) -> CaseKind: ...
    @property
    def phase(self) -> CasePhase: ...
    @property
    def status(self) -> CaseStatus: ...
    @property
    def owner_agency(self) -> str: ...
    @property
    def confidentiality(self) -> Confidentiality: ...
    @property
    def version(self) -> int: ...


def _base(c: CaseHead) -> dict[str, Any]:
    return {
        "caseId": str(c.id),
        "villageCode": c.village_code,
        "kind": c.kind.value,
        "phase": c.phase.value,
        "status": c.status.value,
        "ownerAgency": c.owner_agency,
        "confidentiality": c.confidentiality.value,
        "version": c.version,
    }


def case_opened(c: Case, actor: Actor) -> CloudEvent:
    data = {
        **_base(c),
        "channel": c.channel.value,
        "triageDueAt": c.triage_due_at.isoformat(),
        "resolutionDueAt": c.resolution_due_at.isoformat(),
        "people": len(c.people),
    }
    return new_event(PREFIX + "opened", str(c.id), data, actor=actor, correlation_id=str(c.id))


def case_changed(name: str, c: Case, actor: Actor) -> CloudEvent:
    """`triaged`, `closed`, `reopened`, `resolved` (with the days it took)."""
    data = _base(c)
    if name == "resolved":
        assert c.resolved_at is not None
        data["resolutionDays"] = round((c.resolved_at - c.opened_at).total_seconds() / 86400, 2)
    return new_event(PREFIX + name, str(c.id), data, actor=actor, correlation_id=str(c.id))


def _referral(r: Referral) -> dict[str, Any]:
    org = r.legal_aid_organisation_id
    return {"referralId": str(r.id), "toAgency": r.to_agency, "legalAidOrganisationId": str(org) if org else None}


def referral_event(name: str, c: Case, r: Referral, actor: Actor) -> CloudEvent:
    """`referred` (with its due time), `referral_accepted`, `referral_declined`, `referral_completed`."""
    data = {**_base(c), **_referral(r)}
    if name == "referred":
        data["dueAt"] = r.due_at.isoformat()
    return new_event(PREFIX + name, str(c.id), data, actor=actor, correlation_id=str(c.id))


def case_overdue(c: CaseHead, item: OverdueItem) -> CloudEvent:
    """An item past its clock, escalated to KP2MI (the service escalates: the event names no caller)."""
    data = {
        **_base(c),
        "item": item.kind.value,
        "dueAt": item.due_at.isoformat(),
        "heldBy": item.held_by,
        "referralId": str(item.referral_id) if item.referral_id else None,
        "escalatedTo": Agency.KP2MI.value,
    }
    return new_event(PREFIX + "overdue", str(c.id), data, correlation_id=str(c.id))


def case_accessed(
    *,
    actor: Actor,
    purpose: str,
    case_ids: list[str],
    fields: list[str],
    worker_ids: list[str],
    family_member_ids: list[str],
    operation: str | None,
) -> CloudEvent:
    data: dict[str, Any] = {
        "agency": actor.agency,
        "subject": actor.sub,
        "purpose": purpose,
        "caseIds": case_ids,
        "fields": fields,
    }
    if worker_ids:
        data["workerIds"] = worker_ids
    if family_member_ids:
        data["familyMemberIds"] = family_member_ids
    if operation:
        data["operation"] = operation
    subject = case_ids[0] if len(case_ids) == 1 else f"batch:{len(case_ids)}"
    return new_event("demimas.cases.personal_data.accessed", subject, data, actor=actor)
