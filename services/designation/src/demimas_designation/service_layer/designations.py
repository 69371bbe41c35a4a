"""Use cases of designations: suspend, reinstate, revoke (KP2MI, `designation:decide`), each with its transition and
its event (`village.suspended`, `village.designated` again, `village.revoked`)."""

from __future__ import annotations

import uuid

from demimas_common.auth.principal import Principal
from demimas_common.errors import Forbidden
from demimas_designation.domain.commands import ReinstateDesignation, RevokeDesignation, SuspendDesignation
from demimas_designation.domain.designation import Designation
from demimas_designation.domain.events import village_event
from demimas_designation.service_layer.ports import DesignationUoW
from demimas_designation.service_layer.proposals import DECIDE, WorkflowSettings

__all__ = ["reinstate", "revoke", "suspend"]


async def _change(uow: DesignationUoW, principal: Principal, designation_id: uuid.UUID, action: str,
                  reason: str | None, settings: WorkflowSettings) -> Designation:  # fmt: skip
    if not principal.has_scope(DECIDE):
        raise Forbidden(f"this needs the {DECIDE} scope", reason="scope")
    d = await principal.find_visible(
        uow.designations.get(designation_id, for_update=True),
        lambda found: found.village_code,
        f"designation {designation_id}",
        field="id",
    )
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
    await uow.designations.save(d, loaded_version=loaded, known=known)
    await uow.commit()
    return d


async def suspend(cmd: SuspendDesignation, uow: DesignationUoW, principal: Principal,
                  settings: WorkflowSettings) -> Designation:  # fmt: skip
    return await _change(uow, principal, cmd.designation_id, "suspend", cmd.reason, settings)


async def reinstate(cmd: ReinstateDesignation, uow: DesignationUoW, principal: Principal,
                    settings: WorkflowSettings) -> Designation:  # fmt: skip
    return await _change(uow, principal, cmd.designation_id, "reinstate", cmd.note, settings)


async def revoke(cmd: RevokeDesignation, uow: DesignationUoW, principal: Principal,
                 settings: WorkflowSettings) -> Designation:  # fmt: skip
    return await _change(uow, principal, cmd.designation_id, "revoke", cmd.reason, settings)
