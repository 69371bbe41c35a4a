"""Recording an activity: the pure checks (domain), the caller's right to deliver this pillar in this village, the
participants known to the `people` projection; then the activity, its rows and its event in one unit of work.

With an idempotency key the unit of work first claims the key (agency, key): a repeat of a recorded request returns
that activity and writes nothing (no row, no event, no rollup); a concurrent duplicate waits on the key and then
does the same."""

from __future__ import annotations

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput
from demimas_pillars.domain.activity import Activity, check_activity
from demimas_pillars.domain.commands import RecordActivity
from demimas_pillars.domain.events import activity_recorded
from demimas_pillars.domain.idempotency import activity_fingerprint, check_key, key_owner
from demimas_pillars.domain.permissions import require_pillar_agency
from demimas_pillars.domain.vocabulary import PersonKind, ServicePillar
from demimas_pillars.service_layer.delivery import DeliverySettings, check_village
from demimas_pillars.service_layer.ports import PillarsUoW

__all__ = ["record_activity"]


async def record_activity(
    cmd: RecordActivity, uow: PillarsUoW, principal: Principal, settings: DeliverySettings
) -> Activity:
    """`cmd.activity` as the caller submitted it, with the agency, recorder and time taken from the token and the
    clock. With `cmd.idempotency_key`, the activity an earlier attempt with that key recorded, if any."""
    activity = cmd.activity
    check_key(cmd.idempotency_key)
    check_village(activity.village_code)
    require_pillar_agency(principal, activity.pillar, settings.pillar_agencies)
    principal.require_region(activity.village_code, field="villageCode")
    check_activity(activity, today=settings.today())
    if cmd.idempotency_key is not None:
        earlier = await uow.idempotency_keys.claim(
            agency=key_owner(principal),
            key=cmd.idempotency_key,
            operation="recordActivity",
            fingerprint=activity_fingerprint(activity),
            resource_id=activity.id,
            at=activity.recorded_at,
        )
        if earlier is not None:
            [recorded] = await uow.activities.get_many([earlier])
            return recorded  # no commit: nothing written
    for ids, kind, name in (
        (list(activity.worker_ids), PersonKind.WORKER, "workerIds"),
        (list(activity.family_member_ids), PersonKind.FAMILY_MEMBER, "familyMemberIds"),
    ):
        unknown = await uow.people.unknown(ids, kind, region=principal.region)
        if unknown:
            raise BadUserInput(
                f"{len(unknown)} of participants.{name} are not registered (first: {unknown[0]}); register them "
                "in the registry first or count them in participants.anonymous",
                field=f"participants.{name}",
            )
    await uow.activities.add(activity)
    if activity.pillar is ServicePillar.REINTEGRATION:
        await uow.queue.start(list(activity.worker_ids), activity.recorded_at, principal.agency.value)
    uow.publish(activity_recorded(activity, principal.actor))
    await uow.commit()
    return activity
