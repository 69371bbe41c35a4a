"""The consumers' rules without a database: what the registry's worker and family events change in the `people`
projection and the reintegration queue (late, repeated or out of order), what designation events do to a village's
portfolio, with `portfolio.opened` published through the unit of work once per designation, and what case events do
to the protection cases the pillar progress counts."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import replace
from typing import Any

import pytest

from demimas_common.errors import BadUserInput
from demimas_common.events.case_samples import case_history, cloud_events
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_pillars.domain import people as rules
from demimas_pillars.domain.cases import CaseRecord, apply_case_event
from demimas_pillars.domain.portfolio import DesignationChange, Portfolio, PortfolioStatus, follow
from demimas_pillars.domain.vocabulary import PersonKind, ReintegrationStatus
from demimas_pillars.service_layer.consumers import on_case_event, on_person_event, on_village_event

from .fakes import NOW, FakePillarsUoW

HERE, THERE = "16.06.13.2001", "33.07.01.2001"
WAITING = ReintegrationStatus.WAITING
DEPARTURE = {"destinationCountry": "MY", "scheme": "P_TO_P", "procedural": True}


def worker_event(kind: str, worker: uuid.UUID, code: str, version: int, status: str, **extra: Any) -> CloudEvent:
    data = {"workerId": str(worker), "villageCode": code, "status": status, "version": version, **extra}
    return new_event(f"demimas.registry.worker.{kind}", str(worker), data)


def family_added(worker: uuid.UUID, member: uuid.UUID, **extra: Any) -> CloudEvent:
    data = {"familyMemberId": str(member), "workerId": str(worker), "relation": "CHILD", "minor": True, **extra}
    return new_event("demimas.registry.family.added", str(worker), data)


async def consume(uow: FakePillarsUoW, *events: CloudEvent) -> None:
    for event in events:
        async with uow:
            await (on_village_event if event.type.startswith("demimas.designation.") else on_person_event)(event, uow)


async def test_a_return_enters_the_queue_once_whatever_the_order() -> None:
    uow, w = FakePillarsUoW(), uuid.uuid4()
    returned = worker_event("returned", w, HERE, 3, "RETURNED")
    await consume(uow, returned, worker_event("registered", w, HERE, 1, "CANDIDATE"),
                  worker_event("departed", w, HERE, 2, "ABROAD", **DEPARTURE), returned)  # fmt: skip
    assert uow.queue.of(w) == [(3, WAITING, HERE)]
    row = uow.people.rows[w]
    assert (row.status, row.version, row.village_code) == ("RETURNED", 3, HERE)
    assert uow.published == []  # the projection publishes nothing


async def test_a_returnee_who_leaves_again_leaves_the_queue_and_a_late_return_does_not_bring_them_back() -> None:
    uow, w = FakePillarsUoW(), uuid.uuid4()
    await consume(uow, worker_event("returned", w, HERE, 3, "RETURNED"))
    await consume(uow, worker_event("departed", w, HERE, 4, "ABROAD", **DEPARTURE))
    assert uow.queue.of(w) == []
    await consume(uow, worker_event("returned", w, HERE, 3, "RETURNED"))
    assert uow.queue.of(w) == []


async def test_family_lives_with_the_worker_unless_the_event_says_otherwise() -> None:
    uow, w, child, cousin = FakePillarsUoW(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await consume(uow, worker_event("registered", w, HERE, 1, "CANDIDATE"), family_added(w, child),
                  family_added(w, child), family_added(w, cousin, villageCode=THERE))  # fmt: skip
    assert (uow.people.rows[child].person_kind, uow.people.rows[child].village_code) == (PersonKind.FAMILY_MEMBER, HERE)
    assert uow.people.rows[child].minor is True
    assert uow.people.rows[cousin].village_code == THERE


async def test_a_worker_who_moves_takes_the_family_living_with_them_and_the_queue_along() -> None:
    uow, w, child, elsewhere = FakePillarsUoW(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await consume(uow, worker_event("registered", w, HERE, 1, "CANDIDATE"),
                  worker_event("returned", w, HERE, 3, "RETURNED"), family_added(w, child),
                  family_added(w, elsewhere, villageCode="11.01.03.2001"),
                  worker_event("updated", w, THERE, 4, "RETURNED"))  # fmt: skip
    assert (uow.people.rows[child].village_code, uow.queue.of(w)) == (THERE, [(3, WAITING, THERE)])
    assert uow.people.rows[elsewhere].village_code == "11.01.03.2001"  # not living with the worker: stays
    await consume(uow, worker_event("updated", w, HERE, 2, "RETURNED"))  # a late, older event moves nobody
    assert (uow.people.rows[w].village_code, uow.people.rows[child].village_code) == (THERE, THERE)


def test_only_the_newest_event_of_a_worker_has_consequences() -> None:
    w = uuid.uuid4()
    seen = rules.worker_seen(worker_event("returned", w, THERE, 5, "RETURNED"))
    assert rules.after_worker_event(seen, newest=False, village_before=HERE) == []
    assert rules.after_worker_event(seen, newest=True, village_before=HERE) == [
        rules.MoveFamily(w, HERE, THERE),
        rules.MoveQueue(w, THERE),
        rules.EnterQueue(w, 5, THERE, seen.at),
    ]
    departed = rules.worker_seen(worker_event("departed", w, THERE, 6, "ABROAD", **DEPARTURE))
    assert rules.after_worker_event(departed, newest=True, village_before=None) == [rules.DropWaitingReturns(w, 6)]


# --- portfolios


def village_event(kind: str, code: str, designation: uuid.UUID, at: dt.datetime) -> CloudEvent:
    data = {"villageCode": code, "designationId": str(designation), "status": "ACTIVE", "programme": "DEMIMAS"}
    return replace(new_event(f"demimas.designation.village.{kind}", code, data), time=at)


async def test_a_designation_opens_the_portfolio_and_publishes_it_once() -> None:
    uow, d = FakePillarsUoW(), uuid.uuid4()
    designated = village_event("designated", HERE, d, NOW)
    await consume(uow, designated, designated)  # redelivered
    assert uow.portfolios.rows[HERE] == Portfolio(HERE, d, PortfolioStatus.OPEN, NOW, NOW)
    [opened] = uow.published
    assert (opened.type, opened.subject, opened.data) == (
        "demimas.pillars.portfolio.opened", HERE, {"villageCode": HERE, "designationId": str(d)}
    )  # fmt: skip
    assert (opened.causationid, opened.correlationid) == (designated.id, designated.correlationid)


async def test_suspension_reinstatement_revocation_and_a_new_designation() -> None:
    uow, d, again = FakePillarsUoW(), uuid.uuid4(), uuid.uuid4()
    at = [NOW + dt.timedelta(minutes=i) for i in range(5)]
    steps = [village_event("designated", HERE, d, at[0]), village_event("suspended", HERE, d, at[1]),
             village_event("designated", HERE, d, at[2]), village_event("revoked", HERE, d, at[3])]  # fmt: skip
    seen = []
    for event in [steps[0], steps[1], steps[0], steps[2], steps[1], steps[3]]:  # stale copies in between
        await consume(uow, event)
        seen.append(uow.portfolios.rows[HERE].status)
    assert seen == ["OPEN", "SUSPENDED", "SUSPENDED", "OPEN", "OPEN", "CLOSED"]
    assert len(uow.published) == 1  # the reinstatement is the same portfolio period
    await consume(uow, village_event("designated", HERE, again, at[4]))
    assert (len(uow.published), uow.portfolios.rows[HERE].opened_at) == (2, at[4])


def test_an_event_that_does_not_concern_the_portfolio_or_is_stale_changes_nothing() -> None:
    d = uuid.uuid4()
    current = Portfolio(HERE, d, PortfolioStatus.OPEN, NOW, NOW)
    assert follow(current, DesignationChange(HERE, d, PortfolioStatus.CLOSED, NOW)) is None
    suspended = follow(None, DesignationChange(HERE, d, PortfolioStatus.SUSPENDED, NOW))
    assert suspended is not None
    assert not suspended.opened  # a portfolio first seen suspended is not opened


# --- protection cases


def test_case_records_converge_on_each_cases_truth_whatever_the_order() -> None:
    for bump in (False, True):
        rng = random.Random(31 if bump else 32)
        lives = [case_history(rng, HERE, NOW - dt.timedelta(days=100 - i), bump=bump) for i in range(40)]
        delivered = [step for steps, _ in lives for step in steps]
        delivered += rng.sample(delivered, len(delivered) // 3)  # redeliveries
        rng.shuffle(delivered)
        records: dict[str, CaseRecord] = {}
        for kind, data, at in delivered:
            records[data["caseId"]] = apply_case_event(records.get(data["caseId"]), kind, at, data)
        for _, truth in lives:
            r = records[truth.case_id]
            resolved_on = truth.resolved_at.date() if truth.resolved_at else None
            assert (r.status, r.version, r.resolved) == (truth.status, truth.version, truth.finished)
            assert (r.opened_on, r.resolved_on) == (truth.opened_at.date() if truth.opened_at else None, resolved_on)


async def test_the_case_consumer_keeps_each_case_once_and_publishes_nothing() -> None:
    uow = FakePillarsUoW()
    steps, truth = case_history(random.Random(4), HERE, NOW - dt.timedelta(days=3), bump=True)
    events = cloud_events(steps)
    for event in [*reversed(events), *events]:  # out of order, then every event again
        async with uow:
            await on_case_event(event, uow)
    [(case, record)] = uow.cases.rows.items()
    assert (str(case), record.status, record.village_code) == (truth.case_id, truth.status, HERE)
    assert uow.cases.saves < len(events)  # stale and repeated events change nothing
    assert uow.published == []
    with pytest.raises(BadUserInput):
        async with uow:
            await on_case_event(new_event("demimas.cases.case.triaged", "x", {"villageCode": HERE}), uow)
