"""The pillars service's durable consumers and their handlers `(event, uow)`: `people` on the registry's worker and
family events (the `people` projection and its reintegration queue), `designations` on the designation service's
village events (portfolios), `case-counts` on the cases service's case events (the protection cases the pillar
progress counts). The domain decides what an event changes (domain/people.py, domain/portfolio.py,
domain/cases.py); the repositories write it; a follow-up event is published through the unit of work, which the
consumer joined to the transaction that records the event in its inbox: the change, the follow-up and the inbox row
commit together."""

from __future__ import annotations

from demimas_common.events.envelope import CloudEvent
from demimas_common.skeleton import Consumer
from demimas_common.telemetry import current_traceparent
from demimas_pillars.domain import cases, people, portfolio
from demimas_pillars.domain.events import portfolio_opened
from demimas_pillars.service_layer.ports import PillarsUoW

__all__ = ["CASE_COUNTS", "DESIGNATIONS", "PEOPLE", "on_case_event", "on_person_event", "on_village_event"]


async def on_person_event(event: CloudEvent, uow: PillarsUoW) -> None:
    if event.type == people.FAMILY_ADDED:
        added = people.family_member_added(event)
        lives_with_worker = added.village_code is None
        worker_village = await uow.people.village_of(added.worker_id) if lives_with_worker else None
        await uow.people.add_family_member(people.family_member_person(added, worker_village))
        await uow.commit()
        return
    seen = people.worker_seen(event)
    before = await uow.people.village_of(seen.worker_id)
    newest = await uow.people.save_worker_if_newer(seen.person)
    for change in people.after_worker_event(seen, newest=newest, village_before=before):
        match change:
            case people.MoveFamily():
                await uow.people.move_family(change)
            case people.MoveQueue():
                await uow.queue.move(change.worker_id, change.village_code)
            case people.EnterQueue():
                await uow.queue.enter(change)
            case people.DropWaitingReturns():
                await uow.queue.drop_waiting_before(change.worker_id, change.version)
    await uow.commit()


async def on_village_event(event: CloudEvent, uow: PillarsUoW) -> None:
    change = portfolio.designation_change(event)
    if change is None:
        return
    current = await uow.portfolios.get_for_update(change.village_code)
    followed = portfolio.follow(current, change)
    if followed is None:
        return  # stale: an event no newer than the last one applied
    if current is None:
        await uow.portfolios.add(followed.portfolio)
    else:
        await uow.portfolios.save(followed.portfolio)
    if followed.opened:
        traceparent = current_traceparent() or event.traceparent  # the consumer's span, else the designation's
        uow.publish(portfolio_opened(change.village_code, change.designation_id, event, traceparent))
    await uow.commit()


async def on_case_event(event: CloudEvent, uow: PillarsUoW) -> None:
    case = cases.case_id(event.id, event.data)
    current = await uow.cases.get_for_update(case)
    after = cases.apply_case_event(current, event.type, event.time, event.data)
    if after != current:
        await uow.cases.save(case, after)
    await uow.commit()


PEOPLE = Consumer("people", ["demimas.registry.worker.>", "demimas.registry.family.>"], on_person_event)
DESIGNATIONS = Consumer("designations", ["demimas.designation.village.>"], on_village_event)
CASE_COUNTS = Consumer("case-counts", ["demimas.cases.case.>"], on_case_event)
