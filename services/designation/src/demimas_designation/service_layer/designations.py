"""Use cases of designations: suspend, reinstate, revoke (KP2MI, `designation:decide`), each with its transition
and, for suspension and revocation, its event in the outbox."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.principal import Principal
from demimas_common.db.uow import UnitOfWork
from demimas_common.errors import Forbidden
from demimas_designation.adapters import designations as repo
from demimas_designation.domain.designation import Designation
from demimas_designation.service_layer.events import village_event
from demimas_designation.service_layer.proposals import SCHEMA, WorkflowSettings

__all__ = ["reinstate", "revoke", "suspend"]

DECIDE = "designation:decide"


async def _change(engine: AsyncEngine, principal: Principal, designation_id: uuid.UUID, action: str,
                  reason: str | None, settings: WorkflowSettings) -> Designation:  # fmt: skip
    if not principal.has_scope(DECIDE):
        raise Forbidden(f"this needs the {DECIDE} scope", reason="scope")
    async with UnitOfWork(engine, schema=SCHEMA) as uow:
        d = await repo.load_designation(uow.connection, designation_id, for_update=True)
        principal.require_visible(d.village_code, f"designation {designation_id}", field="id")
        loaded, known = d.version, len(d.history)
        agency, sub, now = principal.agency.value, principal.sub, settings.clock()
        if action == "suspend":
            d.suspend(reason or "", agency=agency, sub=sub, at=now)
            uow.publish(village_event(d, "suspended"))
        elif action == "revoke":
            d.revoke(reason or "", agency=agency, sub=sub, at=now)
            uow.publish(village_event(d, "revoked"))
        else:
            d.reinstate(reason, agency=agency, sub=sub, at=now)
            uow.publish(village_event(d, "designated"))
        await repo.save_designation(uow.connection, d, loaded_version=loaded, known=known)
        await uow.commit()
    return d


async def suspend(engine: AsyncEngine, principal: Principal, designation_id: uuid.UUID, reason: str,
                  settings: WorkflowSettings) -> Designation:  # fmt: skip
    return await _change(engine, principal, designation_id, "suspend", reason, settings)


async def reinstate(engine: AsyncEngine, principal: Principal, designation_id: uuid.UUID, note: str | None,
                    settings: WorkflowSettings) -> Designation:  # fmt: skip
    return await _change(engine, principal, designation_id, "reinstate", note, settings)


async def revoke(engine: AsyncEngine, principal: Principal, designation_id: uuid.UUID, reason: str,
                 settings: WorkflowSettings) -> Designation:  # fmt: skip
    return await _change(engine, principal, designation_id, "revoke", reason, settings)
