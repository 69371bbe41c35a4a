"""A regency's proposal of a village, from draft to a ministerial decision.

`DRAFT -> SUBMITTED -> VERIFIED -> ASSESSED -> APPROVED | REJECTED`, and `WITHDRAWN` from any state before a decision.
Who may move it: the regency office (DISNAKER, `designation:propose`) drafts, submits and withdraws; the provincial
KP2MI office (BP3MI, `designation:verify`) verifies; assessment is recorded by a verifier or KP2MI; KP2MI
(`designation:decide`) approves with the decree (SK Menteri P2MI) or rejects with a reason. Every transition is kept
with who, when and why.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from demimas_common.errors import BadUserInput, Conflict
from demimas_designation.domain.vocabulary import DesignationStatus, ProposalStatus

__all__ = ["Decree", "Proposal", "Transition", "check_decree"]

S = ProposalStatus
ALLOWED: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.VERIFIED, S.WITHDRAWN, S.REJECTED}),
    S.VERIFIED: frozenset({S.ASSESSED, S.WITHDRAWN, S.REJECTED}),
    S.ASSESSED: frozenset({S.APPROVED, S.REJECTED, S.WITHDRAWN}),
    S.APPROVED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}
MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class Transition:
    status: ProposalStatus | DesignationStatus
    at: dt.datetime
    agency: str
    sub: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Decree:
    """Surat Keputusan Menteri P2MI designating the village."""

    number: str
    date: dt.date


def check_decree(number: str, date: dt.date, today: dt.date) -> Decree:
    number = number.strip()
    if not number:
        raise BadUserInput("the decree number (SK Menteri P2MI) is required", field="decreeNumber")
    if len(number) > 100:
        raise BadUserInput("the decree number is longer than 100 characters", field="decreeNumber")
    if date > today:
        raise BadUserInput(f"the decree date {date.isoformat()} is in the future", field="decreeDate")
    return Decree(number, date)


def _reason(reason: str | None, *, required: bool, field_name: str = "reason") -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise BadUserInput("a reason is required for this decision", field=field_name)
    if len(text) > MAX_REASON:
        raise BadUserInput(f"the reason is longer than {MAX_REASON} characters", field=field_name)
    return text or None


@dataclass(slots=True)
class Proposal:
    id: uuid.UUID
    village_code: str
    justification: str
    proposed_by_region: str
    status: ProposalStatus = ProposalStatus.DRAFT
    history: list[Transition] = field(default_factory=list)
    decree: Decree | None = None
    eligibility_override: str | None = None
    """KP2MI's reason for approving a village the assessment did not find eligible (kept with the decision)."""
    version: int = 1

    @classmethod
    def draft(
        cls,
        id: uuid.UUID,
        village_code: str,
        justification: str,
        region: str,
        *,
        agency: str,
        sub: str,
        at: dt.datetime,
    ) -> Proposal:
        text = justification.strip()
        if len(text) < 20:
            raise BadUserInput("the justification must say why the village qualifies (20 characters at least)",
                               field="justification")  # fmt: skip
        if len(text) > 10_000:
            raise BadUserInput("the justification is longer than 10,000 characters", field="justification")
        proposal = cls(id, village_code, text, region)
        proposal.history.append(Transition(ProposalStatus.DRAFT, at, agency, sub))
        return proposal

    def _check(self, to: ProposalStatus) -> None:
        if to not in ALLOWED[self.status]:
            raise Conflict(
                f"a {self.status.value} proposal cannot become {to.value}"
                + (" (it is closed)" if not self.status.open else ""),
                field="status",
                reason="illegal_transition",
            )

    def _move(self, to: ProposalStatus, *, agency: str, sub: str, at: dt.datetime, reason: str | None) -> None:
        self._check(to)
        self.status = to
        self.version += 1
        self.history.append(Transition(to, at, agency, sub, reason))

    def submit(self, *, agency: str, sub: str, at: dt.datetime) -> None:
        self._move(S.SUBMITTED, agency=agency, sub=sub, at=at, reason=None)

    def verify(self, *, agency: str, sub: str, at: dt.datetime, note: str | None = None) -> None:
        self._move(S.VERIFIED, agency=agency, sub=sub, at=at, reason=_reason(note, required=False, field_name="note"))

    def mark_assessed(self, *, agency: str, sub: str, at: dt.datetime) -> None:
        self._move(S.ASSESSED, agency=agency, sub=sub, at=at, reason=None)

    def approve(
        self,
        decree: Decree,
        *,
        eligible: bool,
        override_reason: str | None,
        agency: str,
        sub: str,
        at: dt.datetime,
    ) -> None:
        """Approval needs an eligible assessment, or KP2MI's explicit override with a reason that is kept."""
        self._check(S.APPROVED)  # an illegal step is said first, before what the step would need
        override = _reason(override_reason, required=not eligible, field_name="overrideReason")
        self._move(S.APPROVED, agency=agency, sub=sub, at=at, reason=override)
        self.decree = decree
        self.eligibility_override = override if not eligible else None

    def reject(self, reason: str, *, agency: str, sub: str, at: dt.datetime) -> None:
        self._move(S.REJECTED, agency=agency, sub=sub, at=at, reason=_reason(reason, required=True))

    def withdraw(self, reason: str | None, *, agency: str, sub: str, at: dt.datetime) -> None:
        self._move(S.WITHDRAWN, agency=agency, sub=sub, at=at, reason=_reason(reason, required=False))
