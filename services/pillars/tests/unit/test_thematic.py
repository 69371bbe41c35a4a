"""Thematic statuses: the owner table, the rules of setting and ending (domain/thematic.py), and the use cases on an
in-memory unit of work: only the owner sets or ends, inside its region, each change published once, a refusal or a
repeat publishing nothing. (The same on PostgreSQL: tests/integration/test_thematic_db.py.)"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from demimas_common.auth.principal import Agency
from demimas_common.errors import BadUserInput, Conflict, DemimasError, Forbidden, NotFound
from demimas_common.events.schemas import validate_data
from demimas_pillars.domain.commands import EndThematicStatus, SetThematicStatus
from demimas_pillars.domain.thematic import PROGRAMME_OWNERS, end_status, require_owner, set_status
from demimas_pillars.domain.vocabulary import ThematicProgramme, ThematicStatusState
from demimas_pillars.service_layer.thematic import end_thematic_status, set_thematic_status

from .fakes import NOW, TODAY, FakePillarsUoW, act, principal

ULAK_PACEH, KALIGOWONG = "16.06.13.2001", "33.07.01.2001"
_T = ThematicProgramme


def test_every_programme_has_exactly_the_owner_the_contract_names() -> None:
    assert PROGRAMME_OWNERS == {
        _T.DRPPA: Agency.KEMENPPPA,
        _T.DESA_BERSINAR: Agency.BNN,
        _T.DESA_TEMATIK: Agency.KEMENDES,
        _T.BUMDES: Agency.KEMENDES,
        _T.DESA_BINAAN_IMIGRASI: Agency.KEMENIMIPAS,
        _T.DESA_SIAP_SIAGA: Agency.KEMENKO_POLKAM,
    }


@pytest.mark.parametrize("agency", [a for a in Agency if a is not Agency.KEMENPPPA])
def test_only_the_owner_passes_the_owner_rule(agency: Agency) -> None:
    require_owner(Agency.KEMENPPPA, _T.DRPPA)
    with pytest.raises(Forbidden) as refused:
        require_owner(agency, _T.DRPPA)
    assert refused.value.extensions["reason"] == "not_programme_owner"
    assert "only KEMENPPPA" in str(refused.value)


def _set(current: object = None, **changes: object) -> object:
    values: dict[str, object] = {"new_id": uuid.uuid4(), "village_code": ULAK_PACEH, "programme": _T.DRPPA,
                                 "since": TODAY - dt.timedelta(days=30), "reference": "SK 12/2026",
                                 "today": TODAY, "at": NOW}  # fmt: skip
    return set_status(current, **(values | changes))  # type: ignore[arg-type]


def test_a_new_status_is_active_version_one_of_the_owner_with_the_reference_tidied() -> None:
    s = _set(reference="  SK   12/2026 ")
    assert s is not None
    assert (s.status, s.version, s.agency, s.reference) == (ThematicStatusState.ACTIVE, 1, "KEMENPPPA", "SK 12/2026")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reference": "SK"}, "reference"),
        ({"reference": "   "}, "reference"),
        ({"reference": "x" * 101}, "reference"),
        ({"since": TODAY + dt.timedelta(days=1)}, "since"),
    ],
)
def test_a_bad_reference_or_a_day_in_the_future_is_refused_with_its_field(changes: dict[str, object],
                                                                           field: str) -> None:  # fmt: skip
    with pytest.raises(BadUserInput) as refused:
        _set(**changes)
    assert refused.value.extensions["field"] == field


def test_the_reference_may_have_three_to_a_hundred_characters_and_since_may_be_today() -> None:
    assert _set(reference="abc", since=TODAY) is not None
    assert _set(reference="x" * 100) is not None


def test_setting_again_while_active_corrects_and_counts_a_version_and_the_same_again_changes_nothing() -> None:
    first = _set()
    corrected = _set(first, reference="SK 13/2026", since=TODAY - dt.timedelta(days=40))
    assert corrected is not None
    assert first is not None
    assert (corrected.id, corrected.version, corrected.reference) == (first.id, 2, "SK 13/2026")
    assert _set(corrected, reference="SK 13/2026", since=TODAY - dt.timedelta(days=40)) is None


def test_ending_checks_the_day_and_the_reason_and_ends_once() -> None:
    s = _set(since=TODAY - dt.timedelta(days=10))
    assert s is not None
    for ended_on, reason, field in ((TODAY + dt.timedelta(days=1), "programme closed", "endedOn"),
                                    (TODAY - dt.timedelta(days=11), "programme closed", "endedOn"),
                                    (TODAY, "no", "reason")):  # fmt: skip
        with pytest.raises(BadUserInput) as refused:
            end_status(s, ended_on=ended_on, reason=reason, today=TODAY, at=NOW)
        assert refused.value.extensions["field"] == field
    ended = end_status(s, ended_on=TODAY, reason="programme closed", today=TODAY, at=NOW)
    assert (ended.status, ended.version, ended.ended_on) == (ThematicStatusState.ENDED, 2, TODAY)
    with pytest.raises(Conflict) as again:
        end_status(ended, ended_on=TODAY, reason="programme closed", today=TODAY, at=NOW)
    assert again.value.extensions["reason"] == "already_ended"


# --- the use cases


def cmd(programme: ThematicProgramme = _T.DRPPA, village: str = ULAK_PACEH, reference: str = "SK 12/2026",
        since: dt.date = TODAY - dt.timedelta(days=30)) -> SetThematicStatus:  # fmt: skip
    return SetThematicStatus(village, programme, since, reference)


async def test_the_owner_sets_a_status_and_its_event_carries_the_contract_fields() -> None:
    uow = FakePillarsUoW()
    s = await act(uow, principal("KEMENPPPA"), set_thematic_status, cmd())
    assert list(uow.thematic.rows) == [s.id]
    assert uow.types() == ["demimas.pillars.thematic_status.set"]
    event = uow.published[0]
    assert event.subject == str(s.id)
    assert event.data == {"statusId": str(s.id), "villageCode": ULAK_PACEH, "programme": "DRPPA",
                          "agency": "KEMENPPPA", "since": (TODAY - dt.timedelta(days=30)).isoformat(),
                          "reference": "SK 12/2026", "status": "ACTIVE", "version": 1}  # fmt: skip
    assert (event.actoragency, event.actorsub) == ("KEMENPPPA", "sub-kemenpppa")


async def test_kemenko_polkam_records_desa_siap_siaga_with_pilot_write_alone() -> None:
    uow = FakePillarsUoW()
    s = await act(uow, principal("KEMENKO_POLKAM"), set_thematic_status, cmd(_T.DESA_SIAP_SIAGA))
    assert s.agency == "KEMENKO_POLKAM"


@pytest.mark.parametrize(
    ("who", "command", "error", "details"),
    [
        (("KP2MI",), cmd(), Forbidden, {"reason": "not_programme_owner"}),  # KP2MI may not set others' programmes
        (("BNN",), cmd(), Forbidden, {"reason": "not_programme_owner"}),
        (("KEMENKO_POLKAM",), cmd(_T.DESA_TEMATIK), Forbidden, {"reason": "not_programme_owner"}),
        (("AUDITOR",), cmd(), Forbidden, {"required_scope": "pillars:write"}),  # no write scope at all
        (("KEMENPPPA", "33"), cmd(), Forbidden, {"field": "villageCode"}),  # outside its region
        (("KEMENPPPA",), cmd(village="16.06.13.9999"), BadUserInput, {"field": "villageCode"}),  # not a village
        (("KEMENPPPA",), cmd(reference="x"), BadUserInput, {"field": "reference"}),
    ],
)
async def test_refusals_write_and_publish_nothing(
    who: tuple[str, ...], command: SetThematicStatus, error: type[DemimasError], details: dict[str, str]
) -> None:
    uow = FakePillarsUoW()
    with pytest.raises(error) as refused:
        await act(uow, principal(*who), set_thematic_status, command)
    assert details.items() <= refused.value.extensions.items()
    assert uow.thematic.rows == {}
    assert uow.published == []


async def test_a_regional_owner_sets_inside_its_region() -> None:
    uow = FakePillarsUoW()
    s = await act(uow, principal("KEMENPPPA", "16.06"), set_thematic_status, cmd())
    assert s.village_code == ULAK_PACEH


async def test_setting_again_updates_the_active_status_and_a_repeat_publishes_nothing() -> None:
    uow = FakePillarsUoW()
    pppa = principal("KEMENPPPA")
    first = await act(uow, pppa, set_thematic_status, cmd())
    second = await act(uow, pppa, set_thematic_status, cmd(reference="SK 14/2026"))
    again = await act(uow, pppa, set_thematic_status, cmd(reference="SK 14/2026"))
    assert first.id == second.id == again.id
    assert (second.version, again.version) == (2, 2)
    assert len(uow.thematic.rows) == 1
    assert [e.data["version"] for e in uow.published] == [1, 2]


async def test_the_owner_ends_a_status_and_a_new_one_may_begin_after_it() -> None:
    uow = FakePillarsUoW()
    bnn = principal("BNN")
    s = await act(uow, bnn, set_thematic_status, cmd(_T.DESA_BERSINAR))
    ended = await act(uow, bnn, end_thematic_status, EndThematicStatus(s.id, TODAY, "programme evaluated and closed"))
    assert (ended.status, ended.version, ended.end_reason) == (
        ThematicStatusState.ENDED,
        2,
        "programme evaluated and closed",
    )
    assert uow.types() == ["demimas.pillars.thematic_status.set", "demimas.pillars.thematic_status.ended"]
    assert uow.published[1].data["endedOn"] == TODAY.isoformat()
    for event in uow.published:
        validate_data(event.type, event.data)
    renewed = await act(uow, bnn, set_thematic_status, cmd(_T.DESA_BERSINAR, since=TODAY))
    assert renewed.id != s.id
    assert renewed.version == 1


async def test_ending_is_for_the_owner_and_an_id_outside_the_region_answers_as_an_unknown_one() -> None:
    uow = FakePillarsUoW()
    s = await act(uow, principal("KEMENDES"), set_thematic_status, cmd(_T.DESA_TEMATIK, KALIGOWONG))
    end = EndThematicStatus(s.id, TODAY, "programme closed")
    with pytest.raises(Forbidden) as refused:
        await act(uow, principal("KP2MI"), end_thematic_status, end)
    assert refused.value.extensions["reason"] == "not_programme_owner"
    nobody = uuid.uuid4()
    answers = []
    for status_id in (s.id, nobody):
        with pytest.raises(NotFound) as hidden:
            await act(
                uow, principal("KEMENDES", "16"), end_thematic_status, EndThematicStatus(status_id, TODAY, "closed")
            )
        answers.append((str(hidden.value).replace(str(status_id), "<id>"), hidden.value.extensions))
    assert answers[0] == answers[1] == ("no thematic status <id>", {"code": "NOT_FOUND", "field": "id"})
    assert uow.types() == ["demimas.pillars.thematic_status.set"]
