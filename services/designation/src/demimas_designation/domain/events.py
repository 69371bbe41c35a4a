"""The designation service's events (subjects in docs/contracts.md): ids and facts, never personal data."""

from __future__ import annotations

from demimas_common.events.envelope import CloudEvent, new_event
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.proposal import Proposal

__all__ = ["proposal_event", "village_event"]


def proposal_event(kind: str, proposal: Proposal) -> CloudEvent:
    data = {"proposalId": str(proposal.id), "villageCode": proposal.village_code, "status": proposal.status.value}
    return new_event(f"demimas.designation.proposal.{kind}", str(proposal.id), data)


def village_event(d: Designation, kind: str = "designated") -> CloudEvent:
    data = {"villageCode": d.village_code, "designationId": str(d.id), "status": d.status.value,
            "programme": d.programme.value}  # fmt: skip
    return new_event(f"demimas.designation.village.{kind}", d.village_code, data)
