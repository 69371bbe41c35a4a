"""The worker aggregate: CANDIDATE -> ABROAD -> RETURNED -> ABROAD, versions, and the rules on movements."""

import datetime as dt
import uuid
from dataclasses import replace

import pytest

from demimas_common.errors import BadUserInput
from demimas_registry.domain.commands import AddFamilyMember, RecordDeparture, RecordReturn, RegisterWorker
from demimas_registry.domain.factories import new_departure, new_family_member, new_return, new_worker
from demimas_registry.domain.model import Consent
from demimas_registry.domain.vocabulary import (
    ConsentGiver,
    EducationLevel,
    PlacementScheme,
    Relation,
    ReturnReason,
    Sector,
    Sex,
    WorkerStatus,
)

TODAY = dt.date(2026, 11, 22)
BORN = dt.date(1995, 8, 15)


def register() -> RegisterWorker:
    return RegisterWorker(
        nik="1606135508950001",
        full_name="Siti Aminah",
        sex=Sex.FEMALE,
        birth_date=BORN,
        education=EducationLevel.SMK,
        village_code="16.06.13.2001",
        phone="081234567890",
    )


def departure(worker_id: uuid.UUID, on: dt.date = dt.date(2024, 1, 10)) -> RecordDeparture:
    return RecordDeparture(
        worker_id=worker_id,
        destination_country="MY",
        sector=Sector.FORMAL,
        occupation="Operator produksi",
        scheme=PlacementScheme.P_TO_P,
        procedural=True,
        departure_date=on,
        contract_end=on + dt.timedelta(days=730),
    )


class TestRegisterWorker:
    def test_a_new_worker_is_a_candidate_at_version_one(self) -> None:
        worker = new_worker(register(), today=TODAY)
        assert (worker.status, worker.version, worker.phone) == (WorkerStatus.CANDIDATE, 1, "+6281234567890")

    def test_minors_cannot_register_as_workers(self) -> None:
        born = dt.date(2010, 1, 1)
        cmd = RegisterWorker(
            nik="1606130101100001", full_name="Anak", sex=Sex.MALE, birth_date=born,
            education=EducationLevel.SMP, village_code="16.06.13.2001",
        )  # fmt: skip
        with pytest.raises(BadUserInput, match="at least 18") as caught:
            new_worker(cmd, today=TODAY)
        assert caught.value.field == "birthDate"


class TestMovements:
    def test_depart_return_and_depart_again(self) -> None:
        worker = new_worker(register(), today=TODAY)
        worker.depart(new_departure(departure(worker.id), today=TODAY))
        assert (worker.status, worker.version) == (WorkerStatus.ABROAD, 2)
        ret = RecordReturn(worker_id=worker.id, return_date=dt.date(2026, 1, 5), reason=ReturnReason.CONTRACT_ENDED)
        worker.return_home(new_return(ret, worker.latest_departure.id if worker.latest_departure else None))
        assert (worker.status, worker.version) == (WorkerStatus.RETURNED, 3)
        worker.depart(new_departure(departure(worker.id, dt.date(2026, 3, 1)), today=TODAY))
        assert (worker.status, worker.version) == (WorkerStatus.ABROAD, 4)

    def test_cannot_depart_twice(self) -> None:
        worker = new_worker(register(), today=TODAY)
        worker.depart(new_departure(departure(worker.id), today=TODAY))
        with pytest.raises(BadUserInput, match="already abroad"):
            worker.depart(new_departure(departure(worker.id), today=TODAY))

    def test_a_candidate_cannot_return(self) -> None:
        worker = new_worker(register(), today=TODAY)
        ret = RecordReturn(worker_id=worker.id, return_date=dt.date(2026, 1, 5), reason=ReturnReason.OTHER)
        with pytest.raises(BadUserInput, match="only a worker abroad"):
            worker.return_home(new_return(ret, None))

    def test_return_before_departure_is_refused(self) -> None:
        worker = new_worker(register(), today=TODAY)
        worker.depart(new_departure(departure(worker.id), today=TODAY))
        ret = RecordReturn(worker_id=worker.id, return_date=dt.date(2023, 1, 5), reason=ReturnReason.OTHER)
        with pytest.raises(BadUserInput, match="before the departure") as caught:
            worker.return_home(new_return(ret, None))
        assert caught.value.field == "returnDate"

    def test_future_departure_is_refused(self) -> None:
        with pytest.raises(BadUserInput, match="future"):
            new_departure(departure(uuid.uuid4(), TODAY + dt.timedelta(days=3)), today=TODAY)

    def test_contract_must_end_after_departure(self) -> None:
        worker = new_worker(register(), today=TODAY)
        cmd = departure(worker.id)
        bad = replace(cmd, contract_end=cmd.departure_date)
        with pytest.raises(BadUserInput, match="contractEnd"):
            worker.depart(new_departure(bad, today=TODAY))


class TestFamily:
    def test_a_child_needs_consent(self) -> None:
        cmd = AddFamilyMember(
            worker_id=uuid.uuid4(), relation=Relation.CHILD, full_name="Putri", birth_date=dt.date(2018, 5, 1)
        )
        with pytest.raises(BadUserInput, match="consent") as caught:
            new_family_member(cmd, today=TODAY)
        assert caught.value.field == "consent"

    def test_a_child_with_consent_is_recorded_as_minor(self) -> None:
        consent = Consent(given_by=ConsentGiver.PARENT, date=dt.date(2026, 1, 1), basis="Formulir persetujuan 12/2026")
        cmd = AddFamilyMember(
            worker_id=uuid.uuid4(), relation=Relation.CHILD, full_name="Putri", birth_date=dt.date(2018, 5, 1),
            consent=consent,
        )  # fmt: skip
        member = new_family_member(cmd, today=TODAY)
        assert member.minor
        assert member.consent is not None

    def test_an_adult_needs_no_consent(self) -> None:
        cmd = AddFamilyMember(
            worker_id=uuid.uuid4(), relation=Relation.PARENT, full_name="Sumarni", birth_date=dt.date(1960, 5, 1)
        )
        assert not new_family_member(cmd, today=TODAY).minor
