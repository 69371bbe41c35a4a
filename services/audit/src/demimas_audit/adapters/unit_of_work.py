"""The audit's unit of work: the common one (one transaction) with the audit's repositories attached, so that use
cases reach the chain as `uow.chain` and the checkpoints as `uow.checkpoints` and never open a connection
themselves. The audit publishes no event, so nothing is ever queued for an outbox (it has none)."""

from __future__ import annotations

from demimas_audit.adapters.checkpoints import CheckpointStore
from demimas_audit.adapters.store import ChainStore
from demimas_common.db.uow import UnitOfWork

__all__ = ["AuditUnitOfWork"]


class AuditUnitOfWork(UnitOfWork):
    chain: ChainStore
    checkpoints: CheckpointStore

    def _begin(self) -> None:
        self.chain = ChainStore(self.connection)
        self.checkpoints = CheckpointStore(self.connection)
