"""The lifecycle, the clocks and the access rules of a case, as pure functions (no I/O)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

import pytest

from demimas_cases.domain import case as c
from demimas_cases.domain.clocks import Clocks
from demimas_cases.domain.permissions import (
    can_read_content,
    require_content,
    require_declassifier,
    require_reader,
    sees,
)
from demimas_cases.domain.vocabulary import (
    CaseChannel,
    CaseKind,
    CasePhase,
    CaseStatus,
    Confidentiality,
    OverdueKind,
    PersonRole,
    ReferralStatus,
)
from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal, Purpose
from demimas_common.errors import BadUserInput, Conflict, Forbidden, PurposeRequired

T0 = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
CLOCKS = Clocks()


def case(**changes: object) -> c.Case:
    base = c.Case(
        id=uuid.uuid4(), kind=CaseKind.COMPLAINT, phase=CasePhase.ABROAD, channel=CaseChannel.HOTLINE,
        village_code="16.06.13.2001", destination_country="MY", owner_agency="DISNAKER", opened_by="DISNAKER",
        confidentiality=Confidentiality.STANDARD, status=CaseStatus.OPEN, version=1, people=(),
        reporter=c.Reporter(anonymous=True), description="Unpaid wages for four months.", opened_at=T0,
        triage_due_at=CLOCKS.triage_due(T0), resolution_due_at=CLOCKS.resolution_due(CaseKind.COMPLAINT, T0),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def referral(to: str | None = "KEMENPPPA", at: dt.datetime = T0) -> c.Referral:
    return c.Referral(uuid.uuid4(), to, None if to else uuid.uuid4(), "needs support", "KP2MI", at,
                      CLOCKS.referral_due(at))  # fmt: skip


def who(agency: str, region: str | None = None, purpose: Purpose | None = Purpose.PROTECTION_CASE) -> Principal:
    a = Agency(agency)
    return Principal("sub", a, DEFAULT_GRANTS[a], region, purpose)


def test_the_path_from_open_to_closed_and_reopened() -> None:
    x = c.triage(case(), T0, owner="BP3MI", clocks=CLOCKS)
    assert (x.status, x.owner_agency, x.version) == (CaseStatus.TRIAGED, "BP3MI", 2)
    x = c.refer(x, referral())
    assert x.status is CaseStatus.REFERRED
    x = c.accept_referral(x, x.referrals[0].id, "KEMENPPPA", T0)
    assert (x.status, c.holders(x)) == (CaseStatus.IN_PROGRESS, ("BP3MI", "KEMENPPPA"))
    x = c.resolve(x, "wages paid", T0 + dt.timedelta(days=3))
    x = c.close(x, T0 + dt.timedelta(days=4))
    assert (x.status, x.version) == (CaseStatus.CLOSED, 6)
    later = T0 + dt.timedelta(days=10)
    x = c.reopen(x, later, clocks=CLOCKS)
    assert x.status is CaseStatus.REOPENED
    assert x.resolution_due_at == CLOCKS.resolution_due(CaseKind.COMPLAINT, later)


def test_a_kind_corrected_to_suspected_trafficking_restricts_the_case_unless_triage_says_otherwise() -> None:
    trafficking = CaseKind.TRAFFICKING_SUSPECTED
    x = c.triage(case(), T0, kind=trafficking, clocks=CLOCKS)
    assert (x.kind, x.confidentiality) == (trafficking, Confidentiality.RESTRICTED)
    x = c.triage(case(), T0, kind=trafficking, confidentiality=Confidentiality.STANDARD, clocks=CLOCKS)
    assert x.confidentiality is Confidentiality.STANDARD  # named at triage: as asked
    x = c.triage(case(kind=trafficking), T0, clocks=CLOCKS)
    assert x.confidentiality is Confidentiality.STANDARD  # the kind confirmed: the opener's choice stands
    x = c.triage(case(confidentiality=Confidentiality.RESTRICTED), T0, kind=CaseKind.LEGAL_AID, clocks=CLOCKS)
    assert x.confidentiality is Confidentiality.RESTRICTED  # never lowered by a corrected kind


@pytest.mark.parametrize(
    ("status", "change"),
    [
        (CaseStatus.OPEN, lambda x: c.refer(x, referral())),  # triage first
        (CaseStatus.OPEN, lambda x: c.resolve(x, "done", T0)),
        (CaseStatus.TRIAGED, lambda x: c.close(x, T0)),
        (CaseStatus.CLOSED, lambda x: c.triage(x, T0, clocks=CLOCKS)),
        (CaseStatus.IN_PROGRESS, lambda x: c.reopen(x, T0, clocks=CLOCKS)),
    ],
)
def test_a_change_the_status_does_not_allow_is_a_conflict(status: CaseStatus, change: object) -> None:
    with pytest.raises(Conflict) as refused:
        change(case(status=status))  # type: ignore[operator]
    assert refused.value.details["reason"] == "illegal_transition"


def test_the_last_decline_sends_the_case_back_to_be_referred_again() -> None:
    x = c.refer(c.triage(case(), T0, clocks=CLOCKS), referral())
    x = c.decline_referral(x, x.referrals[0].id, "KEMENPPPA", "not our mandate", T0)
    assert (x.status, x.referrals[0].status) == (CaseStatus.TRIAGED, ReferralStatus.DECLINED)
    y = c.refer(x, referral("BNN"))
    with pytest.raises(BadUserInput):
        c.decline_referral(y, y.referrals[-1].id, "BNN", "", T0)


def test_a_case_is_not_resolved_while_a_referral_awaits_its_answer() -> None:
    x = c.refer(c.triage(case(), T0, clocks=CLOCKS), referral())
    with pytest.raises(Conflict) as refused:
        c.resolve(x, "done", T0)
    assert refused.value.details["reason"] == "referral_pending"


def test_a_second_open_referral_to_the_same_side_is_refused() -> None:
    x = c.refer(c.triage(case(), T0, clocks=CLOCKS), referral())
    with pytest.raises(Conflict):
        c.refer(x, referral())


def test_clocks_give_overdue_items_with_who_holds_them() -> None:
    x = case()
    assert c.overdue_items(x, T0 + dt.timedelta(hours=23)) == []
    [late] = c.overdue_items(x, T0 + dt.timedelta(hours=25))
    assert (late.kind, late.held_by) == (OverdueKind.TRIAGE, "DISNAKER")
    x = c.refer(c.triage(x, T0, clocks=CLOCKS), referral("BNN"))
    items = c.overdue_items(x, T0 + dt.timedelta(hours=73))
    assert [(i.kind, i.held_by) for i in items] == [(OverdueKind.REFERRAL_RESPONSE, "BNN")]
    legal = c.refer(c.triage(case(), T0, clocks=CLOCKS), referral(None))
    [answer] = c.overdue_items(legal, T0 + dt.timedelta(hours=73))
    assert answer.held_by == "KP2MI"  # a legal aid organisation's answer is recorded by the referring agency
    days = CLOCKS.resolution_days[CaseKind.COMPLAINT]
    assert [i.kind for i in c.overdue_items(x, T0 + dt.timedelta(days=days + 1))] == [
        OverdueKind.REFERRAL_RESPONSE, OverdueKind.RESOLUTION]  # fmt: skip
    assert c.next_due(x) == min(x.referrals[0].due_at, x.resolution_due_at)
    assert c.next_due(c.close(c.resolve(c.triage(case(), T0, clocks=CLOCKS), "paid", T0), T0)) is None


def test_trafficking_and_children_are_restricted_by_default() -> None:
    child = c.Person(PersonRole.UNREGISTERED, name="A", birth_year=2015)
    opened = c.new_case(case(people=(child,)), 2026)
    assert opened.people[0].minor
    assert c.default_confidentiality(CaseKind.COMPLAINT, opened.people) is Confidentiality.RESTRICTED
    assert c.default_confidentiality(CaseKind.TRAFFICKING_SUSPECTED, ()) is Confidentiality.RESTRICTED
    assert c.default_confidentiality(CaseKind.COMPLAINT, ()) is Confidentiality.STANDARD


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"description": "short"}, "description"),
        ({"destination_country": "Malaysia"}, "destinationCountry"),
        ({"destination_country": None}, "destinationCountry"),
        ({"people": (c.Person(PersonRole.WORKER),)}, "people.0.id"),
        ({"people": (c.Person(PersonRole.UNREGISTERED, name=" "),)}, "people.0.name"),
        ({"people": (c.Person(PersonRole.WORKER, id=uuid.uuid4(), name="X"),)}, "people.0"),
        ({"reporter": c.Reporter(anonymous=True, name="X")}, "reporter"),
        ({"reporter": c.Reporter(anonymous=False)}, "reporter.name"),
    ],
)
def test_bad_input_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        c.new_case(case(**changes), 2026)
    assert refused.value.field == field


def test_who_sees_a_case_and_who_reads_its_content() -> None:
    x = c.refer(c.triage(case(confidentiality=Confidentiality.RESTRICTED), T0, owner="BP3MI", clocks=CLOCKS),
                referral("KEMENPPPA"))  # fmt: skip
    assert sees(who("KP2MI"), x)
    assert sees(who("BP3MI", "16"), x)
    assert not sees(who("BP3MI", "33"), x)
    assert sees(who("KEMENPPPA"), x)  # referred to it
    assert not sees(who("BNN"), x)
    assert not sees(who("AUDITOR"), x)
    assert not sees(who("KEMENDES"), x)
    assert can_read_content(who("BP3MI", "16"), x)  # the owner
    assert not can_read_content(who("KP2MI"), x)  # restricted: neither owner nor accepting agency
    assert not can_read_content(who("KEMENPPPA"), x)  # not accepted yet
    accepted = c.accept_referral(x, x.referrals[0].id, "KEMENPPPA", T0)
    assert can_read_content(who("KEMENPPPA"), accepted)
    with pytest.raises(Forbidden) as refused:
        require_content(who("KP2MI"), x)
    assert refused.value.details["reason"] == "restricted_case"
    with pytest.raises(PurposeRequired):
        require_content(who("BP3MI", "16", purpose=None), x)
    with pytest.raises(Forbidden):
        require_content(who("BP3MI", "16", purpose=Purpose.STATISTICS), x)


def test_only_a_reader_of_a_restricted_case_decides_who_reads_it_next() -> None:
    opened = case(confidentiality=Confidentiality.RESTRICTED, owner_agency="BP3MI")
    lowered = c.triage(opened, T0, confidentiality=Confidentiality.STANDARD, clocks=CLOCKS)
    with pytest.raises(Forbidden):  # DISNAKER sees it (its region) but does not read it
        require_declassifier(who("DISNAKER", "16.06"), opened, lowered)
    require_declassifier(who("BP3MI", "16"), opened, lowered)  # the holder
    taken = c.triage(opened, T0, owner="DISNAKER", confidentiality=Confidentiality.STANDARD, clocks=CLOCKS)
    require_declassifier(who("DISNAKER", "16.06"), opened, taken)  # the intake names it the holder
    require_declassifier(who("DISNAKER", "16.06"), case(), c.triage(case(), T0, clocks=CLOCKS))  # nothing lowered
    triaged = c.triage(opened, T0, clocks=CLOCKS)
    with pytest.raises(Forbidden):
        require_reader(who("DISNAKER", "16.06"), triaged, "refers")
    require_reader(who("BP3MI", "16"), triaged, "refers")
    require_reader(who("DISNAKER", "16.06"), replace(triaged, confidentiality=Confidentiality.STANDARD), "refers")
