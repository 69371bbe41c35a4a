"""Setting and ending a village's thematic status: by the programme's owning agency only (domain/thematic.py),
with `pillars:write` or `pilot:write`, inside the caller's region; the status and its event
(`demimas.pillars.thematic_status.set` / `.ended`) in one unit of work. Each answers with the status after it."""

from __future__ import annotations

import uuid

from demimas_common.auth.principal import Principal
from demimas_pillars.domain.commands import EndThematicStatus, SetThematicStatus
from demimas_pillars.domain.events import thematic_status_changed
from demimas_pillars.domain.thematic import ThematicStatus, end_status, require_owner, set_status
from demimas_pillars.service_layer.delivery import DeliverySettings, check_village
from demimas_pillars.service_layer.ports import PillarsUoW

__all__ = ["WRITE_SCOPES", "end_thematic_status", "set_thematic_status"]

WRITE_SCOPES = ("pillars:write", "pilot:write")
"""Either suffices (the owner rule decides the rest)."""


def _require_write(principal: Principal) -> None:
    if not any(principal.has_scope(s) for s in WRITE_SCOPES):
        principal.require_scope(WRITE_SCOPES[0])  # FORBIDDEN naming a scope that would do


async def set_thematic_status(
    cmd: SetThematicStatus, uow: PillarsUoW, principal: Principal, settings: DeliverySettings
) -> ThematicStatus:
    _require_write(principal)
    check_village(cmd.village_code)
    require_owner(principal.agency, cmd.programme)
    principal.require_region(cmd.village_code, field="villageCode")
    current = await uow.thematic.active(cmd.village_code, cmd.programme)
    changed = set_status(
        current,
        new_id=uuid.uuid4(),
        village_code=cmd.village_code,
        programme=cmd.programme,
        since=cmd.since,
        reference=cmd.reference,
        today=settings.today(),
        at=settings.clock(),
    )
    if changed is None:  # already says exactly this: nothing to write or publish
        assert current is not None
        return current
    if current is None:
        await uow.thematic.add(changed, principal.sub)
    else:
        await uow.thematic.save(changed, principal.sub)
    uow.publish(thematic_status_changed(changed, principal.actor))
    await uow.commit()
    return changed


async def end_thematic_status(
    cmd: EndThematicStatus, uow: PillarsUoW, principal: Principal, settings: DeliverySettings
) -> ThematicStatus:
    _require_write(principal)
    # outside the caller's region it answers as an unknown id does, never saying where the village lies
    current = await principal.find_visible(uow.thematic.get(cmd.status_id, for_update=True),
                                           lambda found: found.village_code, f"thematic status {cmd.status_id}",
                                           field="id")  # fmt: skip
    require_owner(principal.agency, current.programme)
    ended = end_status(current, ended_on=cmd.ended_on, reason=cmd.reason, today=settings.today(),
                       at=settings.clock())  # fmt: skip
    await uow.thematic.save(ended, principal.sub)
    uow.publish(thematic_status_changed(ended, principal.actor))
    await uow.commit()
    return ended
