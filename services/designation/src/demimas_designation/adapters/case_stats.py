"""The case-stats projection in PostgreSQL: each protection case's last known state (the rules that decide what an
event changes are in `domain.case_stats`), written in the consumer's transaction.

Transaction-scoped advisory locks on the cases serialise concurrent events of one case (its first event has no row
to lock yet); they are taken in sorted order, and rows written in sorted order, so concurrent batches never
deadlock. A village's assessment reads all its cases' states (a village has tens of cases, not thousands)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, RowMapping, Uuid, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_designation.adapters.tables import case_states
from demimas_designation.domain.case_stats import CaseState, Escalation

__all__ = ["CaseStatsRepository"]

_LOCK_CASES = text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k")
_READ_STATES = select(case_states).where(case_states.c.case_id == func.any(bindparam("ids", type_=ARRAY(Uuid))))
_upsert = insert(case_states)
_WRITE_STATES = _upsert.on_conflict_do_update(
    index_elements=[case_states.c.case_id],
    set_={c.name: _upsert.excluded[c.name] for c in case_states.columns if c.name != "case_id"},
)


def _escalation(item: dict[str, Any]) -> Escalation:
    return Escalation(item["item"], item["referralId"], int(item["version"]),
                      dt.datetime.fromisoformat(item["dueAt"]), item["heldBy"])  # fmt: skip


def _state(row: RowMapping) -> CaseState:
    return CaseState(
        village_code=row["village_code"],
        kind=row["kind"],
        status=row["status"],
        version=row["version"],
        from_overdue=row["from_overdue"],
        changed_at=row["changed_at"],
        opened_at=row["opened_at"],
        resolved_at=row["resolved_at"],
        resolved_version=row["resolved_version"],
        resolution_days=row["resolution_days"],
        escalations=frozenset(_escalation(e) for e in row["escalations"]),
        answers=tuple(sorted((k, int(v)) for k, v in row["answers"].items())),
    )


def _row(case: uuid.UUID, s: CaseState) -> dict[str, Any]:
    escalations = [
        {"item": e.item, "referralId": e.referral_id, "version": e.version, "dueAt": e.due_at.isoformat(),
         "heldBy": e.held_by}
        for e in sorted(s.escalations)
    ]  # fmt: skip
    return {
        "case_id": case,
        "village_code": s.village_code,
        "kind": s.kind,
        "status": s.status,
        "version": s.version,
        "from_overdue": s.from_overdue,
        "changed_at": s.changed_at,
        "opened_at": s.opened_at,
        "resolved_at": s.resolved_at,
        "resolved_version": s.resolved_version,
        "resolution_days": s.resolution_days,
        "escalations": escalations,
        "answers": dict(s.answers),
        "overdue": s.overdue,
    }


class CaseStatsRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock_cases(self, ids: Sequence[uuid.UUID]) -> None:
        """Until the end of the transaction, no other transaction changes these cases' states."""
        await self.conn.execute(_LOCK_CASES, {"keys": sorted({f"case:{i}" for i in ids})})

    async def states(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CaseState]:
        """The stored states of those of the cases the projection knows."""
        rows = await self.conn.execute(_READ_STATES, {"ids": list(set(ids))})
        return {r["case_id"]: _state(r) for r in rows.mappings().all()}

    async def write_states(self, states: Sequence[tuple[uuid.UUID, CaseState]]) -> None:
        await self.conn.execute(_WRITE_STATES, [_row(c, s) for c, s in sorted(states, key=lambda cs: cs[0])])

    async def of_village(self, village_code: str) -> list[CaseState]:
        """Every case of the village the projection knows."""
        rows = await self.conn.execute(select(case_states).where(case_states.c.village_code == village_code))
        return [_state(r) for r in rows.mappings().all()]
