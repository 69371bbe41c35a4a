"""The content gate: reads of one execution step are recorded as one `demimas.cases.personal_data.accessed` event
before any value leaves, naming the registered people of the cases read whichever content field was read; a
refused read records nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import cast

import pytest

from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.domain.case import Case, Person, Reporter
from demimas_cases.domain.vocabulary import (
    CaseChannel,
    CaseKind,
    CasePhase,
    CaseStatus,
    Confidentiality,
    PersonRole,
)
from demimas_cases.entrypoints.graphql.content import ContentGate
from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal, Purpose
from demimas_common.db.fake_uow import FakeUnitOfWork
from demimas_common.errors import Forbidden

T0 = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
WORKER, CHILD = uuid.uuid4(), uuid.uuid4()


def case(confidentiality: Confidentiality = Confidentiality.STANDARD) -> Case:
    people = (Person(PersonRole.WORKER, id=WORKER), Person(PersonRole.FAMILY_MEMBER, id=CHILD, minor=True),
              Person(PersonRole.UNREGISTERED, name="Ani"))  # fmt: skip
    return Case(
        id=uuid.uuid4(), kind=CaseKind.ABUSE_ABROAD, phase=CasePhase.ABROAD, channel=CaseChannel.HOTLINE,
        village_code="16.06.13.2001", destination_country="MY", owner_agency="DISNAKER", opened_by="DISNAKER",
        confidentiality=confidentiality, status=CaseStatus.OPEN, version=1, people=people,
        reporter=Reporter(anonymous=True), description="Beaten by the employer in Johor.", opened_at=T0,
        triage_due_at=T0, resolution_due_at=T0,
    )  # fmt: skip


def gate(agency: str, region: str | None = None) -> tuple[ContentGate, FakeUnitOfWork]:
    a = Agency(agency)
    principal = Principal(f"sub-{agency.lower()}", a, DEFAULT_GRANTS[a], region, Purpose.PROTECTION_CASE)
    uow = FakeUnitOfWork(actor=principal.actor)
    unit_of_work = cast("Callable[[], CasesUnitOfWork]", lambda: uow)  # the fake stands in for the real one
    return ContentGate(unit_of_work, principal, operation=lambda: "Read"), uow


@pytest.mark.parametrize("field", ["description", "notes", "resolution", "reporter", "referrals.reason"])
async def test_a_read_of_any_content_field_names_the_registered_people_of_the_case(field: str) -> None:
    content, uow = gate("KP2MI")
    c = case()
    await content.gate(c, field)
    [event] = uow.published
    assert event.type == "demimas.cases.personal_data.accessed"
    assert event.data == {
        "agency": "KP2MI", "subject": "sub-kp2mi", "purpose": "PROTECTION_CASE", "caseIds": [str(c.id)],
        "fields": [field], "workerIds": [str(WORKER)], "familyMemberIds": [str(CHILD)], "operation": "Read",
    }  # fmt: skip


async def test_reads_of_one_step_are_one_record() -> None:
    content, uow = gate("BP3MI", "16")
    first, second = case(), case()
    await asyncio.gather(content.gate(first, "description"), content.gate(second, "people"),
                         content.gate(first, "notes"))  # fmt: skip
    [event] = uow.published
    assert event.subject == "batch:2"
    assert (event.data["caseIds"], event.data["fields"]) == ([str(first.id), str(second.id)],
                                                             ["description", "notes", "people"])  # fmt: skip
    assert event.data["workerIds"] == [str(WORKER)]


async def test_a_refused_read_records_nothing() -> None:
    content, uow = gate("BP3MI", "16")
    with pytest.raises(Forbidden) as refused:
        await content.gate(case(Confidentiality.RESTRICTED), "description")
    assert refused.value.details["reason"] == "restricted_case"
    assert uow.published == []
