"""A designated village: `ACTIVE -> SUSPENDED -> ACTIVE`, and `REVOKED` (final) from either; with its decree and its
programme lineage (`DESMIGRATIF` for villages carried over from the former programme)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from demimas_common.errors import BadUserInput, Conflict
from demimas_designation.domain.proposal import Decree, Transition
from demimas_designation.domain.vocabulary import DesignationStatus, Programme

__all__ = ["Designation"]

D = DesignationStatus
ALLOWED = {D.ACTIVE: {D.SUSPENDED, D.REVOKED}, D.SUSPENDED: {D.ACTIVE, D.REVOKED}, D.REVOKED: set()}


@dataclass(slots=True)
class Designation:
    id: uuid.UUID
    village_code: str
    decree: Decree
    programme: Programme
    proposal_id: uuid.UUID | None = None
    status: DesignationStatus = DesignationStatus.ACTIVE
    history: list[Transition] = field(default_factory=list)
    version: int = 1

    def _move(self, to: DesignationStatus, reason: str | None, *, agency: str, sub: str, at: dt.datetime) -> None:
        if to not in ALLOWED[self.status]:
            raise Conflict(f"a {self.status.value} designation cannot become {to.value}", field="status",
                           reason="illegal_transition")  # fmt: skip
        text = (reason or "").strip()
        if to is not D.ACTIVE and not text:
            raise BadUserInput(f"a reason is required to make a designation {to.value}", field="reason")
        self.status = to
        self.version += 1
        self.history.append(Transition(to, at, agency, sub, text or None))

    def suspend(self, reason: str, *, agency: str, sub: str, at: dt.datetime) -> None:
        self._move(D.SUSPENDED, reason, agency=agency, sub=sub, at=at)

    def reinstate(self, note: str | None, *, agency: str, sub: str, at: dt.datetime) -> None:
        self._move(D.ACTIVE, note, agency=agency, sub=sub, at=at)

    def revoke(self, reason: str, *, agency: str, sub: str, at: dt.datetime) -> None:
        self._move(D.REVOKED, reason, agency=agency, sub=sub, at=at)
