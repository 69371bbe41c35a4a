"""Thematic statuses: which villages are in which partner ministry's thematic-village programme (Desa Tematik K/L),
since when and under which decree or letter, so that pilot sites can be chosen where Demimas and the programmes meet
(Kemenko Polkam, 19 Feb 2026).

Each programme has one owning agency, the only one that sets or ends its statuses (`PROGRAMME_OWNERS`). A village has
at most one ACTIVE status per programme: setting it again while it is active corrects the day or the reference (a new
version); after it ended, setting it again starts a new status. Pure: the service layer
(service_layer/thematic.py) loads and stores them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from demimas_common.auth.principal import Agency
from demimas_common.errors import BadUserInput, Conflict, Forbidden
from demimas_pillars.domain.vocabulary import ThematicProgramme, ThematicStatusState

__all__ = [
    "PROGRAMME_OWNERS",
    "ThematicStatus",
    "end_status",
    "owner_of",
    "require_owner",
    "set_status",
]

_T, _A = ThematicProgramme, Agency
PROGRAMME_OWNERS: dict[ThematicProgramme, Agency] = {
    _T.DRPPA: _A.KEMENPPPA,  # Desa Ramah Perempuan dan Peduli Anak
    _T.DESA_BERSINAR: _A.BNN,  # Desa Bersih Narkoba
    _T.DESA_TEMATIK: _A.KEMENDES,
    _T.BUMDES: _A.KEMENDES,
    _T.DESA_BINAAN_IMIGRASI: _A.KEMENIMIPAS,
    # BNPT's programme; BNPT has no token in this system: Kemenko Polkam, which coordinates it, records its statuses
    _T.DESA_SIAP_SIAGA: _A.KEMENKO_POLKAM,
}
"""The one agency that sets and ends each programme's statuses (docs/pillars.md#thematic-statuses)."""

REFERENCE_LENGTH = (3, 100)
REASON_LENGTH = (3, 500)


@dataclass(frozen=True)
class ThematicStatus:
    id: uuid.UUID
    village_code: str
    programme: ThematicProgramme
    agency: str
    since: dt.date
    reference: str
    """The decree or letter that put the village in the programme (a number, never a person's name)."""
    status: ThematicStatusState
    version: int
    updated_at: dt.datetime
    ended_on: dt.date | None = None
    end_reason: str | None = None


def owner_of(programme: ThematicProgramme) -> Agency:
    return PROGRAMME_OWNERS[programme]


def require_owner(agency: Agency, programme: ThematicProgramme) -> None:
    """FORBIDDEN (`not_programme_owner`) unless `agency` owns the programme."""
    owner = owner_of(programme)
    if agency is not owner:
        raise Forbidden(
            f"only {owner.value} sets or ends {programme.value} statuses; {agency.value} does not own the programme",
            field="programme",
            reason="not_programme_owner",
        )


def _text(value: str, field: str, what: str, bounds: tuple[int, int]) -> str:
    text = " ".join((value or "").split())
    low, high = bounds
    if not low <= len(text) <= high:
        raise BadUserInput(f"{what} must have {low} to {high} characters (it has {len(text)})", field=field)
    return text


def _day(value: dt.date, field: str, today: dt.date) -> dt.date:
    if value > today:
        raise BadUserInput(f"{field} {value} is in the future (today is {today})", field=field)
    return value


def set_status(
    current: ThematicStatus | None,
    *,
    new_id: uuid.UUID,
    village_code: str,
    programme: ThematicProgramme,
    since: dt.date,
    reference: str,
    today: dt.date,
    at: dt.datetime,
) -> ThematicStatus | None:
    """The village's status in the programme after setting it: a new ACTIVE status (version 1) when there is no
    active one, else the active one with the new day and reference (version + 1). None when the active one already
    says exactly that (a retry: nothing changes, nothing is published). `current` is the village's ACTIVE status in
    the programme, if any."""
    reference = _text(reference, "reference", "reference (the decree or letter number)", REFERENCE_LENGTH)
    since = _day(since, "since", today)
    if current is None:
        return ThematicStatus(new_id, village_code, programme, owner_of(programme).value, since, reference,
                              ThematicStatusState.ACTIVE, 1, at)  # fmt: skip
    assert current.status is ThematicStatusState.ACTIVE
    assert current.programme is programme
    if (current.since, current.reference) == (since, reference):
        return None
    return replace(current, since=since, reference=reference, version=current.version + 1, updated_at=at)


def end_status(
    current: ThematicStatus, *, ended_on: dt.date, reason: str, today: dt.date, at: dt.datetime
) -> ThematicStatus:
    """The status ended on `ended_on` (not before it began, not in the future) for `reason`; CONFLICT
    (`already_ended`) when it has ended already."""
    if current.status is ThematicStatusState.ENDED:
        raise Conflict(f"this status already ended on {current.ended_on}", reason="already_ended")
    reason = _text(reason, "reason", "reason", REASON_LENGTH)
    ended_on = _day(ended_on, "endedOn", today)
    if ended_on < current.since:
        raise BadUserInput(f"endedOn {ended_on} is before the status began ({current.since})", field="endedOn")
    return replace(current, status=ThematicStatusState.ENDED, ended_on=ended_on, end_reason=reason,
                   version=current.version + 1, updated_at=at)  # fmt: skip
