"""Lists and `totalCount` against PostgreSQL: the counts the trigger keeps in `case_counts` stay equal to the
rows they count through opening, triage (kind and phase changed), referrals (pending, accepted, declined, two to
one case), resolution, closing and reopening; `count` (from the table where it can) equals counting the rows under
every filter and every visibility rule (region, referred-to agencies, restricted cases, no scope); and a region
filter lists exactly the cases of the region, whichever level its code names."""

from __future__ import annotations

import itertools
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_cases.adapters.cases import CaseFilter, CaseRepository
from demimas_cases.domain.case import Case, holders
from demimas_cases.domain.commands import AnswerReferral, ChangeCase, OpenCase, ReferCase, TriageCase
from demimas_cases.domain.permissions import sees
from demimas_cases.domain.vocabulary import CaseKind, CasePhase, CaseStatus
from demimas_cases.service_layer import cases as flow
from demimas_cases.service_layer.rules import CaseRules
from demimas_common.auth.principal import Agency, Principal, Purpose, region_covers

from .conftest import Clock, act, principal, village
from .test_case_flow_db import new

pytestmark = pytest.mark.integration

KP2MI = principal("KP2MI")
RECOUNT = """
    SELECT k.region, k.agency, c.status, c.kind, c.phase, count(*) AS n
    FROM cases.cases AS c CROSS JOIN LATERAL cases.case_count_keys(c.village_code, c.referred_to) AS k
    GROUP BY 1, 2, 3, 4, 5"""


async def assert_counts_match_rows(engine: AsyncEngine) -> None:
    """The whole `case_counts` table equals counting the rows again (zero rows left by changes aside)."""
    async with engine.connect() as conn:
        kept = {tuple(r[:5]): r[5] for r in await conn.execute(text("SELECT * FROM cases.case_counts WHERE n <> 0"))}
        recounted = {tuple(r[:5]): r[5] for r in await conn.execute(text(RECOUNT))}
    assert kept == recounted


def matches(case: Case, f: CaseFilter) -> bool:
    return (
        (f.status is None or case.status is f.status)
        and (f.kind is None or case.kind is f.kind)
        and (f.phase is None or case.phase is f.phase)
        and (f.region_prefix is None or region_covers(f.region_prefix, case.village_code))
        and (f.assigned_to is None or f.assigned_to in holders(case))
    )


async def test_counts_follow_every_change_and_agree_with_the_rows(
    engine: AsyncEngine, rules: CaseRules, clock: Clock
) -> None:
    first = village()
    regency, province = first[:5], first[:2]
    v1, v2, v3 = first, village(regency), village(regency)
    elsewhere = village("33.07" if province != "33" else "35.01")
    ppa = principal("KEMENPPPA", purpose=Purpose.PROTECTION_CASE)
    bnn, imipas = principal("BNN"), principal("KEMENIMIPAS")
    disnaker = principal("DISNAKER", regency)

    async def open_(code: str, kind: CaseKind) -> Case:
        case = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code, kind)), rules)
        await assert_counts_match_rows(engine)
        return case

    async def step(who: Principal, handler: object, cmd: object) -> Case:
        case: Case = await act(engine, who, handler, cmd, rules)  # type: ignore[arg-type]
        await assert_counts_match_rows(engine)
        return case

    c1 = await open_(v1, CaseKind.COMPLAINT)  # stays OPEN
    c2 = await open_(v1, CaseKind.FAMILY_WELFARE)  # restricted, referred to KemenPPPA (pending)
    c2 = await step(KP2MI, flow.triage_case, TriageCase(c2.id, 1))
    c2 = await step(KP2MI, flow.refer_case, ReferCase(c2.id, 2, uuid.uuid4(), "child support", to_agency="KEMENPPPA"))
    c3 = await open_(v2, CaseKind.TRAFFICKING_SUSPECTED)  # restricted, BNN accepted, then Kemenimipas too
    c3 = await step(KP2MI, flow.triage_case, TriageCase(c3.id, 1))
    c3 = await step(KP2MI, flow.refer_case, ReferCase(c3.id, 2, uuid.uuid4(), "drugs involved", to_agency="BNN"))
    c3 = await step(bnn, flow.answer_referral, AnswerReferral(c3.referrals[0].id, 3, accept=True))
    c3 = await step(KP2MI, flow.refer_case, ReferCase(c3.id, 4, uuid.uuid4(), "passport", to_agency="KEMENIMIPAS"))
    c4 = await open_(v2, CaseKind.COMPLAINT)  # KemenPPPA declines; resolved, closed, reopened
    c4 = await step(disnaker, flow.triage_case, TriageCase(c4.id, 1))
    c4 = await step(KP2MI, flow.refer_case, ReferCase(c4.id, 2, uuid.uuid4(), "family", to_agency="KEMENPPPA"))
    declined = AnswerReferral(c4.referrals[0].id, 3, accept=False, reason="The case concerns no child")
    c4 = await step(ppa, flow.answer_referral, declined)
    c4 = await step(KP2MI, flow.resolve_case, ChangeCase(c4.id, 4, "Wages paid after mediation"))
    c4 = await step(KP2MI, flow.close_case, ChangeCase(c4.id, 5))
    c4 = await step(KP2MI, flow.reopen_case, ChangeCase(c4.id, 6, "The employer stopped paying again"))
    c5 = await open_(v3, CaseKind.LEGAL_AID)  # triage corrects kind and phase
    c5 = await step(KP2MI, flow.triage_case,
                    TriageCase(c5.id, 1, kind=CaseKind.ABUSE_ABROAD, phase=CasePhase.AFTER_RETURN))  # fmt: skip
    c5 = await step(KP2MI, flow.resolve_case, ChangeCase(c5.id, 2, "Returned home safely"))
    c6 = await open_(elsewhere, CaseKind.REPATRIATION)
    ours = [c1, c2, c3, c4, c5, c6]
    assert c3.referred_to == ("BNN", "KEMENIMIPAS")
    assert c4.status is CaseStatus.REOPENED

    principals = [
        KP2MI, principal("KP2MI", province), principal("BP3MI", province), disnaker, principal("DISNAKER", v1[:8]),
        principal("BP3MI", elsewhere[:2]), ppa, bnn, imipas, principal("KEMENPPPA", regency), principal("AUDITOR"),
        Principal("sub-no-scope", Agency.KP2MI, frozenset()),
    ]  # fmt: skip
    regions = [None, province, regency, v1[:8], v1, v2, v3, elsewhere, elsewhere[:5], "99"]
    filters = [CaseFilter(region_prefix=r) for r in regions]
    filters += [CaseFilter(status=s, region_prefix=r) for s in CaseStatus for r in (None, regency, v2)]
    filters += [CaseFilter(kind=k, region_prefix=r) for k in CaseKind for r in (None, v1, v3)]
    filters += [CaseFilter(phase=p, kind=CaseKind.ABUSE_ABROAD, region_prefix=v3) for p in CasePhase]
    filters += [CaseFilter(status=CaseStatus.REFERRED, kind=CaseKind.FAMILY_WELFARE, phase=CasePhase.ABROAD)]
    filters += [CaseFilter(assigned_to="KEMENPPPA", region_prefix=v1), CaseFilter(overdue=True, region_prefix=v2),
                CaseFilter(overdue=False, region_prefix=v2)]  # fmt: skip
    now = clock()
    async with engine.connect() as conn:
        repository = CaseRepository(conn)
        for who, f in itertools.product(principals, filters):
            counted = await repository.count(who, f, now=now)
            assert counted == await repository.count_rows(who, f, now=now), (who, f)
            if f.region_prefix in (v1, v2, v3, elsewhere):  # villages no other test uses: the expected cases
                expected = [c for c in ours if sees(who, c) and matches(c, f)]
                if f.overdue is None:
                    assert counted == len(expected), (who, f)
                ids, _ = await repository.page(who, f, now=now, first=50, after=None)
                assert set(ids) <= {c.id for c in ours}
                if f.overdue is None:
                    assert set(ids) == {c.id for c in expected}, (who, f)


async def test_a_region_lists_exactly_its_cases_at_every_level(engine: AsyncEngine, rules: CaseRules) -> None:
    code = village()
    neighbour = village(code[:5])
    opened = [await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, c)), rules) for c in (code, code, neighbour)]
    now = rules.clock()
    async with engine.connect() as conn:
        repository = CaseRepository(conn)
        for prefix in (code[:2], code[:5], code[:8], code):
            ids: list[uuid.UUID] = []
            after = None
            while True:  # the whole list by pages, every case inside the prefix and nothing else
                page, more = await repository.page(KP2MI, CaseFilter(region_prefix=prefix), now=now, first=100,
                                                   after=after)  # fmt: skip
                ids += page
                if not more:
                    break
                last = await repository.get(page[-1])
                assert last is not None
                after = (last.village_code, last.id)
            async with engine.connect() as check:
                inside = await check.scalar(
                    text("SELECT count(*) FROM cases.cases WHERE village_code = :p OR village_code LIKE :p || '.%'"),
                    {"p": prefix},
                )
            assert len(ids) == inside == await repository.count(KP2MI, CaseFilter(region_prefix=prefix), now=now)
            assert {c.id for c in opened if region_covers(prefix, c.village_code)} <= set(ids)


async def test_a_list_row_shows_what_the_whole_case_shows(engine: AsyncEngine, rules: CaseRules, clock: Clock) -> None:
    """A list builds its cases from their rows alone (graph.py `Case.from_row`): every field it answers without
    reading the rest (who holds the case, whether it is overdue, ...) equals the field built from the whole case,
    through referrals pending, accepted and declined and clocks run out."""
    from demimas_cases.entrypoints.graphql.graph import Case as Node

    code = village()
    opened = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code)), rules)
    pending = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code)), rules)
    pending = await act(engine, KP2MI, flow.triage_case, TriageCase(pending.id, 1), rules)
    pending = await act(engine, KP2MI, flow.refer_case,
                        ReferCase(pending.id, 2, uuid.uuid4(), "help", to_agency="BNN"), rules)  # fmt: skip
    accepted = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code)), rules)
    accepted = await act(engine, KP2MI, flow.triage_case, TriageCase(accepted.id, 1), rules)
    accepted = await act(engine, KP2MI, flow.refer_case,
                         ReferCase(accepted.id, 2, uuid.uuid4(), "help", to_agency="BNN"), rules)  # fmt: skip
    accepted = await act(engine, principal("BNN"), flow.answer_referral,
                         AnswerReferral(accepted.referrals[0].id, 3, accept=True), rules)  # fmt: skip
    declined = await act(engine, KP2MI, flow.open_case, OpenCase(new(rules, code)), rules)
    declined = await act(engine, KP2MI, flow.triage_case, TriageCase(declined.id, 1), rules)
    declined = await act(engine, KP2MI, flow.refer_case,
                         ReferCase(declined.id, 2, uuid.uuid4(), "help", to_agency="BNN"), rules)  # fmt: skip
    no = AnswerReferral(declined.referrals[0].id, 3, accept=False, reason="not ours")
    declined = await act(engine, principal("BNN"), flow.answer_referral, no, rules)
    plain = ("id", "kind", "phase", "channel", "village_code", "destination_country", "owner_agency",
             "confidentiality", "status", "version", "opened_at", "triage_due_at", "resolution_due_at", "triaged_at",
             "resolved_at", "closed_at", "held_by", "overdue")  # fmt: skip
    for hours in (0, 73, 24 * 40):
        clock.advance(hours=hours)
        now = clock()
        async with engine.connect() as conn:
            repository = CaseRepository(conn)
            rows, _ = await repository.page_rows(KP2MI, CaseFilter(village_code=code), now=now, first=50, after=None)
            whole = await repository.complete(rows)
        assert {r.id for r in rows} == {opened.id, pending.id, accepted.id, declined.id}
        for row, case in zip(rows, whole, strict=True):
            from_row, from_case = Node.from_row(row, now), Node.from_domain(case, now)
            assert {f: getattr(from_row, f) for f in plain} == {f: getattr(from_case, f) for f in plain}
    assert any(Node.from_row(r, clock()).overdue for r in rows)
