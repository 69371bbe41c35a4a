"""A protection case and its lifecycle: OPEN -> TRIAGED -> REFERRED -> IN_PROGRESS -> RESOLVED -> CLOSED, and
REOPENED after a resolution; referrals to agencies or legal aid organisations, each answered (accepted or declined)
by the receiving side and, once accepted, completed with an outcome.

Every change is a pure function from the case as loaded to the case as it is to be saved (with `version` one
higher), raising CONFLICT (`illegal_transition`, ...) when the case is not in a state that allows it, and
BAD_USER_INPUT for a bad value. Who may ask for the change is domain/permissions.py; the clocks are clocks.py."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, replace

from demimas_cases.domain.clocks import Clocks
from demimas_cases.domain.vocabulary import (
    CaseChannel,
    CaseKind,
    CasePhase,
    CaseStatus,
    Confidentiality,
    OverdueKind,
    PersonRole,
    ReferralStatus,
    Sex,
)
from demimas_common.errors import BadUserInput, Conflict

__all__ = [
    "ACTIVE",
    "Case",
    "Note",
    "OverdueItem",
    "Person",
    "Referral",
    "Reporter",
    "accept_referral",
    "check_text",
    "close",
    "complete_referral",
    "decline_referral",
    "default_confidentiality",
    "holders",
    "new_case",
    "next_due",
    "overdue_items",
    "refer",
    "reopen",
    "resolve",
    "triage",
]

ACTIVE = frozenset(
    {CaseStatus.OPEN, CaseStatus.TRIAGED, CaseStatus.REFERRED, CaseStatus.IN_PROGRESS, CaseStatus.REOPENED}
)
"""Statuses whose resolution clock runs."""
REFERABLE = frozenset({CaseStatus.TRIAGED, CaseStatus.REFERRED, CaseStatus.IN_PROGRESS, CaseStatus.REOPENED})
RESOLVABLE = frozenset({CaseStatus.TRIAGED, CaseStatus.REFERRED, CaseStatus.IN_PROGRESS, CaseStatus.REOPENED})
MAX_PEOPLE = 20
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Person:
    """One person the case concerns: a registered worker or family member by id, or an unregistered person with
    minimal data (a name as known, sex, birth year)."""

    role: PersonRole
    id: uuid.UUID | None = None
    name: str | None = None
    sex: Sex | None = None
    birth_year: int | None = None
    minor: bool = False


@dataclass(frozen=True)
class Reporter:
    anonymous: bool
    name: str | None = None
    contact: str | None = None
    relation: str | None = None


@dataclass(frozen=True)
class Referral:
    id: uuid.UUID
    to_agency: str | None
    legal_aid_organisation_id: uuid.UUID | None
    reason: str
    referred_by: str
    referred_at: dt.datetime
    due_at: dt.datetime
    status: ReferralStatus = ReferralStatus.PENDING
    responded_at: dt.datetime | None = None
    responded_by: str | None = None
    decline_reason: str | None = None
    outcome: str | None = None
    outcome_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None

    @property
    def target(self) -> str:
        return self.to_agency or f"legal aid organisation {self.legal_aid_organisation_id}"

    @property
    def answering_agency(self) -> str:
        """Who answers for the receiving side: the agency referred to; for a legal aid organisation (which holds no
        token), the agency that referred, recording the organisation's answer."""
        return self.to_agency or self.referred_by


@dataclass(frozen=True)
class Note:
    id: uuid.UUID
    case_id: uuid.UUID
    agency: str
    author: str
    text: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Case:
    id: uuid.UUID
    kind: CaseKind
    phase: CasePhase
    channel: CaseChannel
    village_code: str
    destination_country: str | None
    owner_agency: str
    opened_by: str
    confidentiality: Confidentiality
    status: CaseStatus
    version: int
    people: tuple[Person, ...]
    reporter: Reporter
    description: str
    opened_at: dt.datetime
    triage_due_at: dt.datetime
    resolution_due_at: dt.datetime
    triaged_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    resolution: str | None = None
    closed_at: dt.datetime | None = None
    referrals: tuple[Referral, ...] = ()
    triage_escalated_at: dt.datetime | None = None
    resolution_escalated_at: dt.datetime | None = None

    def referral(self, referral_id: uuid.UUID) -> Referral:
        found = next((r for r in self.referrals if r.id == referral_id), None)
        if found is None:
            raise BadUserInput("no such referral in this case", field="referralId")
        return found

    @property
    def referred_to(self) -> tuple[str, ...]:
        """Agencies this case was ever referred to (they may see that it exists)."""
        return tuple(dict.fromkeys(r.to_agency for r in self.referrals if r.to_agency))

    @property
    def content_agencies(self) -> frozenset[str]:
        """Who may read a restricted case's identities and description: its owner and the agencies that accepted a
        referral (completed referrals were accepted first)."""
        accepted = {r.to_agency for r in self.referrals if r.to_agency and r.status in _ANSWERED_YES}
        return frozenset({self.owner_agency, *accepted})


_ANSWERED_YES = frozenset({ReferralStatus.ACCEPTED, ReferralStatus.COMPLETED})


@dataclass(frozen=True)
class OverdueItem:
    kind: OverdueKind
    due_at: dt.datetime
    held_by: str
    referral_id: uuid.UUID | None = None


def check_text(value: str | None, field: str, *, low: int, high: int, required: bool = True) -> str | None:
    """The text stripped of surrounding blanks, with BAD_USER_INPUT naming `field` when it is outside its bounds."""
    if value is None or not value.strip():
        if required:
            raise BadUserInput(f"{field} is required", field=field)
        return None
    text = value.strip()
    if not low <= len(text) <= high:
        raise BadUserInput(f"{field} must have {low} to {high} characters (it has {len(text)})", field=field)
    return text


def default_confidentiality(kind: CaseKind, people: tuple[Person, ...]) -> Confidentiality:
    """Trafficking cases and cases concerning a child are restricted unless the caller says otherwise."""
    if kind is CaseKind.TRAFFICKING_SUSPECTED or any(p.minor for p in people):
        return Confidentiality.RESTRICTED
    return Confidentiality.STANDARD


def _check_person(p: Person, i: int, year: int) -> Person:
    where = f"people.{i}"
    if p.role is PersonRole.UNREGISTERED:
        if p.id is not None:
            raise BadUserInput("an unregistered person has no registry id", field=f"{where}.id")
        name = check_text(p.name, f"{where}.name", low=1, high=200)
        if p.birth_year is not None and not year - 120 <= p.birth_year <= year:
            raise BadUserInput(f"birthYear must be between {year - 120} and {year}", field=f"{where}.birthYear")
        minor = p.minor or (p.birth_year is not None and year - p.birth_year < 18)
        return replace(p, name=name, minor=minor)
    if p.id is None:
        raise BadUserInput(f"a registered {p.role.value.lower().replace('_', ' ')} is named by id", field=f"{where}.id")
    if p.name is not None or p.birth_year is not None or p.sex is not None:
        raise BadUserInput("a registered person's data stays in the registry: give the id only", field=where)
    return p


def new_case(case: Case, year: int) -> Case:
    """The case as opened, checked: its text, people and reporter; confidentiality as given or its default."""
    if len(case.people) > MAX_PEOPLE:
        raise BadUserInput(f"a case concerns at most {MAX_PEOPLE} people", field="people")
    people = tuple(_check_person(p, i, year) for i, p in enumerate(case.people))
    ids = [p.id for p in people if p.id is not None]
    if len(set(ids)) != len(ids):
        raise BadUserInput("a person appears twice", field="people")
    if case.destination_country is not None and not _COUNTRY.match(case.destination_country):
        raise BadUserInput("destinationCountry is an ISO 3166 alpha-2 code such as MY", field="destinationCountry")
    if case.phase is CasePhase.ABROAD and case.destination_country is None:
        raise BadUserInput("a case abroad names the destination country", field="destinationCountry")
    r = case.reporter
    if r.anonymous:
        if r.name is not None or r.contact is not None:
            raise BadUserInput("an anonymous reporter has no name or contact", field="reporter")
        reporter = r
    else:
        reporter = Reporter(
            anonymous=False,
            name=check_text(r.name, "reporter.name", low=1, high=200),
            contact=check_text(r.contact, "reporter.contact", low=3, high=200, required=False),
            relation=check_text(r.relation, "reporter.relation", low=2, high=100, required=False),
        )
    description = check_text(case.description, "description", low=10, high=4000)
    assert description is not None
    return replace(case, people=people, reporter=reporter, description=description, version=1, status=CaseStatus.OPEN)


def _require(case: Case, allowed: frozenset[CaseStatus], doing: str) -> None:
    if case.status not in allowed:
        raise Conflict(f"a {case.status.value} case cannot be {doing}", reason="illegal_transition")


def triage(
    case: Case,
    now: dt.datetime,
    *,
    owner: str | None = None,
    kind: CaseKind | None = None,
    phase: CasePhase | None = None,
    confidentiality: Confidentiality | None = None,
    clocks: Clocks,
) -> Case:
    """Triage confirms (or corrects) kind, phase and confidentiality and names the agency that holds the case; a
    corrected kind moves the resolution target (counted from opening). A kind corrected to one restricted by default
    (suspected trafficking) restricts the case unless triage names its confidentiality: the default follows the kind
    the case turned out to be, never lowered without being asked."""
    _require(case, frozenset({CaseStatus.OPEN}), "triaged")
    new_kind = kind or case.kind
    due = clocks.resolution_due(new_kind, case.opened_at) if new_kind is not case.kind else case.resolution_due_at
    restricted_kind = default_confidentiality(new_kind, case.people) is Confidentiality.RESTRICTED
    if confidentiality is None and new_kind is not case.kind and restricted_kind:
        confidentiality = Confidentiality.RESTRICTED
    return replace(
        case,
        status=CaseStatus.TRIAGED,
        triaged_at=now,
        owner_agency=owner or case.owner_agency,
        kind=new_kind,
        phase=phase or case.phase,
        confidentiality=confidentiality or case.confidentiality,
        resolution_due_at=due,
        version=case.version + 1,
    )


def refer(case: Case, referral: Referral) -> Case:
    _require(case, REFERABLE, "referred")
    reason = check_text(referral.reason, "reason", low=3, high=1000)
    assert reason is not None
    for r in case.referrals:
        same = (r.to_agency, r.legal_aid_organisation_id) == (referral.to_agency, referral.legal_aid_organisation_id)
        if same and r.status in (ReferralStatus.PENDING, ReferralStatus.ACCEPTED):
            raise Conflict(f"the case is already referred to {r.target} ({r.status.value})", reason="already_referred")
    if referral.to_agency is not None and referral.to_agency == case.owner_agency:
        raise BadUserInput(f"{referral.to_agency} already holds the case", field="toAgency")
    status = case.status if case.status in (CaseStatus.IN_PROGRESS, CaseStatus.REFERRED) else CaseStatus.REFERRED
    return replace(
        case,
        status=status,
        referrals=(*case.referrals, replace(referral, reason=reason)),
        version=case.version + 1,
    )


def _with_referral(case: Case, changed: Referral, status: CaseStatus) -> Case:
    referrals = tuple(changed if r.id == changed.id else r for r in case.referrals)
    return replace(case, referrals=referrals, status=status, version=case.version + 1)


def _pending(case: Case, referral_id: uuid.UUID) -> Referral:
    r = case.referral(referral_id)
    if r.status is not ReferralStatus.PENDING:
        raise Conflict(f"the referral was already answered ({r.status.value})", reason="already_answered")
    if case.status not in REFERABLE:
        raise Conflict(f"the case is {case.status.value}", reason="illegal_transition")
    return r


def accept_referral(case: Case, referral_id: uuid.UUID, by: str, now: dt.datetime) -> Case:
    r = _pending(case, referral_id)
    accepted = replace(r, status=ReferralStatus.ACCEPTED, responded_at=now, responded_by=by)
    status = CaseStatus.IN_PROGRESS if case.status in (CaseStatus.REFERRED, CaseStatus.REOPENED) else case.status
    return _with_referral(case, accepted, status)


def decline_referral(case: Case, referral_id: uuid.UUID, by: str, reason: str, now: dt.datetime) -> Case:
    r = _pending(case, referral_id)
    text = check_text(reason, "reason", low=3, high=1000)
    declined = replace(r, status=ReferralStatus.DECLINED, responded_at=now, responded_by=by, decline_reason=text)
    others = [x for x in case.referrals if x.id != r.id]
    open_elsewhere = any(x.status in (ReferralStatus.PENDING, ReferralStatus.ACCEPTED) for x in others)
    # Declined by the last side that could act: the case is back with its holder, to be referred again.
    status = case.status if open_elsewhere or case.status is not CaseStatus.REFERRED else CaseStatus.TRIAGED
    return _with_referral(case, declined, status)


def complete_referral(case: Case, referral_id: uuid.UUID, outcome: str, now: dt.datetime) -> Case:
    r = case.referral(referral_id)
    if r.status is not ReferralStatus.ACCEPTED:
        raise Conflict(f"only an accepted referral gets an outcome (it is {r.status.value})", reason="not_accepted")
    text = check_text(outcome, "outcome", low=3, high=2000)
    return _with_referral(case, replace(r, status=ReferralStatus.COMPLETED, outcome=text, outcome_at=now), case.status)


def resolve(case: Case, resolution: str, now: dt.datetime) -> Case:
    _require(case, RESOLVABLE, "resolved")
    waiting = [r for r in case.referrals if r.status is ReferralStatus.PENDING]
    if waiting:
        raise Conflict(
            f"the referral to {waiting[0].target} still awaits an answer: it is accepted or declined first",
            reason="referral_pending",
        )
    text = check_text(resolution, "resolution", low=3, high=2000)
    return replace(case, status=CaseStatus.RESOLVED, resolved_at=now, resolution=text, version=case.version + 1)


def close(case: Case, now: dt.datetime) -> Case:
    _require(case, frozenset({CaseStatus.RESOLVED}), "closed")
    return replace(case, status=CaseStatus.CLOSED, closed_at=now, version=case.version + 1)


def reopen(case: Case, now: dt.datetime, *, clocks: Clocks) -> Case:
    """A resolved or closed case reopened: its resolution clock starts again from now."""
    _require(case, frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED}), "reopened")
    return replace(
        case,
        status=CaseStatus.REOPENED,
        resolved_at=None,
        closed_at=None,
        resolution_due_at=clocks.resolution_due(case.kind, now),
        resolution_escalated_at=None,
        version=case.version + 1,
    )


def holders(case: Case) -> tuple[str, ...]:
    """Who holds the case now: its owner and the agencies whose referral is pending or accepted."""
    held = [case.owner_agency]
    held += [r.to_agency for r in case.referrals if r.to_agency and r.status in _HOLDING]
    return tuple(dict.fromkeys(held))


_HOLDING = frozenset({ReferralStatus.PENDING, ReferralStatus.ACCEPTED})


def _clock_items(case: Case) -> list[OverdueItem]:
    """Every clock running on the case, overdue or not."""
    items: list[OverdueItem] = []
    if case.status is CaseStatus.OPEN:
        items.append(OverdueItem(OverdueKind.TRIAGE, case.triage_due_at, case.owner_agency))
    for r in case.referrals:
        if r.status is ReferralStatus.PENDING and case.status in REFERABLE:
            items.append(OverdueItem(OverdueKind.REFERRAL_RESPONSE, r.due_at, r.answering_agency, r.id))
    if case.status in ACTIVE:
        items.append(OverdueItem(OverdueKind.RESOLUTION, case.resolution_due_at, case.owner_agency))
    return items


def overdue_items(case: Case, now: dt.datetime) -> list[OverdueItem]:
    return [i for i in _clock_items(case) if i.due_at < now]


def next_due(case: Case) -> dt.datetime | None:
    """The earliest due time of the clocks running (stored with the case: `overdue` is `next_due < now`)."""
    return min((i.due_at for i in _clock_items(case)), default=None)
