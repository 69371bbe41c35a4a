"""The DEMIMAS stream on `demimas.>` (contract): file storage, 2-minute duplicate window, replicas from settings
(1 in development, 3 in production). Idempotent: created when missing, updated when its settings drifted."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

__all__ = ["STREAM", "SUBJECTS", "ensure_stream"]

STREAM = "DEMIMAS"
SUBJECTS = ["demimas.>"]
DUPLICATE_WINDOW_SECONDS = 120.0


async def ensure_stream(js: JetStreamContext, *, replicas: int = 1) -> None:
    config = StreamConfig(
        name=STREAM,
        subjects=SUBJECTS,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )
    try:
        info = await js.stream_info(STREAM)
    except NotFoundError:
        await js.add_stream(config)
        return
    current = info.config
    if (
        current.subjects != SUBJECTS
        or current.duplicate_window != DUPLICATE_WINDOW_SECONDS
        or current.num_replicas != replicas
    ):
        await js.update_stream(config)
