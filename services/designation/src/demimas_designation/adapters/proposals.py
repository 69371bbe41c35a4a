"""Proposals in PostgreSQL: load with history, save with optimistic concurrency (the version), and their evidence."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import RowMapping, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import Conflict, NotFound
from demimas_designation.adapters.records import append_transitions, insert_unless_taken, save_versioned, transitions_of
from demimas_designation.adapters.tables import decision_assessments, evidence, proposal_transitions, proposals
from demimas_designation.domain.assessment import Evidence
from demimas_designation.domain.proposal import Decree, Proposal
from demimas_designation.domain.snapshot import DecisionAssessment
from demimas_designation.domain.vocabulary import EvidenceKind, ProposalStatus

__all__ = ["ProposalRepository"]

OWNER = "proposal_id"


class ProposalRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, proposal: Proposal) -> None:
        """A new proposal; CONFLICT when the village has an open one (a unique index says so)."""
        row = insert(proposals).values(
            id=proposal.id,
            village_code=proposal.village_code,
            justification=proposal.justification,
            region=proposal.proposed_by_region,
            status=proposal.status.value,
            version=proposal.version,
        )
        taken = Conflict(f"village {proposal.village_code} already has an open proposal: withdraw or decide it first",
                         field="villageCode", reason="open_proposal_exists")  # fmt: skip
        await insert_unless_taken(self.conn, row, taken)
        await append_transitions(self.conn, proposal_transitions, OWNER, proposal.id, proposal.history, start=0)

    async def get(self, proposal_id: uuid.UUID, *, for_update: bool = False) -> Proposal:
        query = select(proposals).where(proposals.c.id == proposal_id)
        row = (await self.conn.execute(query.with_for_update() if for_update else query)).mappings().first()
        if row is None:
            raise NotFound(f"no proposal {proposal_id}", field="id")
        history = await transitions_of(self.conn, proposal_transitions, OWNER, [proposal_id], ProposalStatus)
        return Proposal(
            id=row["id"],
            village_code=row["village_code"],
            justification=row["justification"],
            proposed_by_region=row["region"],
            status=ProposalStatus(row["status"]),
            history=history.get(proposal_id, []),
            decree=Decree(row["decree_number"], row["decree_date"]) if row["decree_number"] else None,
            eligibility_override=row["eligibility_override"],
            version=row["version"],
        )

    async def save(self, proposal: Proposal, *, loaded_version: int, known: int) -> None:
        """Write the changed proposal; `known` transitions were stored already. A concurrent change is a Conflict."""
        values = {
            "status": proposal.status.value,
            "decree_number": proposal.decree.number if proposal.decree else None,
            "decree_date": proposal.decree.date if proposal.decree else None,
            "eligibility_override": proposal.eligibility_override,
            "version": proposal.version,
        }
        await save_versioned(self.conn, proposals, proposal.id, loaded_version, values, "proposal")
        await append_transitions(self.conn, proposal_transitions, OWNER, proposal.id, proposal.history, start=known)

    async def add_evidence(
        self, proposal_id: uuid.UUID, item: Evidence, *, agency: str, sub: str, at: dt.datetime
    ) -> None:
        await self.conn.execute(
            insert(evidence).values(
                id=item.id,
                proposal_id=proposal_id,
                kind=item.kind.value,
                title=item.title,
                document_date=item.document_date,
                sha256=item.sha256,
                number=item.number,
                term_end=item.term_end,
                note=item.note,
                recorded_at=at,
                agency=agency,
                sub=sub,
            )
        )

    async def evidence_of(self, village_code: str) -> list[Evidence]:
        """Evidence recorded for any proposal of the village (a re-proposal keeps what was evidenced before)."""
        rows = await self.conn.execute(
            select(evidence)
            .join(proposals, proposals.c.id == evidence.c.proposal_id)
            .where(proposals.c.village_code == village_code)
            .order_by(evidence.c.document_date, func.coalesce(evidence.c.number, ""))
        )
        return _evidence(rows.mappings().all())

    async def evidence_of_proposals(self, proposal_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Evidence]]:
        """The evidence added to each proposal (`addEvidence`), oldest document first; one query for a page."""
        rows = (
            (
                await self.conn.execute(
                    select(evidence)
                    .where(evidence.c.proposal_id.in_(proposal_ids))
                    .order_by(evidence.c.document_date, func.coalesce(evidence.c.number, ""), evidence.c.id)
                )
            )
            .mappings()
            .all()
        )
        found: dict[uuid.UUID, list[Evidence]] = {i: [] for i in proposal_ids}
        for row in rows:
            found[row["proposal_id"]].extend(_evidence([row]))
        return found

    async def freeze_assessment(self, snapshot: DecisionAssessment) -> None:
        """Keep the assessment that justified the decision (once per proposal: a decision is final)."""
        await self.conn.execute(
            insert(decision_assessments).values(
                proposal_id=snapshot.proposal_id,
                decision=snapshot.decision.value,
                assessed_at=snapshot.assessed_at,
                eligible=snapshot.eligible,
                procedural_threshold=snapshot.procedural_threshold,
                results=snapshot.results_json(),
                evidence=snapshot.evidence_json(),
            )
        )

    async def decision_assessments(self, proposal_ids: list[uuid.UUID]) -> dict[uuid.UUID, DecisionAssessment]:
        """The frozen assessments of the proposals that have one (decided ones), by proposal id."""
        t = decision_assessments
        rows = await self.conn.execute(select(t).where(t.c.proposal_id.in_(proposal_ids)))
        return {
            r["proposal_id"]: DecisionAssessment.from_json(
                r["proposal_id"], r["decision"], r["assessed_at"], r["procedural_threshold"], r["results"],
                r["evidence"],
            )
            for r in rows.mappings().all()
        }  # fmt: skip

    async def ids_of_village(self, village_code: str) -> list[uuid.UUID]:
        rows = await self.conn.scalars(select(proposals.c.id).where(proposals.c.village_code == village_code))
        return [uuid.UUID(str(i)) for i in rows]


def _evidence(rows: Sequence[RowMapping]) -> list[Evidence]:
    return [
        Evidence(
            id=r["id"],
            kind=EvidenceKind(r["kind"]),
            title=r["title"],
            document_date=r["document_date"],
            sha256=r["sha256"],
            number=r["number"],
            term_end=r["term_end"],
            note=r["note"],
        )
        for r in rows
    ]
