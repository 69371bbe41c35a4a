"""Use cases of the ingest: linking a batch of the stream to the chain, and appending it.

They take no principal: the ingest is the service's own reader of `demimas.>` (`entrypoints/ingest.py`), not a
caller's request; nobody is authorised or refused, and each record names its own actor, inside its event.

Linking and appending are two steps, each in a unit of work of its own, so that the reader can link (read, hash)
the next batch in memory while the previous one is still being written: a batch is linked after the head the
previous batch will leave (`LinkBatch.after`) and written only if the chain still ends there (`HeadMoved`
otherwise), so the order of commits is the order of the chain."""

from __future__ import annotations

from demimas_audit.domain.commands import AppendBatch, LinkBatch
from demimas_audit.domain.envelope import event_id
from demimas_audit.domain.ingest import Prepared, prepare
from demimas_audit.service_layer.ports import AuditUoW

__all__ = ["append_batch", "link_batch", "stream_position"]


async def stream_position(uow: AuditUoW) -> int:
    """The stream sequence the chain has read up to: reading resumes right after it."""
    return await uow.chain.stream_position()


async def link_batch(cmd: LinkBatch, uow: AuditUoW) -> Prepared:
    """The batch linked to the chain in memory; nothing is written (and nothing committed). Events the store holds
    already, or the batch being written does, are left out."""
    start = cmd.after if cmd.after is not None else await uow.chain.head()
    stored = await uow.chain.stored_ids([event_id(m.body, m.stream_seq) for m in cmd.events])
    return prepare(cmd.events, start, stored | cmd.in_flight)


async def append_batch(cmd: AppendBatch, uow: AuditUoW) -> int:
    """Write the linked batch and move the head, in one transaction; how many records it added."""
    await uow.chain.append(cmd.batch)
    await uow.commit()
    return cmd.batch.added
