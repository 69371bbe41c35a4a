"""Proposals in PostgreSQL: load with history and evidence, save with optimistic concurrency (the version)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.errors import Conflict, NotFound
from demimas_designation.adapters.tables import evidence, proposal_transitions, proposals
from demimas_designation.domain.assessment import Evidence
from demimas_designation.domain.proposal import Decree, Proposal, Transition
from demimas_designation.domain.vocabulary import EvidenceKind, ProposalStatus

__all__ = ["add_evidence", "evidence_of", "insert_proposal", "load_proposal", "save_proposal"]


async def insert_proposal(conn: AsyncConnection, proposal: Proposal) -> None:
    try:
        async with conn.begin_nested():
            await conn.execute(
                insert(proposals).values(
                    id=proposal.id,
                    village_code=proposal.village_code,
                    justification=proposal.justification,
                    region=proposal.proposed_by_region,
                    status=proposal.status.value,
                    version=proposal.version,
                )
            )
    except IntegrityError as exc:
        raise Conflict(
            f"village {proposal.village_code} already has an open proposal: withdraw or decide it first",
            field="villageCode",
            reason="open_proposal_exists",
        ) from exc
    await _append_transitions(conn, proposal, start=0)


async def load_proposal(conn: AsyncConnection, proposal_id: uuid.UUID, *, for_update: bool = False) -> Proposal:
    query = select(proposals).where(proposals.c.id == proposal_id)
    row = (await conn.execute(query.with_for_update() if for_update else query)).mappings().first()
    if row is None:
        raise NotFound(f"no proposal {proposal_id}", field="id")
    history_rows = await conn.execute(
        select(proposal_transitions)
        .where(proposal_transitions.c.proposal_id == proposal_id)
        .order_by(proposal_transitions.c.seq)
    )
    history = [
        Transition(ProposalStatus(r.status), r.at, r.agency, r.sub, r.reason) for r in history_rows.mappings().all()
    ]
    decree = Decree(row["decree_number"], row["decree_date"]) if row["decree_number"] else None
    return Proposal(
        id=row["id"],
        village_code=row["village_code"],
        justification=row["justification"],
        proposed_by_region=row["region"],
        status=ProposalStatus(row["status"]),
        history=history,
        decree=decree,
        eligibility_override=row["eligibility_override"],
        version=row["version"],
    )


async def save_proposal(conn: AsyncConnection, proposal: Proposal, *, loaded_version: int, known: int) -> None:
    """Write the changed proposal; `known` transitions were stored already. A concurrent change is a Conflict."""
    result = await conn.execute(
        update(proposals)
        .where(proposals.c.id == proposal.id, proposals.c.version == loaded_version)
        .values(
            status=proposal.status.value,
            decree_number=proposal.decree.number if proposal.decree else None,
            decree_date=proposal.decree.date if proposal.decree else None,
            eligibility_override=proposal.eligibility_override,
            version=proposal.version,
        )
    )
    if result.rowcount != 1:
        raise Conflict("the proposal changed meanwhile: reload it and try again", reason="stale_version")
    await _append_transitions(conn, proposal, start=known)


async def _append_transitions(conn: AsyncConnection, proposal: Proposal, *, start: int) -> None:
    rows = [
        {
            "proposal_id": proposal.id,
            "seq": seq,
            "status": t.status.value,
            "at": t.at,
            "agency": t.agency,
            "sub": t.sub,
            "reason": t.reason,
        }
        for seq, t in enumerate(proposal.history)
        if seq >= start
    ]
    if rows:
        await conn.execute(insert(proposal_transitions), rows)


async def add_evidence(conn: AsyncConnection, proposal_id: uuid.UUID, item: Evidence, *, agency: str, sub: str,
                       at: dt.datetime) -> None:  # fmt: skip
    await conn.execute(
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


async def evidence_of(conn: AsyncConnection, village_code: str) -> list[Evidence]:
    """Evidence recorded for any proposal of the village (a re-proposal keeps what was evidenced before)."""
    rows = await conn.execute(
        select(evidence)
        .join(proposals, proposals.c.id == evidence.c.proposal_id)
        .where(proposals.c.village_code == village_code)
        .order_by(evidence.c.document_date, func.coalesce(evidence.c.number, ""))
    )
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
        for r in rows.mappings().all()
    ]
