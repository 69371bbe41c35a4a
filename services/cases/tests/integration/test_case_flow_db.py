"""The lifecycle of a case against PostgreSQL: each use case with its step, event and version; the people
projection; idempotent opening; stale versions; visibility; the overdue sweep escalating each item once."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_cases.adapters.cases import CaseFilter, CaseRepository
from demimas_cases.adapters.tables import SCHEMA, events
from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.domain.case import Case, Person, Reporter
from demimas_cases.domain.commands import (
    AddNote,
    AnswerReferral,
    ChangeCase,
    OpenCase,
    RecordReferralOutcome,
    ReferCase,
    RegisterLegalAid,
    TriageCase,
)
from demimas_cases.domain.legal_aid import LegalAidOrganisation
from demimas_cases.domain.vocabulary import (
    CaseChannel,
    CaseKind,
    CasePhase,
    CaseStatus,
    Confidentiality,
    PersonRole,
    ReferralStatus,
)
from demimas_cases.service_layer import cases as flow
from demimas_cases.service_layer.consumers import on_person_event
from demimas_cases.service_layer.escalation import escalate_overdue
from demimas_cases.service_layer.legal_aid import register_legal_aid
from demimas_cases.service_layer.rules import CaseRules
from demimas_common.auth.principal import Purpose
from demimas_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from demimas_common.events.envelope import new_event

from .conftest import Clock, act, consume, principal, village

pytestmark = pytest.mark.integration

KP2MI = principal("KP2MI")
KEMENPPPA = principal("KEMENPPPA", purpose=Purpose.PROTECTION_CASE)
BNN = principal("BNN")


def new(rules: CaseRules, code: str, kind: CaseKind = CaseKind.COMPLAINT, people: tuple[Person, ...] = ()) -> Case:
    now = rules.clock()
    return Case(
        id=uuid.uuid4(), kind=kind, phase=CasePhase.ABROAD, channel=CaseChannel.HOTLINE, village_code=code,
        destination_country="MY", owner_agency="DISNAKER", opened_by="DISNAKER",
        confidentiality=Confidentiality.STANDARD, status=CaseStatus.OPEN, version=1, people=people,
        reporter=Reporter(anonymous=True), description="Wages unpaid for four months by the employer.",
        opened_at=now, triage_due_at=rules.clocks.triage_due(now),
        resolution_due_at=rules.clocks.resolution_due(kind, now),
    )  # fmt: skip


async def event_types(engine: AsyncEngine, case_id: uuid.UUID) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(events.outbox.c.type).where(events.outbox.c.subject == str(case_id)).order_by(events.outbox.c.seq)
        )
        return [r[0] for r in rows]


async def test_the_whole_lifecycle_with_steps_events_and_versions(engine: AsyncEngine, rules: CaseRules) -> None:
    code = village("16.06")
    disnaker, bp3mi = principal("DISNAKER", "16.06"), principal("BP3MI", "16")
    c = await act(engine, disnaker, flow.open_case, OpenCase(new(rules, code)), rules)
    assert (c.status, c.version, c.owner_agency) == (CaseStatus.OPEN, 1, "DISNAKER")
    c = await act(engine, bp3mi, flow.triage_case, TriageCase(c.id, 1, owner="BP3MI"), rules)
    assert (c.status, c.version, c.owner_agency) == (CaseStatus.TRIAGED, 2, "BP3MI")
    c = await act(engine, KP2MI, flow.refer_case, ReferCase(c.id, 2, uuid.uuid4(), "Family support needed",
                                                            to_agency="KEMENPPPA"), rules)  # fmt: skip
    assert c.status is CaseStatus.REFERRED
    rid = c.referrals[0].id
    c = await act(engine, KEMENPPPA, flow.answer_referral, AnswerReferral(rid, 3, accept=True), rules)
    assert (c.status, c.referrals[0].status) == (CaseStatus.IN_PROGRESS, ReferralStatus.ACCEPTED)
    c = await act(engine, KEMENPPPA, flow.add_note, AddNote(c.id, 4, uuid.uuid4(), "Visited the family."), rules)
    c = await act(engine, KEMENPPPA, flow.record_referral_outcome,
                  RecordReferralOutcome(rid, 5, "Family enrolled in counselling"), rules)  # fmt: skip
    c = await act(engine, bp3mi, flow.resolve_case, ChangeCase(c.id, 6, "Wages paid after mediation"), rules)
    c = await act(engine, bp3mi, flow.close_case, ChangeCase(c.id, 7), rules)
    assert (c.status, c.version) == (CaseStatus.CLOSED, 8)
    c = await act(engine, KP2MI, flow.reopen_case, ChangeCase(c.id, 8, "The employer stopped paying again"), rules)
    assert (c.status, c.resolved_at) == (CaseStatus.REOPENED, None)
    assert await event_types(engine, c.id) == [
        f"demimas.cases.case.{t}"
        for t in ("opened", "triaged", "referred", "referral_accepted", "referral_completed", "resolved", "closed",
                  "reopened")
    ]  # fmt: skip
    async with engine.connect() as conn:
        steps = await CaseRepository(conn).steps(c.id)
        payloads = [r[0] for r in await conn.execute(
            select(events.outbox.c.payload).where(events.outbox.c.subject == str(c.id)))]  # fmt: skip
    assert [s.step for s in steps] == ["opened", "triaged", "referred", "referral_accepted", "note_added",
                                       "referral_completed", "resolved", "closed", "reopened"]  # fmt: skip
    assert steps[3].holders == ("BP3MI", "KEMENPPPA")
    body = json.dumps(payloads)
    for secret in ("Wages unpaid", "Visited the family", "counselling", "mediation", "stopped paying"):
        assert secret not in body, "case content must never ride in an event"


async def test_a_stale_version_is_refused_and_names_the_current_one(engine: AsyncEngine, rules: CaseRules) -> None:
    c = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, village())), rules)
    await act(engine, KP2MI, flow.triage_case, TriageCase(c.id, 1), rules)
    with pytest.raises(Conflict) as refused:
        await act(engine, KP2MI, flow.triage_case, TriageCase(c.id, 1), rules)
    assert refused.value.details["reason"] == "stale_version"
    assert refused.value.details["currentVersion"] == 2


async def test_outside_the_region_a_case_is_missing_whatever_the_change(engine: AsyncEngine, rules: CaseRules) -> None:
    c = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, village("33.07"))), rules)
    bp3mi_16 = principal("BP3MI", "16")
    for cmd, handler in [
        (TriageCase(c.id, 1), flow.triage_case),
        (ReferCase(c.id, 1, uuid.uuid4(), "reason", to_agency="BNN"), flow.refer_case),
        (ChangeCase(c.id, 1, "done"), flow.resolve_case),
    ]:
        with pytest.raises(NotFound) as missing:
            await act(engine, bp3mi_16, handler, cmd, rules)  # type: ignore[arg-type]
        assert "33.07" not in missing.value.message
    with pytest.raises(Forbidden):  # opening there is refused for the region, naming the caller's own input
        await act(engine, bp3mi_16, flow.open_case, OpenCase(new(rules, village("33.07"))), rules)


async def test_referral_only_agencies_see_only_what_was_referred_to_them(engine: AsyncEngine, rules: CaseRules) -> None:
    code = village()
    c = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code)), rules)
    async with engine.connect() as conn:
        repository = CaseRepository(conn)
        assert c.id not in (await repository.page(BNN, CaseFilter(village_code=code), now=rules.clock(), first=50,
                                                  after=None))[0]  # fmt: skip
    c = await act(engine, KP2MI, flow.triage_case, TriageCase(c.id, 1), rules)
    c = await act(engine, KP2MI, flow.refer_case, ReferCase(c.id, 2, uuid.uuid4(), "drugs involved", to_agency="BNN"),
                  rules)  # fmt: skip
    async with engine.connect() as conn:
        ids, _ = await CaseRepository(conn).page(BNN, CaseFilter(village_code=code), now=rules.clock(), first=50,
                                                 after=None)  # fmt: skip
    assert ids == [c.id]
    with pytest.raises(NotFound):  # KemenPPPA was not referred: the referral's id tells it nothing
        await act(engine, KEMENPPPA, flow.answer_referral, AnswerReferral(c.referrals[0].id, 3, accept=True), rules)
    with pytest.raises(Forbidden):  # BP3MI sees it (its region) but does not answer for BNN
        await act(engine, principal("BP3MI"), flow.answer_referral, AnswerReferral(c.referrals[0].id, 3, accept=True),
                  rules)  # fmt: skip


async def test_opening_with_an_idempotency_key_makes_one_case(engine: AsyncEngine, rules: CaseRules) -> None:
    code = village()
    first = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code), idempotency_key="k-1"), rules)
    again = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code), idempotency_key="k-1"), rules)
    assert again.id == first.id
    other = new(rules, code, CaseKind.REPATRIATION)
    with pytest.raises(Conflict):
        await act(engine, KP2MI, flow.open_case, OpenCase(other, idempotency_key="k-1"), rules)
    async with engine.connect() as conn:
        n = await conn.scalar(text("SELECT count(*) FROM cases.cases WHERE village_code = :v"), {"v": code})
    assert n == 1


async def test_people_come_from_the_registry_and_a_child_restricts_the_case(
    engine: AsyncEngine, rules: CaseRules
) -> None:
    code = village("16.06")
    worker, child = uuid.uuid4(), uuid.uuid4()
    unknown = Person(PersonRole.WORKER, id=worker)
    with pytest.raises(BadUserInput) as refused:
        await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code, people=(unknown,))), rules)
    assert refused.value.field == "people.0.id"
    data = {"workerId": str(worker), "villageCode": code, "status": "ABROAD", "version": 1}
    await consume(engine, on_person_event, new_event("demimas.registry.worker.registered", str(worker), data))
    family = {"familyMemberId": str(child), "workerId": str(worker), "relation": "CHILD", "minor": True}
    await consume(engine, on_person_event, new_event("demimas.registry.family.added", str(child), family))
    people = (Person(PersonRole.WORKER, id=worker), Person(PersonRole.FAMILY_MEMBER, id=child))
    c = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code, CaseKind.FAMILY_WELFARE, people)), rules)
    assert c.confidentiality is Confidentiality.RESTRICTED
    with pytest.raises(BadUserInput):  # DISNAKER of another regency does not see these people
        await act(engine, principal("DISNAKER", "33.07"), flow.open_case,
                  OpenCase(new(rules, village("33.07"), people=people)), rules)  # fmt: skip
    async with engine.connect() as conn:
        found = await CaseRepository(conn).of_people(KP2MI, [child])
    assert found == {child: [c.id]}


async def test_legal_aid_referral_is_answered_by_the_referring_agency(engine: AsyncEngine, rules: CaseRules) -> None:
    code = village("16.06")
    org = LegalAidOrganisation(uuid.uuid4(), "LBH Test", f"T-{uuid.uuid4()}", ("16",), None, True, rules.clock())
    await act(engine, KP2MI, register_legal_aid, RegisterLegalAid(org), rules)
    with pytest.raises(Forbidden):
        await act(engine, principal("BP3MI", "16"), register_legal_aid, RegisterLegalAid(org), rules)
    far = LegalAidOrganisation(uuid.uuid4(), "LBH Far", f"T-{uuid.uuid4()}", ("33",), None, True, rules.clock())
    await act(engine, KP2MI, register_legal_aid, RegisterLegalAid(far), rules)
    c = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code, CaseKind.LEGAL_AID)), rules)
    c = await act(engine, KP2MI, flow.triage_case, TriageCase(c.id, 1), rules)
    with pytest.raises(BadUserInput):
        await act(engine, KP2MI, flow.refer_case,
                  ReferCase(c.id, 2, uuid.uuid4(), "legal help", legal_aid_organisation_id=far.id), rules)  # fmt: skip
    c = await act(engine, KP2MI, flow.refer_case,
                  ReferCase(c.id, 2, uuid.uuid4(), "legal help", legal_aid_organisation_id=org.id), rules)  # fmt: skip
    c = await act(engine, KP2MI, flow.answer_referral, AnswerReferral(c.referrals[0].id, 3, accept=True), rules)
    assert c.status is CaseStatus.IN_PROGRESS


async def test_the_sweep_escalates_each_overdue_item_once(engine: AsyncEngine, rules: CaseRules, clock: Clock) -> None:
    code = village()
    waiting = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code)), rules)
    referred = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code)), rules)
    referred = await act(engine, KP2MI, flow.triage_case, TriageCase(referred.id, 1), rules)
    referred = await act(engine, KP2MI, flow.refer_case,
                         ReferCase(referred.id, 2, uuid.uuid4(), "help", to_agency="BNN"), rules)  # fmt: skip
    clock.advance(hours=73)
    async with engine.connect() as conn:
        ids, _ = await CaseRepository(conn).page(KP2MI, CaseFilter(village_code=code), now=clock(), first=50,
                                                 after=None, overdue_for="BNN")  # fmt: skip
    assert ids == [referred.id]
    while True:  # other tests' overdue cases are escalated too: run until nothing is left
        async with CasesUnitOfWork(engine, schema=SCHEMA) as uow:
            if not await escalate_overdue(uow, clock()):
                break
    async with engine.connect() as conn:
        ours = events.outbox.c.subject.in_([str(waiting.id), str(referred.id)])
        overdue = events.outbox.c.type == "demimas.cases.case.overdue"
        rows = [r[0]["data"] for r in await conn.execute(select(events.outbox.c.payload).where(overdue, ours))]
    items = sorted((r["caseId"] == str(waiting.id), r["item"], r["heldBy"]) for r in rows)
    assert items == [(False, "REFERRAL_RESPONSE", "BNN"), (True, "TRIAGE", "KP2MI")]
    async with CasesUnitOfWork(engine, schema=SCHEMA) as uow:  # a second run finds nothing new for these cases
        await escalate_overdue(uow, clock())
    async with engine.connect() as conn:
        again = await conn.scalar(select(text("count(*)")).select_from(events.outbox).where(overdue, ours))
    assert again == 2


async def test_old_idempotency_keys_are_pruned(engine: AsyncEngine, rules: CaseRules) -> None:
    from demimas_cases.adapters.tables import idempotency_keys
    from demimas_common.db.idempotency import prune_idempotency_keys

    async with engine.begin() as conn:
        await conn.execute(idempotency_keys.insert().values(
            agency="KP2MI", key=f"old-{uuid.uuid4()}", operation="openCase", fingerprint="x", resource_id=uuid.uuid4(),
            created_at=rules.clock() - dt.timedelta(days=31)))  # fmt: skip
    assert await prune_idempotency_keys(engine, idempotency_keys, 30) >= 1
    async with engine.connect() as conn:
        left = await conn.scalar(text("SELECT count(*) FROM cases.idempotency_keys WHERE key LIKE 'old-%'"))
    assert left == 0


async def test_the_sweep_reads_no_case_yet_its_events_say_what_the_whole_case_says(
    engine: AsyncEngine, rules: CaseRules, clock: Clock
) -> None:
    """The sweep reads a few columns per item (adapters/cases.py `escalate`), not the cases: its event equals
    the one the domain makes of the whole case; an answer whose clock no longer runs (its case cannot be referred
    any more) is marked, not escalated."""
    from demimas_cases.domain.case import overdue_items
    from demimas_cases.domain.events import case_overdue

    code = village()
    referred = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code)), rules)
    referred = await act(engine, KP2MI, flow.triage_case, TriageCase(referred.id, 1), rules)
    referred = await act(engine, KP2MI, flow.refer_case,
                         ReferCase(referred.id, 2, uuid.uuid4(), "help", to_agency="BNN"), rules)  # fmt: skip
    stopped = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code)), rules)
    stopped = await act(engine, KP2MI, flow.triage_case, TriageCase(stopped.id, 1), rules)
    stopped = await act(engine, KP2MI, flow.refer_case,
                        ReferCase(stopped.id, 2, uuid.uuid4(), "help", to_agency="BNN"), rules)  # fmt: skip
    async with engine.begin() as conn:  # as a row left by an older version could be: resolved, the answer pending
        await conn.execute(text("UPDATE cases.cases SET status = 'RESOLVED' WHERE id = :id"), {"id": stopped.id})
    clock.advance(hours=73)
    while True:
        async with CasesUnitOfWork(engine, schema=SCHEMA) as uow:
            if not await escalate_overdue(uow, clock()):
                break
    async with engine.connect() as conn:
        overdue = events.outbox.c.type == "demimas.cases.case.overdue"
        rows = [r[0] for r in await conn.execute(select(events.outbox.c.payload).where(
            overdue, events.outbox.c.subject.in_([str(referred.id), str(stopped.id)])))]  # fmt: skip
        answered = await conn.scalar(text("SELECT escalated_at FROM cases.referrals WHERE id = :id"),
                                     {"id": stopped.referrals[0].id})  # fmt: skip
        whole = await CaseRepository(conn).get(referred.id)
    assert whole is not None
    [item] = [i for i in overdue_items(whole, clock()) if i.referral_id is not None]
    assert [r["data"] for r in rows] == [case_overdue(whole, item).data]
    assert answered is not None  # marked: never found again
