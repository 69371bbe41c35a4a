"""Use cases of the checkpointer: signing the chain's head (what a checkpoint is and what is signed:
`domain/checkpoint.py`; publishing it on `audit.checkpoints` after the commit: `entrypoints/checkpointer.py`), and
the last stored checkpoint, which the checkpointer re-publishes as a heartbeat while the head does not move.

It takes no principal: signing is the service's own periodic step, with the service's own key, not a caller's
request."""

from __future__ import annotations

import datetime as dt

from demimas_audit.domain.checkpoint import Checkpoint, sign
from demimas_audit.domain.commands import SignCheckpoint
from demimas_audit.service_layer.ports import AuditUoW

__all__ = ["last_checkpoint", "sign_checkpoint"]


async def sign_checkpoint(cmd: SignCheckpoint, uow: AuditUoW) -> Checkpoint | None:
    """Sign the head and store the checkpoint, if the chain has records and its head moved since the last
    checkpoint; None (nothing stored) otherwise."""
    head = await uow.chain.head()
    last = await uow.checkpoints.last_seq()
    if head.seq == 0 or head.seq == last:
        return None
    cp = sign(cmd.key, head.seq, head.hash, dt.datetime.now(dt.UTC))
    await uow.checkpoints.add(cp)
    await uow.commit()
    return cp


async def last_checkpoint(uow: AuditUoW) -> Checkpoint | None:
    """The last stored checkpoint (None before the first): re-published unchanged while the chain is quiet, so a
    witness can tell a quiet chain from a publisher that stopped. Nothing is signed or stored."""
    return await uow.checkpoints.last()
