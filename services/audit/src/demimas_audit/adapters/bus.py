"""Checkpoints on NATS: the subject they are published on, and publishing one. `audit.checkpoints` is outside
`demimas.>`, so checkpoints never feed back into the chain."""

from __future__ import annotations

import orjson

from demimas_audit.domain.checkpoint import Checkpoint
from demimas_common.events.nats import connect

__all__ = ["CHECKPOINT_SUBJECT", "publish_checkpoint"]

CHECKPOINT_SUBJECT = "audit.checkpoints"


async def publish_checkpoint(nats_url: str, cp: Checkpoint) -> None:
    """Publish on core NATS over a connection of its own (no reconnecting: the caller publishes the next one)."""
    nc = await connect(nats_url, name="audit-checkpoints", reconnect=False)
    try:
        await nc.publish(CHECKPOINT_SUBJECT, orjson.dumps(cp.to_json()))
        await nc.flush()
    finally:
        await nc.close()
