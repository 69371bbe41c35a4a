"""The registry's use cases on an in-memory unit of work (conftest.py): who may do what where, what is refused,
which events are published (only on commit), and how the village counters move. The same rules run on
PostgreSQL in tests/integration."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal, Purpose
from demimas_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from demimas_registry.domain.commands import (
    AddFamilyMember,
    RecordDeparture,
    RecordPersonalDataAccess,
    RecordReturn,
    RegisterWorker,
    UpdateWorker,
)
from demimas_registry.domain.registration import NOT_REGISTRABLE
from demimas_registry.domain.vocabulary import EducationLevel, PlacementScheme, Relation, ReturnReason, Sector, Sex
from demimas_registry.service_layer import handlers

KP2MI = Principal("kp2mi", Agency.KP2MI, DEFAULT_GRANTS[Agency.KP2MI])
MUBA = Principal("muba", Agency.DISNAKER, DEFAULT_GRANTS[Agency.DISNAKER], region="16.06")  # no family:read
SUMSEL = Principal("sumsel", Agency.BP3MI, DEFAULT_GRANTS[Agency.BP3MI], region="16")
KEMENPPPA = Principal("kemenpppa", Agency.KEMENPPPA, DEFAULT_GRANTS[Agency.KEMENPPPA])  # reads, never writes
HOME, NEIGHBOUR, ELSEWHERE = "16.06.13.2001", "16.06.13.2002", "35.07.01.2001"


def siti(village_code: str = HOME) -> RegisterWorker:
    return RegisterWorker(
        nik="1606135508950001", full_name="Siti Aminah", sex=Sex.FEMALE, birth_date=dt.date(1995, 8, 15),
        education=EducationLevel.SMK, village_code=village_code,
    )  # fmt: skip


def departure(worker_id: uuid.UUID, **changes: Any) -> RecordDeparture:
    cmd = RecordDeparture(
        worker_id=worker_id, destination_country="MY", sector=Sector.FORMAL, occupation="Operator produksi",
        scheme=PlacementScheme.P_TO_P, procedural=True, departure_date=dt.date(2024, 1, 10),
    )  # fmt: skip
    return replace(cmd, **changes)


async def registered(uow: Any, principal: Principal = KP2MI, village_code: str = HOME) -> uuid.UUID:
    async with uow:
        worker = await handlers.register_worker(siti(village_code), uow, principal)
    uow.published.clear()
    return worker.id


class TestRegisterWorker:
    async def test_a_candidate_is_stored_counted_and_announced(self, uow: Any, workers: Any) -> None:
        async with uow:
            worker = await handlers.register_worker(siti(), uow, MUBA)
        assert worker.id in workers.workers
        assert workers.counters(HOME) == {("status", "CANDIDATE"): 1, ("education", "SMK"): 1, ("sex", "FEMALE"): 1}
        assert uow.types() == ["demimas.registry.worker.registered"]
        assert (uow.published[0].actoragency, uow.published[0].actorsub) == ("DISNAKER", "muba")

    async def test_without_registry_write_nothing_happens(self, uow: Any, workers: Any) -> None:
        async with uow:
            with pytest.raises(Forbidden) as caught:
                await handlers.register_worker(siti(), uow, KEMENPPPA)
        assert caught.value.details["required_scope"] == "registry:write"
        assert (workers.workers, uow.published, uow.commits) == ({}, [], 0)

    async def test_outside_the_callers_region_is_forbidden(self, uow: Any, workers: Any) -> None:
        async with uow:
            with pytest.raises(Forbidden) as caught:
                await handlers.register_worker(siti(ELSEWHERE), uow, MUBA)
        assert caught.value.field == "villageCode"
        assert (workers.workers, uow.published) == ({}, [])

    async def test_a_village_not_in_the_reference_is_bad_input(self, uow: Any, workers: Any) -> None:
        async with uow:
            with pytest.raises(BadUserInput, match="Kemendagri reference"):
                await handlers.register_worker(siti("16.06.13.2999"), uow, KP2MI)
        assert (workers.workers, uow.published) == ({}, [])

    async def test_a_nik_registered_inside_the_region_is_a_conflict_naming_the_worker(self, uow: Any) -> None:
        existing = await registered(uow, village_code=NEIGHBOUR)
        async with uow:
            with pytest.raises(Conflict) as caught:
                await handlers.register_worker(siti(), uow, replace(MUBA, purpose=Purpose.PLACEMENT_SERVICE))
        assert caught.value.details["workerId"] == str(existing)
        assert uow.published == []

    async def test_the_conflict_names_nobody_without_a_purpose(self, uow: Any) -> None:
        """Naming who holds a NIK is a lookup by NIK: registry:read, pii:read and a purpose, as workerByNik."""
        existing = await registered(uow, village_code=NEIGHBOUR)
        async with uow:
            with pytest.raises(Conflict) as caught:
                await handlers.register_worker(siti(), uow, MUBA)
        assert "workerId" not in caught.value.details
        assert str(existing) not in caught.value.message

    async def test_a_nik_registered_elsewhere_is_not_registrable_and_the_attempt_is_recorded(
        self, uow: Any, workers: Any
    ) -> None:
        existing = await registered(uow, village_code=ELSEWHERE)
        async with uow:
            with pytest.raises(Forbidden) as caught:
                await handlers.register_worker(siti(), uow, MUBA)
        assert caught.value.details["reason"] == NOT_REGISTRABLE
        assert str(existing) not in caught.value.message
        assert ELSEWHERE not in caught.value.message
        assert uow.types() == ["demimas.registry.registration.refused"]
        refused = uow.published[0]
        assert (refused.subject, refused.data["villageCode"], refused.data["via"]) == (
            str(existing), HOME, "registerWorker"
        )  # fmt: skip
        assert workers.counters(HOME) == {}


class TestUpdateWorker:
    async def test_a_stale_version_is_a_conflict_and_nothing_changes(self, uow: Any, workers: Any) -> None:
        worker_id = await registered(uow)
        async with uow:
            await handlers.update_worker(UpdateWorker(worker_id, expected_version=1, full_name="Siti A."), uow, KP2MI)
        uow.published.clear()
        async with uow:
            with pytest.raises(Conflict) as caught:
                await handlers.update_worker(UpdateWorker(worker_id, expected_version=1, phone=""), uow, KP2MI)
        assert caught.value.field == "expectedVersion"
        assert uow.published == []
        assert workers.workers[worker_id].version == 2

    async def test_a_worker_of_another_region_is_not_found(self, uow: Any) -> None:
        worker_id = await registered(uow, village_code=ELSEWHERE)
        async with uow:
            with pytest.raises(NotFound):
                await handlers.update_worker(UpdateWorker(worker_id, full_name="X"), uow, MUBA)
        assert uow.published == []

    async def test_a_move_names_the_previous_village_and_moves_the_counters(self, uow: Any, workers: Any) -> None:
        worker_id = await registered(uow)
        async with uow:
            worker = await handlers.update_worker(UpdateWorker(worker_id, village_code=NEIGHBOUR), uow, MUBA)
        assert (worker.village_code, worker.version) == (NEIGHBOUR, 2)
        assert uow.types() == ["demimas.registry.worker.updated"]
        assert uow.published[0].data["previousVillageCode"] == HOME
        assert (workers.counters(HOME), workers.counters(NEIGHBOUR)) == (
            {}, {("status", "CANDIDATE"): 1, ("education", "SMK"): 1, ("sex", "FEMALE"): 1}
        )  # fmt: skip

    async def test_a_move_out_of_the_region_is_forbidden(self, uow: Any, workers: Any) -> None:
        worker_id = await registered(uow)
        async with uow:
            with pytest.raises(Forbidden):
                await handlers.update_worker(UpdateWorker(worker_id, village_code=ELSEWHERE), uow, MUBA)
        assert uow.published == []
        assert workers.workers[worker_id].village_code == HOME


class TestMovements:
    async def test_departure_then_return(self, uow: Any, workers: Any) -> None:
        worker_id = await registered(uow)
        async with uow:
            abroad = await handlers.record_departure(
                departure(worker_id, expected_version=1, occupation_code="8189"), uow, MUBA
            )
        assert abroad.status.value == "ABROAD"
        assert workers.counters(HOME) == {
            ("status", "ABROAD"): 1, ("destination", "MY"): 1, ("scheme", "P_TO_P"): 1, ("departed", "ever"): 1,
            ("departed", "procedural"): 1, ("education", "SMK"): 1, ("sex", "FEMALE"): 1, ("sector", "FORMAL"): 1,
            ("occupation", "8"): 1,
        }  # fmt: skip
        ret = RecordReturn(worker_id, dt.date(2026, 1, 5), ReturnReason.CONTRACT_ENDED, expected_version=2)
        async with uow:
            back = await handlers.record_return(ret, uow, MUBA)
        assert (back.status.value, back.version) == ("RETURNED", 3)
        assert uow.types() == ["demimas.registry.worker.departed", "demimas.registry.worker.returned"]
        departed, returned = uow.published
        assert (departed.data["destinationCountry"], departed.data["procedural"]) == ("MY", True)
        assert returned.data["reason"] == "CONTRACT_ENDED"
        assert workers.returns[0].departure_id == workers.departures[0].id
        assert workers.counters(HOME)[("status", "RETURNED")] == 1
        assert ("occupation", "8") not in workers.counters(HOME)  # counted while abroad only
        assert ("sector", "FORMAL") not in workers.counters(HOME)

    async def test_a_refused_departure_publishes_nothing(self, uow: Any) -> None:
        worker_id = await registered(uow)
        async with uow:
            await handlers.record_departure(departure(worker_id), uow, KP2MI)
        uow.published.clear()
        async with uow:
            with pytest.raises(BadUserInput, match="already abroad"):
                await handlers.record_departure(departure(worker_id), uow, KP2MI)
        assert uow.published == []


class TestFamily:
    def member(self, worker_id: uuid.UUID) -> AddFamilyMember:
        return AddFamilyMember(worker_id, Relation.PARENT, "Sumarni", dt.date(1960, 5, 1))

    async def test_adding_a_member_needs_family_read(self, uow: Any, workers: Any) -> None:
        worker_id = await registered(uow)
        async with uow:
            with pytest.raises(Forbidden) as caught:
                await handlers.add_family_member(self.member(worker_id), uow, MUBA)
        assert caught.value.details["required_scope"] == "family:read"
        assert (workers.family, uow.published) == ([], [])

    async def test_a_member_is_stored_and_announced_without_personal_data(self, uow: Any, workers: Any) -> None:
        worker_id = await registered(uow)
        async with uow:
            member = await handlers.add_family_member(self.member(worker_id), uow, SUMSEL)
        assert workers.family == [member]
        assert uow.types() == ["demimas.registry.family.added"]
        assert uow.published[0].data == {
            "familyMemberId": str(member.id), "workerId": str(worker_id), "relation": "PARENT", "minor": False,
            "villageCode": HOME,
        }  # fmt: skip


class TestPersonalDataAccess:
    workers = (str(uuid.uuid4()), str(uuid.uuid4()))
    record = RecordPersonalDataAccess(worker_ids=workers, fields=("nik", "phone"), operation="Case")

    async def test_a_read_without_a_purpose_is_not_recorded(self, uow: Any) -> None:
        async with uow:
            with pytest.raises(Forbidden):
                await handlers.record_personal_data_access(self.record, uow, KP2MI)
        assert uow.published == []

    async def test_the_record_names_who_why_whom_and_what(self, uow: Any) -> None:
        async with uow:
            await handlers.record_personal_data_access(self.record, uow, KP2MI.with_purpose(Purpose.AUDIT))
        (event,) = uow.published
        assert (event.type, event.subject) == ("demimas.registry.personal_data.accessed", "batch:2")
        assert event.data == {
            "agency": "KP2MI", "subject": "kp2mi", "purpose": "AUDIT", "workerIds": list(self.workers),
            "fields": ["nik", "phone"], "operation": "Case",
        }  # fmt: skip
