"""How a registration of an already registered NIK is answered, by `registerWorker` and by the import alike.

A NIK is unique, so registering one that exists cannot succeed; what the answer may say depends on whether the
caller could see the existing worker anyway:

- inside the caller's region (or a national caller): CONFLICT. When the caller may look the existing worker up
  by NIK (`registry:read`, `pii:read` and a purpose, as `workerByNik`: naming who holds a NIK is such a lookup),
  the CONFLICT names it: `extensions.existingWorkerId` (and `workerId`, its earlier name), and the message says
  which record it is, once the GraphQL entrypoint has recorded it as a read of the worker's NIK; otherwise the same
  CONFLICT without any id;
- outside the caller's region: FORBIDDEN with reason `NIK_NOT_REGISTRABLE` and a message that names no region,
  office, id or date. The caller learns that its office cannot register this NIK, nothing about where or by whom
  the person is registered, and the attempt is recorded (`demimas.registry.registration.refused`, whose subject
  is the existing worker's id, so it shows in that worker's audit trail; the NIK is in no event).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from demimas_common.errors import Conflict, Forbidden

__all__ = ["NOT_REGISTRABLE", "NOT_REGISTRABLE_MESSAGE", "Registered", "already_registered", "not_registrable"]

NOT_REGISTRABLE = "NIK_NOT_REGISTRABLE"
NOT_REGISTRABLE_MESSAGE = (
    "this NIK cannot be registered by your office; ask KP2MI (the national registry) to check the person's registration"
)


@dataclass(frozen=True)
class Registered:
    """The worker that already holds a NIK: what deciding the answer needs, nothing personal."""

    id: uuid.UUID
    village_code: str


def already_registered(existing: Registered, *, may_see: bool) -> Conflict:
    """CONFLICT for a NIK registered inside the caller's region; the existing worker's id only when `may_see`."""
    if not may_see:
        return Conflict("a worker with this NIK is already registered", field="nik")
    worker_id = str(existing.id)
    return Conflict(
        f"a worker with this NIK is already registered: worker {worker_id} (read it with worker(id))",
        field="nik",
        existingWorkerId=worker_id,
        workerId=worker_id,
    )


def not_registrable() -> Forbidden:
    return Forbidden(NOT_REGISTRABLE_MESSAGE, field="nik", reason=NOT_REGISTRABLE)
